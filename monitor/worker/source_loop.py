"""The monitor's hot path: ``predictions`` and ``labels`` read in batches, per partition.

One :class:`SourceLoop` runs in a thread of the monitor worker or in a source process of its
own (:mod:`monitor.worker.source_host`). Its consumer is a member of the group
``<app id>-source`` and subscribes to both topics with the range assignor, so the same
partition numbers of both (co-partitioned) topics come to the same worker and the join stays
local. Each run of consecutive messages of one topic partition is decoded in one call,
parked behind what its partition has waiting (:mod:`monitor.state.align`) and applied in one
call to its partition's :class:`~monitor.state.partition.PartitionState`; joined pairs count
in its error buckets, which the publisher's concept detectors read. Outputs (``labeled``,
partials, dead letters) go through one idempotent producer. Every ``checkpoint_interval``
seconds, and when partitions are revoked or the worker stops, the states are checkpointed
(:mod:`monitor.worker.checkpoint`) and only then are the source offsets committed; a
partition taken over resumes from its checkpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from itertools import groupby
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np
from confluent_kafka import Message, TopicPartition

from driftline.errors import ContractError
from driftline.events import (
    LabeledEvent,
    LabelEvent,
    PredictionEvent,
    encode_labeled,
)
from driftline.intake import decode_run
from driftline.kafka import Consumer, Producer, create_internal_topics
from driftline.kafka.admin import partition_counts
from driftline.kafka.deadletter import DeadLetterWriter
from driftline.kafka.messages import each
from driftline.partitioning import partitions_of
from driftline.settings import KafkaSettings
from driftline.topics import service_topic
from monitor.settings import MonitorSettings
from monitor.state.align import admit
from monitor.state.live_versions import LiveVersions
from monitor.state.partition import (
    Partial,
    PartitionConfig,
    PartitionState,
    finite_or_none,
)
from monitor.worker.checkpoint import Checkpointer
from monitor.worker.metrics import SourceMetrics

__all__ = ["SourceLoop", "create_own_topics", "internal_topics"]

log = logging.getLogger(__name__)

_partial_encoder = msgspec.json.Encoder()
_event_time = attrgetter("event_time")
_SIBLINGS_WAIT = 10.0  # seconds, from the first assignment (see _wait_for_siblings)
ProfileLookup = Callable[[str, str], Any]


def internal_topics(app_id: str) -> dict[str, str]:
    """Names of the monitor's own topics (``app_id`` carries the topic prefix)."""
    return {
        suffix: service_topic(app_id, suffix)
        for suffix in ("partials", "reports", "join-changelog", "checkpoints")
    }


def create_own_topics(kafka: KafkaSettings, app_id: str) -> None:
    """Create the topics the source loop writes (the join changelog and the checkpoints,
    compacted, one partition per source partition; the partials, one partition) unless they
    exist. The worker calls it before faust joins its group too: a ``partials`` created after
    faust's first assignment is left unassigned, and no window is ever judged."""
    own = internal_topics(app_id)
    create_internal_topics(kafka, {
        own["join-changelog"]: (kafka.partitions, {"cleanup.policy": "compact"}),
        own["checkpoints"]: (kafka.partitions, {"cleanup.policy": "compact"}),
        own["partials"]: (1, {}),
    })


