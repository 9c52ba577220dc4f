"""A range of payload event times resolved to offsets per partition.

A partition is read from the first message stamped (Kafka time) at or after the start less a
lookback (a message is stamped when it is produced, never before the event it carries, so no
event of the range lies before it) up to its first event later than the end plus the same
lookback (events of one partition are in order up to that much). Only each message's
``event_time`` field is decoded. The range of a partition is then the offsets from its first
event inside ``[start, end)`` to its last, both included: a copy of it holds every event of
the range and, between them, whatever else was written there (events just outside the range,
messages that are not events), exactly as written.

A value that is not a JSON object with a numeric ``event_time`` (or is too large or too deeply
nested to decode), or whose time lies outside the
consumer's accepted range (a time in milliseconds, say), neither starts, extends nor ends a
partition's range; it is counted (``unreadable``).

>>> span = EventSpan(start=100.0, end=200.0, slack=10.0)
>>> for offset, t in enumerate([90.0, 120.0, None, 150.0, 205.0, 199.0, 260.0, 150.0]):
...     if span.add(offset, t):
...         break
>>> span.offsets(default=0), span.unreadable, offset
((1, 6), 1, 6)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec
from confluent_kafka import KafkaException, TopicPartition

from driftline.errors import DriftlineError
from driftline.intake import MAX_EVENT_BYTES, TimeRange
from driftline.kafka import Consumer

__all__ = [
    "EventRangeError",
    "EventSpan",
    "PartitionScan",
    "event_time_of",
    "scan_event_range",
]


class EventRangeError(DriftlineError):
    """A partition could not be scanned to the end of its range."""


class _Stamp(msgspec.Struct):
    event_time: float


_decoder = msgspec.json.Decoder(_Stamp)


def event_time_of(value: bytes | None, low: float = 0.0, high: float = math.inf) -> float | None:
    """The ``event_time`` of a message's value when it is a JSON object of at most
    :data:`~driftline.intake.MAX_EVENT_BYTES` with a number in ``[low, high]`` there; None
    otherwise (a value nested too deeply to decode included).

    >>> event_time_of(b'{"prediction_id": "p1", "event_time": 1700000000.5, "features": {}}')
    1700000000.5
    >>> event_time_of(b'not json'), event_time_of(None), event_time_of(b'{"event_time": 9}', 10)
    (None, None, None)
    """
    if not value or len(value) > MAX_EVENT_BYTES:
        return None
    try:
        moment = _decoder.decode(value).event_time
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return moment if low <= moment <= high else None


@dataclass
class EventSpan:
    """One partition's scan: the offsets of its first and last event in ``[start, end)``, and
    whether it has read past ``end + slack`` (an event that late ends the scan)."""

    start: float
    end: float
    slack: float
    first: int | None = None
    last: int | None = None
    unreadable: int = 0

    def add(self, offset: int, event_time: float | None) -> bool:
        """Take the next message of the partition; True when the scan can stop here."""
        if event_time is None:
            self.unreadable += 1
            return False
        if self.start <= event_time < self.end:
            if self.first is None:
                self.first = offset
            self.last = offset
            return False
        return event_time > self.end + self.slack

    def offsets(self, default: int) -> tuple[int, int]:
        """``(start, end)``, end exclusive; ``(default, default)`` when no event was inside."""
        if self.first is None or self.last is None:
            return default, default
        return self.first, self.last + 1


@dataclass(frozen=True)
class PartitionScan:
    """What the scan found in one partition: its offset range, and the messages read whose
    event time could not be used."""

    start: int
    end: int
    unreadable: int


def scan_event_range(
    consumer: Consumer,
    topic: str,
    watermarks: Mapping[int, tuple[int, int]],
    start: float | None,
    end: float | None,
    *,
    lookback: float,
    accepted: TimeRange,
    idle_timeout: float = 30.0,
    batch: int = 10_000,
    lookup: Callable[[int], Mapping[int, int | None]] | None = None,
) -> dict[int, PartitionScan]:
    """Partition -> its range of the event times ``[start, end)`` (None: open at that end);
    ``watermarks`` are the partitions to scan with their ``(low, high)`` offsets, read up to
    ``high``; ``lookup(time_ms)`` finds the first offset stamped at or after a time (default:
    the consumer's ``offsets_for_times``). The consumer is left unassigned."""
    low_time, high_time = accepted.bounds()
    begin = -math.inf if start is None else start
    finish = math.inf if end is None else end
    first: dict[int, int] = {p: low for p, (low, _high) in watermarks.items()}
    if start is not None:
        since = max(int((start - lookback) * 1000), 0)
        if lookup is None:
            found: Mapping[int, int | None] = consumer.offsets_for_times(
                topic, dict.fromkeys(watermarks, since))
        else:
            found = lookup(since)
        for p, (low, high) in watermarks.items():
            offset = found.get(p)
            first[p] = high if offset is None or offset < 0 else max(offset, low)
    spans = {p: EventSpan(begin, finish, lookback) for p in watermarks}
    open_ = {p: high for p, (_low, high) in watermarks.items() if first[p] < high}
    if open_:
        consumer.assign([TopicPartition(topic, p, first[p]) for p in open_])
    idle = 0.0
    try:
        while open_:
            try:
                messages = consumer.consume(batch, 0.5)
            except KafkaException as exc:
                raise EventRangeError(f"reading {topic}: {exc.args[0].str()}") from None
            if not messages:
                # a gap at a partition's end (a transaction marker) leaves no message there
                at = consumer.position([TopicPartition(topic, p) for p in open_])
                ended = [tp.partition for tp in at if tp.offset >= open_[tp.partition]]
                for p in ended:
                    del open_[p]
                if ended:
                    consumer.unassign([TopicPartition(topic, p) for p in ended])
                idle += 0.5
                if open_ and idle >= idle_timeout:
                    raise EventRangeError(
                        f"no message from {topic} for {idle_timeout:.0f}s while partitions "
                        f"{sorted(open_)} had not been scanned to their end")
                continue
            idle = 0.0
            done: set[int] = set()
            for msg in messages:
                p = msg.partition()
                high = open_.get(p)
                if high is None or p in done:
                    continue
                offset = msg.offset()
                if spans[p].add(offset, event_time_of(msg.value(), low_time, high_time)) or (
                        offset + 1 >= high):
                    done.add(p)
            for p in done:
                del open_[p]
            if done:
                consumer.unassign([TopicPartition(topic, p) for p in done])
    finally:
        if open_:
            consumer.unassign()
    out = {}
    for p, span in spans.items():
        s, e = span.offsets(default=first[p])
        out[p] = PartitionScan(s, e, span.unreadable)
    return out
