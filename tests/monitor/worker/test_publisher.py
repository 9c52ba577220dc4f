"""The publisher agent's logic without faust: partials in, reports and events out, acks in
offset order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import MagicMock

import msgspec

from driftline.events import DriftEvent, FeatureStatistic, OffsetRange, decode
from monitor.merging.merge import WindowMerger
from monitor.state.partition import Partial
from monitor.worker.publisher import WindowPublisher

_encode = msgspec.json.Encoder().encode


@dataclass
class FakeSink:
    sent: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def send(self, *, key: bytes, value: bytes) -> None:
        self.sent.append((key, value))


@dataclass
class FakeMessage:
    offset: int


@dataclass
class FakeEvent:
    """A faust stream event: its message's offset, its value, and whether it was acked."""

    offset: int
    value: bytes
    acked: list[int]

    @property
    def message(self) -> FakeMessage:
        return FakeMessage(self.offset)

    def ack(self) -> None:
        self.acked.append(self.offset)


def _publisher(read_back: dict[int, bytes] | None = None) -> tuple[WindowPublisher, FakeSink,
                                                                   FakeSink, dict[str, bytes]]:
    reports, events, position = FakeSink(), FakeSink(), {}
    stored = read_back or {}

    async def read(offsets: range) -> list[tuple[int, bytes]]:
        return [(at, stored[at]) for at in offsets if at in stored]

    async def drain() -> None:
        return None

    merger = WindowMerger(partitions=1, profiles=lambda n, v: None)
    publisher = WindowPublisher(merger, MagicMock(), reports=reports, drift_events=events,
                                drain=drain, position=position, read_back=read)
    return publisher, reports, events, position


def _detection(at: float) -> bytes:
    stat = FeatureStatistic(feature="error_rate", statistic="glr", value=0.4, threshold=0.0,
                            drifted=True, feature_type="metric")
    evidence = [OffsetRange(topic="labels", partition=0, first_offset=41, last_offset=41)]
    return _encode(Partial(kind="detection", partition=0, watermark=None, model_name="m",
                           model_version="1", event_time=at, detection=[stat],
                           evidence=evidence))


def _heartbeat(watermark: float) -> bytes:
    return _encode(Partial(kind="watermark", partition=0, watermark=watermark, caught_up=True))


def test_a_detection_is_published_and_every_partial_acked_in_order() -> None:
    publisher, reports, events, position = _publisher()
    acked: list[int] = []

    async def feed() -> None:
        for offset, raw in [(0, _heartbeat(10.0)), (1, _detection(20.0)), (2, b"{}")]:
            await publisher.take(FakeEvent(offset, raw, acked))

    asyncio.run(feed())
    assert acked == [0, 1, 2]
    assert [key for key, _ in reports.sent] == [b"m"]  # the concept "window"
    assert len(events.sent) == 1 and b'"concept"' in events.sent[0][1]
    event = decode(DriftEvent, events.sent[0][1])  # with the pair that fired it
    assert [(e.topic, e.partition, e.last_offset) for e in event.evidence] == [("labels", 0, 41)]
    assert position["0"] == b"0"  # written at most once a second


def test_partials_stepped_over_are_read_back_before_the_next() -> None:
    publisher, _, events, position = _publisher(read_back={6: _detection(30.0)})
    position["0"] = b"5"  # the previous owner handled offset 5
    acked: list[int] = []
    asyncio.run(publisher.take(FakeEvent(7, _heartbeat(40.0), acked)))
    assert acked == [7]  # (6 was committed by faust already: not acked again)
    assert len(events.sent) == 1
    publisher.metrics.partials_read_back.inc.assert_called_once()


def test_the_agent_runs_the_stream_without_faust_acks() -> None:
    publisher, *_ = _publisher()
    acked: list[int] = []

    class Stream:
        def noack(self) -> Stream:
            return self

        async def events(self) -> Any:
            for offset in range(3):
                yield FakeEvent(offset, _heartbeat(float(offset)), acked)

    asyncio.run(publisher.run(Stream()))
    assert acked == [0, 1, 2]


def test_partials_that_do_not_decode_are_dead_lettered_acked_and_the_stream_goes_on() -> None:
    publisher, _, events, _ = _publisher()
    dead = FakeSink()
    publisher.dead_letters, publisher.source_topic = dead, "t.mon-partials"
    acked: list[int] = []
    hostile = [None, b"", _heartbeat(1.0) + b"," + _heartbeat(2.0), b'{"kind": 7}',
               _heartbeat(3.0)[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
               b"\xff\xfe"]

    async def feed() -> None:
        for offset, raw in enumerate(hostile):
            await publisher.take(FakeEvent(offset, raw, acked))  # type: ignore[arg-type]
        await publisher.take(FakeEvent(len(hostile), _detection(20.0), acked))

    asyncio.run(feed())
    assert acked == list(range(len(hostile) + 1))
    letters = [msgspec.json.decode(value) for _, value in dead.sent]
    assert [x["source_offset"] for x in letters] == list(range(len(hostile)))
    assert all(x["error"].startswith("invalid Partial") for x in letters)
    assert "tombstone" in letters[0]["error"] and "nested too deeply" in letters[4]["error"]
    assert len(events.sent) == 1  # the valid detection after them was handled
