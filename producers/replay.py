"""``driftline replay``: copy a range of a topic to another topic, exactly.

Keys, values, headers and timestamps are copied as read; each source partition is read in order
and, when both topics have the same number of partitions, written to the same partition number
(otherwise by key, with driftline's murmur2 partitioner, which keeps the order per key). At
``max`` speed it is a batch consume and produce loop (large consume batches, lz4, long linger);
at a finite speed the partitions are merged by timestamp and each message is sent when its
time comes (:class:`~producers.timedmerge.TimedMerge`). The range is resolved to offsets once,
up front (:mod:`producers.bounds`); the manifest records them.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_END, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka import Producer as _ConfluentProducer

from driftline.errors import DriftlineError
from driftline.intake import TimeRange
from driftline.kafka import Consumer, Producer, create_internal_topics
from driftline.replay_manifest import (
    PartitionRange,
    PrefixReplayManifest,
    ReplayManifest,
    TimeBasis,
)
from driftline.settings import KafkaSettings
from driftline.topics import TOPICS, topic_names
from producers.bounds import Bound, parse_bound, parse_speed, resolve_range
from producers.eventrange import EventRangeError, scan_event_range
from producers.timedmerge import TimedMerge

__all__ = [
    "CONSUMER_OPTIONS",
    "PARTNERS",
    "PRODUCER_OPTIONS",
    "PrefixReplayRequest",
    "ReplayError",
    "ReplayRequest",
    "replay",
    "replay_topics",
    "resolve_topic",
    "target_config",
]

log = logging.getLogger(__name__)

# librdkafka settings of the copy (the benchmark measures its anchors with the same ones)
CONSUMER_OPTIONS: dict[str, Any] = {
    "fetch.max.bytes": 52_428_800,
    "max.partition.fetch.bytes": 10_485_760,
    "fetch.wait.max.ms": 100,
    "queued.min.messages": 500_000,
    "queued.max.messages.kbytes": 65_536,
}
PRODUCER_OPTIONS: dict[str, Any] = {
    "enable.idempotence": True,  # retries never reorder or duplicate within a partition
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "batch.num.messages": 100_000,
    "queue.buffering.max.messages": 2_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "partitioner": "murmur2_random",
    "delivery.report.only.error": True,
}
# A topic -> the topic its events follow: a label arrives after its prediction, so a copy of
# both takes labels up to the partner window past the end of the range.
PARTNERS: dict[str, str] = {"labels": "predictions"}
# Accepted event times when the caller names none: the services' defaults (2000-01-01 on,
# at most ten minutes ahead of the clock).
_DEFAULT_ACCEPTED = TimeRange(946_684_800.0, 600.0)
_BATCH = 50_000
_TIMED_HIGH = 50_000  # messages buffered per partition before it is paused (finite speed)


class ReplayError(DriftlineError):
    """A replay could not run as asked."""


@dataclass(frozen=True)
class ReplayRequest:
    """One replay, as given on the command line. ``time``: what the times of ``start`` and
    ``end`` mean (payload event time, or Kafka's timestamps); ``end_extra``: seconds added to
    a time ``end`` (a partner's window); ``lookback``: how far before ``start`` (Kafka time)
    the event-time scan starts, and how far out of order events of one partition may be."""

    topic: str
    to_topic: str
    start: str = "earliest"
    end: str = "latest"
    speed: str = "max"
    partitions: tuple[int, ...] | None = None
    keep_timestamps: bool = True
    create_target: bool = True
    idle_timeout: float = 30.0
    time: TimeBasis = "event"
    end_extra: float = 0.0
    lookback: float = 60.0
    into_live: bool = False


@dataclass(frozen=True)
class PrefixReplayRequest:
    """Several topics (driftline names, or names as given) copied to ``to_prefix`` + name,
    over one range; a topic's partner (:data:`PARTNERS`) extends its range's end by
    ``partner_window`` seconds when both are copied."""

    topics: tuple[str, ...]
    to_prefix: str
    start: str = "earliest"
    end: str = "latest"
    speed: str = "max"
    time: TimeBasis = "event"
    partner_window: float = 86_400.0
    keep_timestamps: bool = True
    create_target: bool = True
    into_live: bool = False
    idle_timeout: float = 30.0


def resolve_topic(name: str, settings: KafkaSettings) -> str:
    """A driftline logical topic name (``predictions``) gets the configured prefix; any
    other name is used as given.

    >>> resolve_topic("predictions", KafkaSettings(topic_prefix="prod."))
    'prod.predictions'
    >>> resolve_topic("prod.predictions", KafkaSettings(topic_prefix="prod."))
    'prod.predictions'
    """
    return topic_names(settings.topic_prefix).get(name, name)


class _Tally:
    """What was copied from each source partition."""

    def __init__(self, partitions: list[int]) -> None:
        self.count = dict.fromkeys(partitions, 0)
        self.first: dict[int, tuple[int, int]] = {}
        self.last: dict[int, tuple[int, int]] = {}

    @property
    def total(self) -> int:
        return sum(self.count.values())


@dataclass
class _Copier:
    consumer: Consumer
    producer: _ConfluentProducer  # the raw client: the copy loop calls it per message
    source: str
    target: str
    same: bool  # same partition number in the target
    keep_ts: bool
    idle_timeout: float
    on_progress: Callable[[int], None] | None
    _last_progress: float = 0.0

    def _progress(self, tally: _Tally) -> None:
        now = time.monotonic()
        if self.on_progress is not None and now - self._last_progress >= 0.25:
            self._last_progress = now
            self.on_progress(tally.total)

    def _close_finished(self, open_: dict[int, int]) -> list[int]:
        """Close partitions the consumer has read past the end of (gaps at the end of a range,
        such as transaction markers, leave no message at ``end - 1``)."""
        if not open_:
            return []
        positions = self.consumer.position([TopicPartition(self.source, p) for p in open_])
        finished = [tp.partition for tp in positions if tp.offset >= open_[tp.partition]]
        self._unassign(open_, finished)
        return finished

    def _unassign(self, open_: dict[int, int], partitions: list[int]) -> None:
        for p in partitions:
            del open_[p]
        if partitions:
            self.consumer.unassign(TopicPartition(self.source, p, OFFSET_END) for p in partitions)

    def _consume(self, open_: dict[int, int], timeout: float, idle: list[float]) -> list[Message]:
        try:
            msgs = self.consumer.consume(_BATCH, timeout)
        except KafkaException as exc:
            raise ReplayError(f"reading {exc.args[0].str()}") from None
        if msgs:
            idle[0] = 0.0
            return msgs
        self._close_finished(open_)
        idle[0] += timeout
        if open_ and idle[0] >= self.idle_timeout:
            raise ReplayError(
                f"no message from {self.source} for {self.idle_timeout:.0f}s while partitions "
                f"{sorted(open_)} had not reached the end of the range"
            )
        return []

    def _produce(self, msg: Message, partition: int) -> None:
        ts_type, ts = msg.timestamp()
        kwargs: dict[str, Any] = {}
        if self.same:
            kwargs["partition"] = partition
        if self.keep_ts and ts_type != 0:  # 0: TIMESTAMP_NOT_AVAILABLE
            kwargs["timestamp"] = ts
        headers = msg.headers()
        if headers:
            kwargs["headers"] = headers
        while True:
            try:
                self.producer.produce(self.target, msg.value(), msg.key(), **kwargs)
                return
            except BufferError:
                self.producer.poll(0.05)

    def copy_max(self, ranges: dict[int, tuple[int, int]], tally: _Tally) -> None:
        """As fast as possible: batches straight from consume to produce."""
        open_ = {p: end for p, (start, end) in ranges.items() if end > start}
        if not open_:
            return
        self.consumer.assign([TopicPartition(self.source, p, ranges[p][0]) for p in open_])
        count, first, last = tally.count, tally.first, tally.last
        produce, poll, target, same, keep_ts = (
            self.producer.produce, self.producer.poll, self.target, self.same, self.keep_ts
        )
        idle = [0.0]
        while open_:
            msgs = self._consume(open_, 0.5, idle)
            done: list[int] = []
            for msg in msgs:
                p = msg.partition()
                end = open_.get(p)
                offset = msg.offset()
                if end is None or offset >= end:
                    continue
                ts_type, ts = msg.timestamp()
                try:
                    produce(
                        target,
                        msg.value(),
                        msg.key(),
                        partition=p if same else -1,
                        timestamp=ts if keep_ts and ts_type else 0,
                        headers=msg.headers(),
                    )
                except BufferError:
                    poll(0.05)
                    self._produce(msg, p)
                count[p] += 1
                if p not in first:
                    first[p] = (offset, ts)
                last[p] = (offset, ts)
                if offset >= end - 1:
                    done.append(p)
            poll(0)
            self._unassign(open_, [p for p in set(done) if p in open_])
            if msgs:
                self._close_finished(open_)
            self._progress(tally)

    def copy_timed(self, ranges: dict[int, tuple[int, int]], tally: _Tally, speed: float) -> None:
        """At ``speed`` x real time, partitions merged by timestamp."""
        open_ = {p: end for p, (start, end) in ranges.items() if end > start}
        if not open_:
            return
        self.consumer.assign([TopicPartition(self.source, p, ranges[p][0]) for p in open_])
        merge: TimedMerge[Message] = TimedMerge(list(open_), speed)
        paused: set[int] = set()
        idle = [0.0]
        while not merge.done:
            if open_ and (merge.starving or len(paused) < len(open_)):
                msgs = self._consume(open_, 0.1 if merge.starving else 0.0, idle)
                for msg in msgs:
                    p, offset = msg.partition(), msg.offset()
                    end = open_.get(p)
                    if end is None or offset >= end:
                        continue
                    merge.add(p, msg.timestamp()[1], msg)
                    if offset >= end - 1:
                        self._unassign(open_, [p])
                for p in list(merge.starving):
                    if p not in open_:
                        merge.finish(p)
                for p in list(open_):
                    if p not in paused and merge.buffered(p) >= _TIMED_HIGH:
                        self.consumer.pause([TopicPartition(self.source, p)])
                        paused.add(p)
                    elif p in paused and merge.buffered(p) < _TIMED_HIGH // 2:
                        self.consumer.resume([TopicPartition(self.source, p)])
                        paused.discard(p)
            for p in [p for p in merge.starving if p not in open_]:
                merge.finish(p)
            for msg in merge.pop_ready(time.monotonic()):
                p, offset = msg.partition(), msg.offset()
                self._produce(msg, p)
                ts = msg.timestamp()[1]
                tally.count[p] += 1
                tally.first.setdefault(p, (offset, ts))
                tally.last[p] = (offset, ts)
            self.producer.poll(0)
            self._progress(tally)
            due = merge.next_due
            if due is not None:
                time.sleep(min(max(0.0, due - time.monotonic()), 0.05))


def target_config(name: str, keep_timestamps: bool) -> dict[str, str]:
    """The config a new target gets: a driftline topic's under any prefix (the longest table
    name ``name`` ends with), and no time retention when it keeps the source's timestamps (its
    messages are history: time retention would delete them at the broker's next check).

    >>> target_config("bt1.model-updates", keep_timestamps=False)["cleanup.policy"]
    'compact'
    >>> target_config("bt1.labels", keep_timestamps=True)
    {'retention.ms': '-1'}
    >>> target_config("scratch", keep_timestamps=False)
    {}
    """
    specs = sorted((t for t in TOPICS if name.endswith(t.name)), key=lambda t: -len(t.name))
    config = dict(specs[0].config) if specs else {}
    if keep_timestamps:
        config["retention.ms"] = "-1"
    return config


def _ensure_target(
    consumer: Consumer, settings: KafkaSettings, name: str, partitions: int, create: bool,
    keep_timestamps: bool,
) -> int:
    """The target's partition count, creating it (with the source's count and
    :func:`target_config`) when asked."""
    with contextlib.suppress(KafkaException):
        return len(consumer.partitions(name))
    if not create:
        raise ReplayError(f"target topic {name!r} does not exist (drop --no-create to create it)")
    try:
        config = target_config(name, keep_timestamps)
        create_internal_topics(settings, {name: (partitions, config)})
    except KafkaException as exc:
        raise ReplayError(f"cannot create target topic {name!r}: {exc}") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(KafkaException):
            found = consumer.partitions(name)
            if found:
                return len(found)
        time.sleep(0.1)
    raise ReplayError(f"target topic {name!r} was created but did not appear within 30s")


def _refuse_live(settings: KafkaSettings, target: str, into_live: bool) -> None:
    """ReplayError when ``target`` is one of the live topics and ``into_live`` is not set."""
    if into_live or target not in set(topic_names(settings.topic_prefix).values()):
        return
    raise ReplayError(
        f"{target} is a live driftline topic (prefix {settings.topic_prefix!r}): a replay into "
        "it mixes history with live traffic and the live monitor would judge it again; copy "
        "to another topic or prefix, or pass --into-live if that is what you want")


def _high_watermarks(consumer: Consumer, topic: str, timeout: float = 30.0) -> dict[int, int]:
    """Partition -> high watermark, asked again while a new topic's leaders settle."""
    try:
        return {p: high for p, (_low, high) in consumer.topic_watermarks(topic, timeout).items()}
    except KafkaException as exc:
        raise ReplayError(f"{topic}: no partition leader within {timeout:.0f}s ({exc})") from None