class SourceLoop:
    """Reads and applies the source topics for the partitions this worker owns."""

    def __init__(
        self,
        settings: MonitorSettings,
        app_id: str,
        profiles: ProfileLookup,
        metrics: SourceMetrics,
        instance: int = 0,
        siblings: int = 1,
        producer: Any = None,
    ) -> None:
        k = settings.kafka
        self.app_id = app_id
        self.instance = instance  # which of the worker's source processes (0: the first)
        self.siblings = siblings  # how many the worker runs
        self.settings = settings
        self.kafka = k
        self.profiles = profiles
        self.metrics = metrics
        self.batch_size = settings.source_batch
        self._times = settings.time_range()
        self.predictions, self.labels = k.topic("predictions"), k.topic("labels")
        self.labeled = k.topic("labeled")
        own = internal_topics(app_id)
        self.partials, self.changelog = own["partials"], own["join-changelog"]
        self.checkpoints = own["checkpoints"]
        self.group = f"{app_id}-source"
        self.config = PartitionConfig(settings.windows(), label_wait=settings.label_wait,
                                      join_ttl=settings.join_ttl,
                                      join_retention=settings.join_retention,
                                      threshold=settings.positive_threshold,
                                      concept_bucket=settings.concept_bucket)
        self.write_labeled = True  # encode joined pairs for ``labeled`` (False: count them)
        self.states: dict[int, PartitionState] = {}
        # What was read and not applied yet, in order, per partition and topic (see
        # monitor.state.align); the raw bytes parked per topic partition; the topic partitions
        # paused for parking too much
        self._parked: dict[int, dict[str, deque[_Run | _Bad | _Moved]]] = {}
        self._parked_bytes: Counter[tuple[str, int]] = Counter()
        self._paused: set[tuple[str, int]] = set()
        # Delivery reports only for failures: a Python callback per success would cost more
        # than the message; any failure still marks the producer (checked at checkpoints).
        # A checkpoint hands librdkafka an interval's slot writes at once: a queue that holds
        # them all is not refused and retried piecemeal.
        # (``producer``: another sink with the same methods, such as a backtest's, which
        # keeps everything in memory)
        self._producer = producer if producer is not None else Producer(k, options={
            "delivery.report.only.error": True,
            "queue.buffering.max.messages": 2_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        })
        self._dead = DeadLetterWriter(self._producer, k.topic("dead-letter"), "monitor",
                                      prefix=k.topic_prefix)
        self._consumer: Consumer | None = None
        # partitions of each source topic, read at each assignment: a message whose key
        # hashes (murmur2) to another partition than the one it was read from is moved there
        self._partition_counts: dict[str, int] = {}
        self._checkpoints = Checkpointer(k, self.changelog, self.checkpoints, metrics,
                                         settings.changelog_segment_bytes)
        self._last_checkpoint = time.monotonic()
        self._next_heartbeat = 0.0
        # Set at the first assignment: until then, one holding more than its share of the
        # partitions waits (paused) for its sibling source processes to join the group
        self._settle_by: float | None = None
        self._waiting = False
        # which model versions are live (their series exist); late events counted so far
        # per (partition, model/version key); models whose late counter exists
        self.versions = LiveVersions(settings.version_horizon())
        self._late_seen: dict[tuple[int, str], int] = {}
        self._late_models: set[str] = set()
        metrics.start_topics(self.predictions, self.labels, self.changelog, self.checkpoints)

    # -- running ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Read, apply and checkpoint until ``stop`` is set; a last checkpoint on the way
        out. Any error propagates (the worker stops; a restart resumes at the checkpoint)."""
        create_own_topics(self.kafka, self.app_id)
        # commits follow checkpoints; any consumer error stops the worker, whose restart
        # resumes at the last checkpoint
        consumer = self._consumer = Consumer(self.kafka, self.group, commit="manual",
                                             strict=True, options=self.group_options())
        consumer.subscribe([self.predictions, self.labels], on_assign=self._assigned,
                           on_revoke=self._revoked, on_lost=self._lost)
        try:
            while not stop.is_set():
                messages = consumer.consume(self.batch_size, 0.1)
                if self._waiting and time.monotonic() >= (self._settle_by or 0.0):
                    log.info("the other source processes did not join; reading anyway")
                    consumer.resume(consumer.assignment())
                    self._waiting = False
                if messages or self._parked:
                    self.apply(messages or [])
                now = time.monotonic()
                if now >= self._next_heartbeat:
                    self._next_heartbeat = now + 1.0
                    self._heartbeats()
                if now - self._last_checkpoint >= self.settings.checkpoint_interval:
                    self.checkpoint(list(self.states))
                self._producer.poll(0)
            self.checkpoint(list(self.states))
        except BaseException:
            # leave the group without checkpointing a state in doubt
            self._checkpoints.broken = True
            raise
        finally:
            try:
                consumer.close()  # leaves the group (its revoke checkpoints what is left)
            finally:
                self._producer.close()

    def group_options(self) -> dict[str, object]:
        """The source consumer's librdkafka options beside the connection's: range assignment
        over the two co-partitioned topics, large fetches, the worker's session timeout and,
        with ``DRIFTLINE_MONITOR_INSTANCE_ID``, this loop's static member id."""
        instance = self.settings.monitor_instance_id
        return {
            "partition.assignment.strategy": "range",  # co-partitioned: p of both topics
            "fetch.max.bytes": 52_428_800,
            "queued.max.messages.kbytes": 262_144,
            # a rebalance (a sibling source process or another worker joining) reaches this
            # member within half a second, not three: until it does, this one reads partitions
            # whose state it must then hand over
            "heartbeat.interval.ms": 500,
            "session.timeout.ms": round(self.settings.monitor_session_timeout * 1000),
            **({"group.instance.id": self._instance_id(instance)} if instance else {}),
        }

    def _instance_id(self, worker: str) -> str:
        """The static group member id of this source loop: one per source process of the
        worker (two members with one id fence each other)."""
        return f"{worker}-source" if not self.instance else f"{worker}-source-{self.instance}"

    def apply(self, messages: list[Message]) -> None:
        """Apply one batch of source messages, then send the partials it closed.

        A fetch hands back messages in runs of one topic partition; each run is decoded in
        one call (a run holding a message that does not decode is taken message by message,
        the bad ones to the dead-letter topic) and parked behind what its topic partition
        has waiting; then every partition applies what it may of its two queues (see
        :mod:`monitor.state.align`), each run in one call to its partition state."""
        out = _Applied(Counter(), set(), [])
        for topic, partition, run in _runs(messages):
            queues = self._parked.get(partition)
            if queues is None:
                if partition not in self.states:  # revoked while the batch was in flight
                    continue
                queues = self._parked[partition] = {self.predictions: deque(),
                                                    self.labels: deque()}
            queue = queues[topic]
            for part in self._routed(topic, partition, run):
                queue.append(part)
                if isinstance(part, _Run):
                    self._parked_bytes[(topic, partition)] += part.size
        for partition in list(self._parked):
            self._drain(partition, out)
        self._pace()
        if out.labeled:
            self._producer.produce_many(self.labeled, out.labeled)
        for partition in out.touched:
            for partial in self.states[partition].close():
                self._send(partial)
        for (topic, outcome), n in out.counts.items():
            self.metrics.events.labels(topic, outcome).inc(n)
        if out.labeled:
            self.metrics.labeled.inc(len(out.labeled))

    def _drain(self, partition: int, out: _Applied) -> None:
        """Apply what may go of the partition's parked runs, alternating between its topics
        until neither can go on; a run is split where its events stop being admitted."""
        state, queues = self.states[partition], self._parked[partition]
        pairs = ((self.predictions, self.labels), (self.labels, self.predictions))
        progress = True
        while progress:
            progress = False
            for topic, other in pairs:
                queue = queues[topic]
                while queue:
                    part = queue[0]
                    if isinstance(part, _Run):
                        n = self._admitted(state, topic, other, part, queues[other])
                        if not n:
                            break
                        if n < len(part.offsets):
                            part, queue[0] = _split(part, n)
                        else:
                            queue.popleft()
                        self._parked_bytes[(topic, partition)] -= part.size
                    else:
                        queue.popleft()
                    self._apply_part(state, topic, part, out)
                    progress = True
        if not (queues[self.predictions] or queues[self.labels]):
            del self._parked[partition]

    def _admitted(self, state: PartitionState, topic: str, other: str, part: _Run,
                  others: deque[_Run | _Bad | _Moved]) -> int:
        """How many leading events of ``part`` (the head of ``topic``'s queue) may be applied
        now (monitor.state.align)."""
        slack = self.settings.source_align
        if not slack:
            return len(part.offsets)
        slack = min(slack, self.settings.join_ttl / 2)  # well inside the TTL, whatever it is
        head = others[0] if others else None
        # the other topic's clock: what it has applied
        clock = (state.label_max if topic == self.predictions
                 else state.drift_clock.max_event_time)
        behind = head is not None or (
            self._consumer is not None  # (None: not fetched yet, so perhaps behind: a fresh
            and self._lag(self._consumer, other, state.partition, state) != 0)  # start waits)
        return admit(part.times, other=clock, slack=slack, other_behind=behind,
                     other_next=head.times[0] if isinstance(head, _Run) else None)

    def _apply_part(self, state: PartitionState, topic: str, part: _Run | _Bad | _Moved,
                    out: _Applied) -> None:
        """Apply a run of decoded events (or a message that did not decode) to its state."""
        out.touched.add(state.partition)
        counts = out.counts
        if isinstance(part, _Moved):
            msg = part.message
            if state.on_passed_on(topic, msg.offset()):
                self._producer.produce(topic, msg.value(), msg.key(), headers=msg.headers(),
                                       partition=part.partition)
                self.metrics.rerouted.labels(topic).inc()
            counts[(topic, "rerouted")] += 1
            return
        if isinstance(part, _Bad):
            if state.on_dead_letter(topic, part.message.offset()):
                self._dead.send_message(part.error, part.message)
                self.metrics.dead_lettered.labels(topic).inc()
            counts[(topic, "dead_lettered")] += 1
            return
        if topic == self.predictions:
            kind = "prediction"
            step = state.on_predictions(topic, part.offsets, part.events, part.raws)
        else:
            kind = "label"
            step = state.on_labels(topic, part.offsets, part.events, part.raws)
        counts[(topic, kind)] += len(part.offsets) - step.skipped
        if step.skipped:
            counts[(topic, "skipped")] += step.skipped
        labeled_out = out.labeled
        if self.write_labeled:
            for labeled, raw in zip(step.labeled, step.prediction_raws, strict=True):
                labeled_out.append({"key": labeled.key, "value": encode_labeled(labeled, raw)})
        else:  # only counted (a backtest without a retrainer)
            labeled_out.extend(step.labeled)
        if step.labeled:
            self._observe_pairs(step.labeled, *step.versions())
        # the pairs' errors in label-time buckets; the buckets the labels passed go out
        for partial in state.error_shares(topic, step):
            self._send(partial)

    def _pace(self) -> None:
        """Pause the topic partitions that parked more than ``source_park_bytes`` (their
        fetches stop; what is parked stays), resume those drained below half of it; and set
        the parked gauges."""
        consumer, limit = self._consumer, self.settings.source_park_bytes
        if consumer is not None:
            for at, size in self._parked_bytes.items():
                if size > limit and at not in self._paused:
                    consumer.pause([TopicPartition(*at)])
                    self._paused.add(at)
                    self.metrics.paused.labels(at[0]).inc()
            for at in [at for at in self._paused if self._parked_bytes[at] <= limit // 2]:
                consumer.resume([TopicPartition(*at)])
                self._paused.discard(at)
        waiting = Counter({self.predictions: 0, self.labels: 0})
        for queues in self._parked.values():
            for topic, queue in queues.items():
                waiting[topic] += sum(len(p.offsets) for p in queue if isinstance(p, _Run))
        for topic, n in waiting.items():
            self.metrics.parked.labels(topic).set(n)

    def _routed(self, topic: str, partition: int,
                run: list[Message]) -> list[_Run | _Bad | _Moved]:
        """A run's parts as :meth:`_decoded` gives them, with each message whose key belongs
        to another partition (murmur2, as every driftline producer partitions) taken out
        where it was, as a :class:`_Moved` to that partition: its partner is read there.
        Keyless messages stay."""
        count = self._partition_counts.get(topic)
        if count is None:
            return self._decoded(topic, run)
        keys = each("key", run)
        targets = partitions_of(keys if None not in keys else
                                [b"" if k is None else k for k in keys], count)
        stray = np.flatnonzero(targets != partition).tolist()
        out: list[_Run | _Bad | _Moved] = []
        start = 0
        for i in stray:
            if keys[i] is None:
                continue
            if i > start:
                out.extend(self._decoded(topic, run[start:i]))
            out.append(_Moved(run[i], int(targets[i])))
            start = i + 1
        if start == 0:
            return self._decoded(topic, run)
        if start < len(run):
            out.extend(self._decoded(topic, run[start:]))
        return out

    def _decoded(self, topic: str, run: list[Message]) -> list[_Run | _Bad]:
        """A run's events, decoded in one call (:func:`driftline.intake.decode_run`); when
        some message in it is bad, the good ones around it as runs and the bad ones where
        they were, in the order read."""
        cls = PredictionEvent if topic == self.predictions else LabelEvent
        raws = each("value", run)
        offsets = each("offset", run)
        decoded = decode_run(cls, raws, self._times)
        if not decoded.bad:
            return [_run(offsets, decoded.items, raws)]
        out: list[_Run | _Bad] = []
        good: tuple[list[int], list[Any], list[bytes]] = ([], [], [])
        for msg, offset, raw, item in zip(run, offsets, raws, decoded.items, strict=True):
            if isinstance(item, ContractError):
                if good[0]:
                    out.append(_run(*good))
                    good = ([], [], [])
                out.append(_Bad(msg, item))
                continue
            good[0].append(offset)
            good[1].append(item)
            good[2].append(raw)
        if good[0]:
            out.append(_run(*good))
        return out

    def _observe_pairs(self, labeled: list[LabeledEvent], predictions: list[PredictionEvent],
                       runs: list[tuple[str, str, int, int]]) -> None:
        """Count the label delays of joined pairs (``predictions`` and ``runs``: their
        version_runs), a run of one version at a time."""
        for name, version, start, end in runs:
            whole = end - start == len(labeled)
            self._observe_delays(name, version, predictions if whole else predictions[start:end],
                                 labeled if whole else labeled[start:end])

    def _observe_delays(self, name: str, version: str, predictions: list[PredictionEvent],
                        pairs: list[LabeledEvent]) -> None:
        """Count the label delays of one version's joined pairs (``predictions``: theirs),
        while the version is live (:class:`~monitor.state.live_versions.LiveVersions`, by
        prediction event time)."""
        seen = self.versions.see(name, version, max(map(_event_time, predictions)))
        for retired in seen.retired:
            self.metrics.retire(*retired)
        if seen.new:
            self.metrics.start_version(name, version)
            self._late_models.add(name)
        if seen.live:
            self.metrics.label_delay.observe_many((name, version), list(map(_delay, pairs)))

    def _count_late(self, partition: int, state: PartitionState) -> None:
        """Add the late events a partition's clock counted since the last call (the clock
        keeps a running count per model version, restored from checkpoints) to the late
        counter of their model, which starts at 0 once the model has an open window."""
        for key, _ in state.drift_clock.open_windows:
            model = key.rsplit("/", 1)[0]
            if model not in self._late_models:
                self._late_models.add(model)
                self.metrics.late.labels(model)
        for key, n in state.drift_clock.late.items():
            before = self._late_seen.get((partition, key), 0)
            if n > before:
                self.metrics.late.labels(key.rsplit("/", 1)[0]).inc(n - before)
                self._late_seen[(partition, key)] = n

    def _reject_state(self, error: Exception, record: Any) -> None:
        """Dead-letter a checkpoint or changelog record that does not decode."""
        self._dead.send_message(error, record)
        self.metrics.dead_lettered.labels(record.topic()).inc()

    def _send(self, partial: Partial) -> None:
        self._producer.produce(self.partials, _partial_encoder.encode(partial), partial.key,
                               partition=0)

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self, partitions: list[int], *, wait_for_commit: bool = True) -> None:
        """Make the state of ``partitions`` durable, then commit the offsets it covers."""
        self._last_checkpoint = time.monotonic()
        self._checkpoints.write(self.states, partitions, self._producer, self._consumer,
                                wait_for_commit=wait_for_commit)

    # -- assignment -------------------------------------------------------------------------

    # The rebalance callbacks get librdkafka's client first; they act through the wrapper.
    # They make no blocking call on this consumer (metadata, a commit that waits): one leaves
    # confluent-kafka's call state cleared, and the next callback served by the same poll (a
    # log line with JSON logs, the assignment that follows a revocation) aborts the process.

    def _assigned(self, _client: object, assigned: list[TopicPartition]) -> None:
        consumer = self._consumer
        assert consumer is not None
        mine = sorted({tp.partition for tp in assigned if tp.topic == self.predictions})
        began = time.monotonic()
        if mine:
            self._partition_counts = partition_counts(self.kafka, (self.predictions,
                                                                   self.labels))
        snapshots, stores = self._checkpoints.read(mine, self._reject_state)
        for p in mine:
            self.states[p] = PartitionState(p, self.config, stores[p], self.profiles,
                                            snapshots.get(p))
            # late events restored from the checkpoint were counted by their former owner
            for key, n in self.states[p].drift_clock.late.items():
                self._late_seen[(p, key)] = n
        positions = []
        for tp in assigned:
            snap = snapshots.get(tp.partition)
            last = None if snap is None else snap.offsets.get(tp.topic)
            # After the checkpoint; without one, the committed offset (or the earliest).
            positions.append(tp if last is None else TopicPartition(tp.topic, tp.partition,
                                                                     last + 1))
        consumer.assign(positions)
        # every position from a checkpoint: nothing parked is kept, nothing paused (librdkafka
        # keeps a partition's pause across a rebalance)
        consumer.resume(positions)
        self._parked.clear()
        self._parked_bytes.clear()
        self._paused.clear()
        for p in mine:
            log.info("partition %d: resumed at %s with %d join slots (%.1f s)", p,
                     self.states[p].offsets or "the start", len(self.states[p].join),
                     time.monotonic() - began)
        self._wait_for_siblings(consumer, positions, len(mine))

    def _wait_for_siblings(self, consumer: Consumer, positions: list[TopicPartition],
                           taken: int) -> None:
        """Right after the worker starts, a source process that took more than its share of
        the partitions waits, paused, for its siblings: the group formed before they joined
        (the broker does not wait for members still joining), so a rebalance is coming that
        would make it hand over the state it built meanwhile. At most
        ``_SIBLINGS_WAIT`` seconds from its first assignment."""
        now = time.monotonic()
        if self._settle_by is None:
            self._settle_by = now + _SIBLINGS_WAIT
        share = -(-self.kafka.partitions // self.siblings)
        self._waiting = self.siblings > 1 and taken > share and now < self._settle_by
        if self._waiting:
            consumer.pause(positions)
            log.info("took %d partitions, more than a share (%d) of %d source processes: "
                     "waiting for the others to join", taken, share, self.siblings)

    def _revoked(self, _client: object, revoked: list[TopicPartition]) -> None:
        gone = sorted({tp.partition for tp in revoked if tp.topic == self.predictions})
        # (the commit is sent, not waited for: the checkpoint is what a new owner resumes from)
        self.checkpoint(gone, wait_for_commit=False)
        self._drop(gone)
        assert self._consumer is not None
        self._consumer.unassign()

    def _lost(self, _client: object, lost: list[TopicPartition]) -> None:
        # Another worker may own them already: drop without writing anything.
        self._drop(sorted({tp.partition for tp in lost if tp.topic == self.predictions}))

    def _drop(self, partitions: list[int]) -> None:
        for p in partitions:
            self.states.pop(p, None)
            for at in [at for at in self._late_seen if at[0] == p]:
                del self._late_seen[at]
            self._parked.pop(p, None)
            for topic in (self.predictions, self.labels):
                self._parked_bytes.pop((topic, p), None)
                self._paused.discard((topic, p))
            self.metrics.forget_partition(p, (self.predictions, self.labels))

    # -- lag ----------------------------------------------------------------------------------

    @staticmethod
    def _lag(consumer: Consumer, topic: str, p: int, state: PartitionState) -> int | None:
        """Messages of ``topic`` partition ``p`` not applied yet (parked, or not read), by the
        high watermark of the last fetch response (no round trip); None before the first
        fetch."""
        low, high = consumer.watermarks(topic, p, cached=True)
        if high < 0:
            return None
        seen = state.offsets.get(topic)
        return max(high - (max(low, 0) if seen is None else seen + 1), 0)

    # -- heartbeats -------------------------------------------------------------------------

    def _heartbeats(self) -> None:
        """Each owned partition's watermarks and whether it has a backlog, so the publisher
        waits for slow partitions and not for idle ones; the lag gauges on the way."""
        consumer = self._consumer
        if consumer is None:
            return
        for p, state in list(self.states.items()):
            behind = False
            for topic in (self.predictions, self.labels):
                lag = self._lag(consumer, topic, p, state)
                if lag is None:  # not fetched yet: counts as behind
                    behind = True
                    continue
                self.metrics.lag.labels(topic, str(p)).set(lag)
                if lag:
                    behind = True
            self._count_late(p, state)
            self._send(Partial(
                kind="watermark", partition=p, caught_up=not behind, sent_at=time.time(),
                watermark=finite_or_none(state.drift_clock.watermark),
                performance_watermark=finite_or_none(state.performance_watermark),
                labels_watermark=finite_or_none(state.labels_watermark),
                concept_watermark=state.error_buckets.through,
            ))


class _Run(NamedTuple):
    """A run of decoded events of one topic partition, in the order read."""

    offsets: list[int]
    events: list[Any]
    raws: list[bytes]  # their JSON as read
    times: list[float]  # their event times
    size: int  # bytes of JSON


def _run(offsets: list[int], events: list[Any], raws: list[bytes]) -> _Run:
    return _Run(offsets, events, raws, list(map(_event_time, events)), sum(map(len, raws)))


def _split(run: _Run, n: int) -> tuple[_Run, _Run]:
    """The first ``n`` events of ``run``, and the rest."""
    head = run.raws[:n]
    size = sum(map(len, head))
    return (_Run(run.offsets[:n], run.events[:n], head, run.times[:n], size),
            _Run(run.offsets[n:], run.events[n:], run.raws[n:], run.times[n:], run.size - size))


class _Applied(NamedTuple):
    """What one batch applied: counts by (topic, outcome), the partitions it changed and
    the joined records for ``labeled``."""

    counts: Counter[tuple[str, str]]
    touched: set[int]
    labeled: list[dict[str, bytes]]


class _Moved(NamedTuple):
    """A message read from a partition its key does not belong to, and the one it does."""

    message: Message
    partition: int


class _Bad(NamedTuple):
    """A message that did not decode, and why."""

    message: Message
    error: ContractError


def _runs(messages: list[Message]) -> list[tuple[str, int, list[Message]]]:
    """Consecutive messages of one topic partition, as runs in the order read (the consumer
    raised on any error before)."""
    runs: list[tuple[str, int, list[Message]]] = []
    start = 0
    # (grouped in C: a fetch has few runs, each of many messages)
    for (topic, partition), group in groupby(zip(each("topic", messages),
                                                 each("partition", messages), strict=True)):
        end = start + len(list(group))
        runs.append((topic, partition, messages[start:end]))
        start = end
    return runs


# a joined record's label delay, taken without a Python frame
_delay = attrgetter("delay_seconds")
