"""The publisher agent's logic without faust: partials in, reports and events out, acks in
offset order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import MagicMock

import msgspec

from driftline.events import DriftEvent, decode
from monitor.merging.concept import ConceptParams
from monitor.merging.merge import WindowMerger
from monitor.state.error_buckets import ErrorBuckets
from monitor.state.partition import Partial
from monitor.worker.metrics import PublisherMetrics
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

    merger = WindowMerger(partitions=1, profiles=lambda n, v: None,
                          concept_params=ConceptParams(warmup=0))
    publisher = WindowPublisher(merger, MagicMock(), reports=reports, drift_events=events,
                                drain=drain, position=position, read_back=read)
    return publisher, reports, events, position


def _errors(at: float, *, wrong: bool = True, through: float | None = None) -> bytes:
    """A partition's error bucket at ``at``: 40 pairs (offsets 40 to 79 of ``labels``), all
    wrong or all right, and how far its buckets are sent (default: past this one)."""
    buckets = ErrorBuckets(width=1.0, partition=0)
    buckets.add("m", "1", [at] * 40, [int(wrong)] * 40, "labels", list(range(40, 80)))
    [(_, _, share)] = buckets.advance(at + 1.0)
    return _encode(Partial(kind="errors", partition=0, watermark=None, model_name="m",
                           model_version="1", window_start=share.start,
                           window_end=share.end, buckets=[share],
                           concept_watermark=share.end if through is None else through))


def _detection(at: float) -> list[bytes]:
    """Error buckets whose second raises a concept detection as soon as it is fed."""
    return [_errors(at - 1.0, wrong=False), _errors(at)]


def _heartbeat(watermark: float) -> bytes:
    return _encode(Partial(kind="watermark", partition=0, watermark=watermark, caught_up=True))


def test_a_detection_is_published_and_every_partial_acked_in_order() -> None:
    publisher, reports, events, position = _publisher()
    acked: list[int] = []

    async def feed() -> None:
        for offset, raw in enumerate([_heartbeat(10.0), *_detection(20.0), b"{}"]):
            await publisher.take(FakeEvent(offset, raw, acked))

    asyncio.run(feed())
    assert acked == [0, 1, 2, 3]
    assert [key for key, _ in reports.sent] == [b"m"]  # the concept "window"
    assert len(events.sent) == 1 and b'"concept"' in events.sent[0][1]
    event = decode(DriftEvent, events.sent[0][1])  # with the bucket that fired it
    assert event.event_time == 20.0
    assert [(e.topic, e.partition, e.first_offset, e.last_offset)
            for e in event.evidence] == [("labels", 0, 40, 79)]
    assert position["0"] == b"0"  # written at most once a second


def test_error_buckets_are_acked_once_the_concept_detector_was_fed_them() -> None:
    publisher, _, _, _ = _publisher()
    acked: list[int] = []

    async def feed() -> None:
        # its buckets are sent through 25.0 only at offset 2 (a heartbeat of the partition)
        await publisher.take(FakeEvent(0, _errors(20.0, wrong=False, through=20.0), acked))
        await publisher.take(FakeEvent(1, _heartbeat(30.0), acked))
        assert acked == []  # held, and so is everything after it
        await publisher.take(FakeEvent(2, _encode(Partial(
            kind="watermark", partition=0, watermark=31.0, concept_watermark=25.0)), acked))

        # a partial of error buckets that holds none is done at once
        await publisher.take(FakeEvent(3, _encode(Partial(
            kind="errors", partition=0, watermark=None, model_name="m", model_version="2",
            buckets=[])), acked))

    asyncio.run(feed())
    assert acked == [0, 1, 2, 3]
    assert publisher.merger.concept.state("m", "1").detector.n == 40


def test_partials_stepped_over_are_read_back_before_the_next() -> None:
    publisher, _, events, position = _publisher(read_back=dict(zip((5, 6), _detection(30.0),
                                                                   strict=True)))
    position["0"] = b"4"  # the previous owner handled offset 4
    acked: list[int] = []
    asyncio.run(publisher.take(FakeEvent(7, _heartbeat(40.0), acked)))
    assert acked == [7]  # (5 and 6 were committed by faust already: not acked again)
    assert len(events.sent) == 1
    assert publisher.metrics.partials_read_back.inc.call_count == 2


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
    from prometheus_client import CollectorRegistry

    publisher, _, events, _ = _publisher()
    dead = FakeSink()
    publisher.dead_letters, publisher.source_topic = dead, "t.mon-partials"
    registry = CollectorRegistry()
    publisher.metrics = PublisherMetrics(registry)
    acked: list[int] = []
    hostile = [None, b"", _heartbeat(1.0) + b"," + _heartbeat(2.0), b'{"kind": 7}',
               _heartbeat(3.0)[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
               b"\xff\xfe"]

    async def feed() -> None:
        for offset, raw in enumerate(hostile):
            await publisher.take(FakeEvent(offset, raw, acked))  # type: ignore[arg-type]
        for offset, raw in enumerate(_detection(20.0), start=len(hostile)):
            await publisher.take(FakeEvent(offset, raw, acked))

    asyncio.run(feed())
    assert acked == list(range(len(hostile) + 2))
    letters = [msgspec.json.decode(value) for _, value in dead.sent]
    assert [x["source_offset"] for x in letters] == list(range(len(hostile)))
    assert all(x["error"].startswith("invalid Partial") for x in letters)
    assert "tombstone" in letters[0]["error"] and "nested too deeply" in letters[4]["error"]
    assert len(events.sent) == 1  # the valid detection after them was handled
    assert registry.get_sample_value("driftline_monitor_dead_lettered_total",
                                     {"topic": "t.mon-partials"}) == len(hostile)


def test_the_heartbeat_gauge_holds_when_the_newest_heartbeat_handled_was_sent() -> None:
    from prometheus_client import CollectorRegistry

    from monitor.worker.metrics import PublisherMetrics

    publisher, *_ = _publisher()
    registry = CollectorRegistry()
    publisher.metrics = PublisherMetrics(registry)
    name = "driftline_monitor_publisher_heartbeat_timestamp_seconds"
    acked: list[int] = []

    def beat(offset: int, sent_at: float | None) -> None:
        raw = _encode(Partial(kind="watermark", partition=0, watermark=10.0, caught_up=True,
                              sent_at=sent_at))
        asyncio.run(publisher.take(FakeEvent(offset, raw, acked)))

    assert registry.get_sample_value(name) == 0.0  # no heartbeat handled yet
    beat(0, 1_700_000_100.0)
    assert registry.get_sample_value(name) == 1_700_000_100.0
    beat(1, 1_700_000_090.0)  # an older one (read back after a rebalance) moves nothing
    beat(2, None)  # nor one that does not say when it was sent
    assert registry.get_sample_value(name) == 1_700_000_100.0
    beat(3, 1_700_000_101.5)
    assert registry.get_sample_value(name) == 1_700_000_101.5