def replay(
    settings: KafkaSettings,
    request: ReplayRequest,
    *,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    producer_options: dict[str, Any] | None = None,
    accepted: TimeRange | None = None,
) -> ReplayManifest:
    """Copy ``request``'s range and return the manifest (not yet written anywhere).

    ``on_plan(n)`` is told the most messages the range can hold once it is resolved;
    ``on_progress(copied)`` is called a few times a second while copying. ``accepted``: the
    event times the event-time scan trusts (default: the services' defaults).
    """
    start, end = parse_bound(request.start), parse_bound(request.end)
    speed = parse_speed(request.speed)
    by_event = request.time == "event" and "time" in (start.kind, end.kind)
    if by_event and "offsets" in (start.kind, end.kind):
        raise ReplayError(
            "a range by event time has times, earliest or latest at both ends; give "
            "--time kafka to mix offsets with times")
    if request.end_extra and end.kind == "time" and not by_event:
        end = Bound("time", time_ms=(end.time_ms or 0) + round(request.end_extra * 1000),
                    text=end.text)
    source = resolve_topic(request.topic, settings)
    target = resolve_topic(request.to_topic, settings)
    if source == target:
        raise ReplayError(f"--to-topic must differ from --topic ({source})")
    _refuse_live(settings, target, request.into_live)
    consumer = Consumer(
        settings, f"driftline-replay-{uuid.uuid4().hex[:12]}", commit="manual",
        offset_reset="error",  # a range that vanished under us is an error, not a skip
        strict=True, options=CONSUMER_OPTIONS,
    )
    producer: Producer | None = None
    failures: list[str] = []

    def on_error(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    try:
        try:
            all_partitions = consumer.partitions(source)
        except KafkaException:
            all_partitions = []
        if not all_partitions:
            raise ReplayError(f"source topic {source!r} does not exist")
        partitions = list(request.partitions) if request.partitions else all_partitions
        unknown = sorted(set(partitions) - set(all_partitions))
        if unknown:
            raise ReplayError(
                f"{source} has partitions {all_partitions[0]}..{all_partitions[-1]}; "
                f"no partition {', '.join(map(str, unknown))}"
            )
        marks = {p: consumer.watermarks(source, p) for p in partitions}

        def lookup(time_ms: int) -> dict[int, int | None]:
            found = consumer.offsets_for_times(source, dict.fromkeys(partitions, time_ms))
            return {p: (offset if offset >= 0 else None) for p, offset in found.items()}

        event_from = event_to = None
        unreadable = 0
        if by_event:
            event_from = start.time_ms / 1000 if start.time_ms is not None else None
            event_to = (end.time_ms / 1000 + request.end_extra
                        if end.time_ms is not None else None)
            try:
                scans = scan_event_range(
                    consumer, source, marks, event_from, event_to,
                    lookback=request.lookback, accepted=accepted or _DEFAULT_ACCEPTED,
                    idle_timeout=request.idle_timeout, lookup=lookup)
            except EventRangeError as exc:
                raise ReplayError(str(exc)) from None
            ranges = {p: (scan.start, scan.end) for p, scan in sorted(scans.items())}
            unreadable = sum(scan.unreadable for scan in scans.values())
        else:
            ranges = resolve_range(start, end, marks, lookup)
        if on_plan is not None:
            on_plan(sum(e - s for s, e in ranges.values()))
        target_count = _ensure_target(
            consumer, settings, target, len(all_partitions), request.create_target,
            request.keep_timestamps,
        )
        same = target_count == len(all_partitions)
        before = _high_watermarks(consumer, target)
        producer = Producer(settings, options={
            **PRODUCER_OPTIONS, **(producer_options or {}), "on_delivery": on_error,
        })
        copier = _Copier(
            consumer, producer.client, source, target, same, request.keep_timestamps,
            request.idle_timeout, on_progress,
        )
        tally = _Tally(partitions)
        began = time.monotonic()
        if speed is None:
            copier.copy_max(ranges, tally)
        else:
            copier.copy_timed(ranges, tally, speed)
        left = producer.flush(60)
        elapsed = time.monotonic() - began
        if left or failures:
            raise ReplayError(
                f"{left} messages not delivered to {target} and {len(failures)} failed"
                + (f" (first: {failures[0]})" if failures else "")
                + "; the target holds a partial copy"
            )
        after = _high_watermarks(consumer, target)
    finally:
        consumer.close()
    notes = []
    if unreadable:
        notes.append(f"{unreadable} messages read while resolving the range had no usable "
                     "event time; they are copied only where they lie between events of "
                     "the range")
    if start.kind == "offsets" or end.kind == "offsets":
        for p in ranges:
            low, high = marks[p]
            asked_s = start.offsets.get(p, start.offsets.get(-1)) if start.offsets else None
            if asked_s is not None and asked_s < low:
                notes.append(f"partition {p}: offsets below {low} are gone (retention); "
                             f"started at {low}, not {asked_s}")
            asked_e = end.offsets.get(p, end.offsets.get(-1)) if end.offsets else None
            if asked_e is not None and asked_e > high:
                notes.append(f"partition {p}: the range ends at the high watermark {high}")
    return ReplayManifest(
        replay_id=uuid.uuid4().hex[:12],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source_topic=source,
        target_topic=target,
        requested_from=request.start,
        requested_to=request.end,
        speed=request.speed,
        time="event" if by_event else "kafka",
        event_from=event_from,
        event_to=event_to,
        partitioning="same-partition" if same else "by-key",
        ranges=[
            PartitionRange(
                partition=p,
                start_offset=s,
                end_offset=e,
                count=tally.count[p],
                first_offset=tally.first[p][0] if p in tally.first else None,
                last_offset=tally.last[p][0] if p in tally.last else None,
                first_timestamp_ms=tally.first[p][1] if p in tally.first else None,
                last_timestamp_ms=tally.last[p][1] if p in tally.last else None,
                target_partition=p if same else None,
            )
            for p, (s, e) in sorted(ranges.items())
        ],
        elapsed_s=round(elapsed, 6),
        target_end_offsets_before=before,
        target_end_offsets_after=after,
        notes=notes,
    )


def _logical(name: str, settings: KafkaSettings) -> str:
    """A topic's name without the configured prefix (names outside it as given)."""
    prefix = settings.topic_prefix
    return name[len(prefix):] if prefix and name.startswith(prefix) else name


def replay_topics(
    settings: KafkaSettings,
    request: PrefixReplayRequest,
    *,
    on_plan: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    accepted: TimeRange | None = None,
) -> PrefixReplayManifest:
    """Copy each of ``request.topics`` (over the same range; a partner's range ends
    ``partner_window`` later) to ``to_prefix`` + its name, one after another, and return the
    manifest of them all. ``on_plan``/``on_progress`` count every topic together."""
    names = [_logical(t.strip(), settings) for t in request.topics if t.strip()]
    if not names:
        raise ReplayError("--topics names no topic")
    if len(set(names)) != len(names):
        raise ReplayError(f"--topics names a topic twice ({', '.join(request.topics)})")
    if request.to_prefix == settings.topic_prefix and not request.into_live:
        raise ReplayError(
            f"--to-prefix {request.to_prefix!r} is the live prefix: a replay into it mixes "
            "history with live traffic; choose another prefix, or pass --into-live if that "
            "is what you want")
    if request.partner_window < 0:
        raise ReplayError("--partner-window cannot be negative")
    start, end = parse_bound(request.start), parse_bound(request.end)
    planned: dict[str, int] = {}
    done = 0
    manifests: list[ReplayManifest] = []
    for name in names:
        partner = PARTNERS.get(name)
        extra = request.partner_window if partner in names else 0.0

        def plan(n: int, name: str = name) -> None:
            planned[name] = n
            if on_plan is not None:
                on_plan(sum(planned.values()))

        def progress(copied: int, before: int = done) -> None:
            if on_progress is not None:
                on_progress(before + copied)

        manifest = replay(settings, ReplayRequest(
            topic=name, to_topic=f"{request.to_prefix}{name}", start=request.start,
            end=request.end, speed=request.speed, keep_timestamps=request.keep_timestamps,
            create_target=request.create_target, idle_timeout=request.idle_timeout,
            time=request.time, end_extra=extra, into_live=request.into_live,
        ), on_plan=plan, on_progress=progress, accepted=accepted)
        manifests.append(manifest)
        done += manifest.count
        if on_progress is not None:
            on_progress(done)
    by_event = request.time == "event" and "time" in (start.kind, end.kind)
    return PrefixReplayManifest(
        replay_id=uuid.uuid4().hex[:12],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        source_prefix=settings.topic_prefix,
        target_prefix=request.to_prefix,
        requested_from=request.start,
        requested_to=request.end,
        time="event" if by_event else "kafka",
        event_from=start.time_ms / 1000 if by_event and start.time_ms is not None else None,
        event_to=end.time_ms / 1000 if by_event and end.time_ms is not None else None,
        partner_window=request.partner_window,
        topics=manifests,
    )
