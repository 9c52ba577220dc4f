"""Checkpoints of the source loop's partition states in Kafka, and reading them back.

Each partition's join slots live in a :class:`~monitor.state.changelog.ChangelogStore`
whose writes go, as a few large segments per checkpoint, to the compacted topic
``<app id>-join-changelog`` (same partition number); the rest of its state is a snapshot in
the compacted ``<app id>-checkpoints`` (key: the partition). :meth:`Checkpointer.write`
expires due slots, sends the slot writes, waits until Kafka has acknowledged everything sent
so far, sends the snapshots, waits again, then commits the source offsets the snapshots
cover. :meth:`Checkpointer.read` gives a partition taken over its snapshot and slots back.
See ``docs/monitoring-internals.md`` for why nothing is lost or counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from driftline.kafka.admin import watermarks
from driftline.kafka.consumer import Consumer, iter_range
from monitor.state.changelog import ChangelogStore
from monitor.state.join import decode_slot, encode_slot
from monitor.state.partition import PartitionSnapshot, PartitionState
from monitor.worker.metrics import SourceMetrics

__all__ = ["Checkpointer", "Reject"]

log = logging.getLogger(__name__)

Reject = Callable[[Exception, Any], None]
"""Takes a record that does not decode (a message, or one shaped like it) and why."""


class Checkpointer:
    """Writes and reads the checkpoints of the partitions one source loop owns.

    ``changelog`` and ``checkpoints``: the two compacted topics; ``segment_bytes``: the
    largest changelog segment. After any failed write it is *broken*: nothing more is
    checkpointed or committed, since the state in memory can no longer be proved."""

    def __init__(self, kafka: Any, changelog: str, checkpoints: str, metrics: SourceMetrics,
                 segment_bytes: int) -> None:
        self.kafka = kafka
        self.changelog = changelog
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.segment_bytes = segment_bytes
        self.broken = False

    def write(self, states: Mapping[int, PartitionState], partitions: list[int], producer: Any,
              consumer: Consumer | None, *, wait_for_commit: bool = True) -> None:
        """Make the state of ``partitions`` durable through ``producer``, then commit the
        offsets it covers with ``consumer`` (None: nothing to commit), waiting for the
        broker's answer unless ``wait_for_commit`` is False (inside the consumer's own
        rebalance callback, where a blocking call is not safe)."""
        partitions = [p for p in partitions if p in states]
        if not partitions or self.broken:
            return
        written: dict[int, list[str]] = {}
        for p in partitions:
            self.metrics.expired.inc(len(states[p].expire()))
            writes = _slots(states[p]).take_writes()
            written[p] = writes.keys
            segments = [{"key": k, "value": v} for k, v in writes.records if v is not None]
            if segments:
                producer.produce_many(self.changelog, segments, partition=p)
            dead = [{"key": k, "value": None} for k, v in writes.records if v is None]
            if dead:  # in a call of its own: never before the segments that replace them
                producer.produce_many(self.changelog, dead, partition=p)
        self._flush(producer, "the join changelog and outputs")
        for p in partitions:
            producer.produce(self.checkpoints, states[p].snapshot(), str(p).encode(),
                             partition=p)
        self._flush(producer, "the checkpoints")
        for p in partitions:  # every restart resumes from this checkpoint or a later one
            states[p].join.forget_halves(written[p])
        offsets = [
            TopicPartition(topic, p, offset + 1)
            for p in partitions
            for topic, offset in states[p].offsets.items()
        ]
        if offsets and consumer is not None:
            try:
                consumer.commit(offsets, wait=wait_for_commit)
            except KafkaException as exc:
                # A restart resumes from the checkpoint just written, not from the group's
                # offsets (they serve lag and a first start): a commit refused because the
                # group moved on (this member leaving at shutdown, a rebalance) loses nothing.
                log.warning("offsets of partitions %s not committed (%s); the checkpoint "
                            "holds them", partitions, exc)
        self.metrics.join_state.set(sum(len(s.join) for s in states.values()))

    def _flush(self, producer: Any, what: str) -> None:
        """Wait for every acknowledgement; any message ever lost (an output or a slot) makes
        the state in memory unprovable, so the worker stops and resumes from its checkpoint."""
        left = producer.flush(60.0)
        if left or producer.failed:
            self.broken = True
            raise RuntimeError(
                f"could not write {what} to Kafka ({left} still queued, "
                f"{producer.failed} failed, last: {producer.last_error}); "
                "stopping so that a restart resumes from the last checkpoint"
            )

    def read(self, partitions: list[int], reject: Reject | None = None
             ) -> tuple[dict[int, PartitionSnapshot], dict[int, ChangelogStore[Any]]]:
        """The latest snapshot (where there is one) and the restored join slots of each of
        ``partitions``. A record that does not decode is left out and handed to ``reject``
        with why (topic, partition, offset, key, value, error): a partition whose snapshot
        is unreadable starts over as if it had none, a slot that is unreadable is lost."""
        return self._snapshots(partitions, reject), self._stores(partitions, reject)

    def _snapshots(self, partitions: list[int], reject: Reject | None
                   ) -> dict[int, PartitionSnapshot]:
        ranges = _ranges(self.kafka, self.checkpoints, partitions)
        latest: dict[int, Any] = {}
        for msg in iter_range(self.kafka, self.checkpoints, ranges):
            key = msg.key()
            if msg.value() is not None and key is not None and key.isdigit():
                latest[int(key)] = msg
            elif msg.value() is not None and reject is not None:
                reject(ValueError(f"checkpoint key {key!r} is not a partition number"), msg)
        snapshots = {}
        for p, msg in latest.items():
            if p not in partitions:
                continue
            try:
                snapshots[p] = PartitionState.decode_snapshot(msg.value())
            except (ValueError, RecursionError) as exc:  # msgspec's errors are ValueErrors
                if reject is None:
                    raise
                log.error("partition %d: the checkpoint does not decode (%s); starting it "
                          "over without one", p, exc)
                reject(exc, msg)
        return snapshots

    def _stores(self, partitions: list[int], reject: Reject | None
                ) -> dict[int, ChangelogStore[Any]]:
        ranges = _ranges(self.kafka, self.changelog, partitions)
        records: dict[int, list[tuple[bytes, bytes | None]]] = {p: [] for p in partitions}
        for msg in iter_range(self.kafka, self.changelog, ranges):
            records[msg.partition()].append((msg.key(), msg.value()))

        def bad(p: int) -> Any:
            if reject is None:
                return None
            return lambda key, value, exc: reject(exc, _Record(self.changelog, p, key, value))

        return {p: ChangelogStore.restore(records[p], encode=encode_slot, decode=decode_slot,
                                          segment_bytes=self.segment_bytes, on_bad=bad(p))
                for p in partitions}


class _Record:
    """A restored changelog record, shaped like a consumed message for the dead-letter
    writer (its offset is not kept)."""

    def __init__(self, topic: str, partition: int, key: bytes | None, value: bytes | None
                 ) -> None:
        self._at = (topic, partition, key, value)

    def topic(self) -> str:
        return self._at[0]

    def partition(self) -> int:
        return self._at[1]

    def offset(self) -> None:
        return None

    def key(self) -> bytes | None:
        return self._at[2]

    def value(self) -> bytes | None:
        return self._at[3]


def _slots(state: PartitionState) -> ChangelogStore[Any]:
    """The partition's join slots (the worker always gives its states a ChangelogStore)."""
    store = state.join.store
    assert isinstance(store, ChangelogStore)
    return store


def _ranges(kafka: Any, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
    marks = watermarks(kafka, topic)
    return {p: marks[p] for p in partitions if p in marks}
