"""Every reader's Kafka consumer: one lazy, typed wrapper over confluent-kafka, and bounded reads.

:class:`Consumer` is what every driftline service reads Kafka with, as
:class:`~driftline.kafka.producer.Producer` is what it writes with. It builds the client
configuration from :class:`~driftline.settings.KafkaSettings` and a commit policy, makes no
network call until first used, hands batches over as soon as one message is there, and turns
errors into one behaviour: fatal ones raise, transient ones are logged and skipped (librdkafka
recovers from them by itself).

:func:`iter_range` and :func:`read_topic` read a fixed range of offsets and stop at its end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

from confluent_kafka import OFFSET_END, KafkaError, KafkaException, Message, TopicPartition
from confluent_kafka import Consumer as _ConfluentConsumer

from driftline.kafka.messages import each
from driftline.logs import client_logging
from driftline.settings import KafkaSettings

__all__ = ["CommitPolicy", "Consumer", "iter_range", "read_topic"]

log = logging.getLogger(__name__)

CommitPolicy = Literal["stored", "manual"]
"""``stored``: offsets are committed in the background, but only those the caller stored with
:meth:`Consumer.store` once a message is processed (at-least-once). ``manual``: nothing is
committed unless the caller calls :meth:`Consumer.commit` (or never, for a reader that keeps
its position elsewhere or needs none)."""

Rebalance = Callable[[Any, list[TopicPartition]], None]

# A consumer outside any group still needs a group id for librdkafka; it never commits.
_READER_GROUP = "driftline-reader"
# Transient errors are logged at most this often per error code.
_LOG_EVERY_S = 30.0
# Watermark queries that meet these are asked again until their deadline.
_LEADER_MOVING = frozenset({
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_PARTITION, KafkaError.REQUEST_TIMED_OUT, KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
})


class Consumer:
    """A Kafka consumer: group membership or manual assignment, batch polling, one error policy.

    Parameters
    ----------
    settings
        How to reach Kafka (bootstrap, security, passed-through librdkafka options).
    group_id
        The consumer group. ``None`` for a reader that assigns its own partitions and never
        commits.
    commit
        The :data:`CommitPolicy`: ``stored`` (default) or ``manual``.
    offset_reset
        Where a partition without a committed offset starts: ``earliest``, ``latest``, or
        ``error`` (an error message instead, for exact copies of a range).
    strict
        Every error but a partition's end raises, not only fatal ones (for exact copies).
    options
        librdkafka options on top of the above, verbatim (fetch sizes, heartbeats, static
        membership).

    The client is created on first use, so building a ``Consumer`` makes no network call.

    >>> c = Consumer(KafkaSettings(bootstrap_servers="127.0.0.1:1"), "g", commit="manual")
    >>> c.config["group.id"], c.config["enable.auto.commit"]
    ('g', False)
    >>> c.created
    False
    """

    def __init__(
        self,
        settings: KafkaSettings,
        group_id: str | None = None,
        *,
        commit: CommitPolicy = "stored",
        offset_reset: Literal["earliest", "latest", "error"] = "earliest",
        strict: bool = False,
        options: dict[str, Any] | None = None,
        client: Any = None,
    ) -> None:
        if commit not in ("stored", "manual"):
            raise ValueError(f"commit must be 'stored' or 'manual', not {commit!r}")
        stored = commit == "stored" and group_id is not None
        self.config: dict[str, Any] = {
            **settings.confluent_config(),
            **client_logging(),
            "group.id": group_id or _READER_GROUP,
            "auto.offset.reset": offset_reset,
            "enable.auto.commit": stored,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            **(options or {}),
        }
        # ``client``: an existing confluent-kafka consumer, or a stand-in in unit tests
        self._client: _ConfluentConsumer | None = client
        self._closed = False
        self._strict = strict
        self._logged: dict[int, float] = {}

    # -- the client -------------------------------------------------------------------------

    @property
    def created(self) -> bool:
        """Whether the client exists (it is created on first use)."""
        return self._client is not None

    @property
    def client(self) -> _ConfluentConsumer:
        """The confluent-kafka consumer, created on first use; RuntimeError once closed."""
        if self._client is None:
            if self._closed:
                raise RuntimeError(f"the consumer of {self.config['group.id']} is closed")
            self._client = _ConfluentConsumer(self.config)
        return self._client

    def close(self) -> None:
        """Leave the group (committing stored offsets under ``stored``) and free the client.

        While it closes, the revoke callback it runs acts on this client (its commit is the
        group member's last one); afterwards the consumer is closed for good, so that nothing
        creates a second client, outside the group, by using it again."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._client is not None:
                self._client.close()
        finally:
            self._client = None

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- membership and position -------------------------------------------------------------

    def subscribe(
        self,
        topics: Sequence[str],
        *,
        on_assign: Rebalance | None = None,
        on_revoke: Rebalance | None = None,
        on_lost: Rebalance | None = None,
    ) -> None:
        """Join the group for ``topics``; the callbacks run inside :meth:`poll_batch`."""
        hooks = {"on_assign": on_assign, "on_revoke": on_revoke, "on_lost": on_lost}
        self.client.subscribe(list(topics), **{k: v for k, v in hooks.items() if v})

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Read these partitions (from the offsets they carry), outside any group rebalance."""
        self.client.assign(list(partitions))

    def unassign(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Stop reading ``partitions`` (all when None)."""
        if partitions is None:
            self.client.unassign()
        else:
            self.client.incremental_unassign(list(partitions))

    def assignment(self) -> list[TopicPartition]:
        """The partitions this consumer reads now."""
        return self.client.assignment()

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching ``partitions`` until :meth:`resume` (they stay assigned)."""
        self.client.pause(list(partitions))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch paused ``partitions`` again."""
        self.client.resume(list(partitions))

    def position(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        """The next offset each partition will give."""
        return self.client.position(list(partitions))

    # -- reading -----------------------------------------------------------------------------

    def poll_batch(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to ``max_messages`` messages, handed over as soon as there is one: the first
        waits up to ``timeout``, the rest are what librdkafka already holds.

        librdkafka's ``consume(n, timeout)`` hands a batch over only when it holds ``n``
        messages or the timeout has passed; a consumer that keeps up with its topic would wait
        out the timeout for every batch. Error messages are not returned: fatal errors (every
        error but a partition's end when ``strict``) raise
        :class:`confluent_kafka.KafkaException`, the others are logged.
        """
        first = self.client.poll(timeout)
        if first is None:
            return []
        batch = [first]
        if max_messages > 1:
            batch.extend(self.client.consume(max_messages - 1, 0))
        return self._checked(batch)

    def consume(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to ``max_messages`` messages, waiting until that many are there or ``timeout``
        has passed: the throughput read for a backlog. Errors as in :meth:`poll_batch`."""
        return self._checked(self.client.consume(max_messages, timeout))

    def _checked(self, batch: list[Message]) -> list[Message]:
        if not any(each("error", batch)):  # (a KafkaError is always true)
            return batch
        good = []
        for msg in batch:
            err = msg.error()
            if err is None:
                good.append(msg)
            elif err.code() == KafkaError._PARTITION_EOF:
                continue
            elif err.fatal() or self._strict:
                where = f"{msg.topic()} [{msg.partition()}]: " if msg.topic() else ""
                raise KafkaException(KafkaError(err.code(), where + err.str(), err.fatal()))
            elif err.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:  # (not created yet: librdkafka
                self._log_transient(err)  # subscribes when it appears, so it is not logged)
        return good

    def _log_transient(self, err: KafkaError) -> None:
        now = time.monotonic()
        if now - self._logged.get(err.code(), -_LOG_EVERY_S) >= _LOG_EVERY_S:
            self._logged[err.code()] = now
            log.warning("Kafka consumer (%s): %s", self.config["group.id"], err.str())

    # -- committing ---------------------------------------------------------------------------

    def store(self, message: Message) -> None:
        """Mark ``message`` processed: under ``stored``, its offset is committed in the
        background from now on."""
        self.client.store_offsets(message)

    def commit(self, offsets: Iterable[TopicPartition], *, wait: bool = True) -> None:
        """Commit ``offsets`` (each the next offset to read) now, waiting for the broker's
        answer, or (``wait=False``) only sending them: what a rebalance callback of this
        consumer must do, since a blocking call there makes confluent-kafka abort at the next
        callback of the same poll (see :func:`driftline.kafka.admin.partition_counts`)."""
        self.client.commit(offsets=list(offsets), asynchronous=not wait)

    # -- metadata -----------------------------------------------------------------------------

    def partitions(self, topic: str, timeout: float = 10.0) -> list[int]:
        """The partition ids of ``topic``; raises KafkaException when it does not exist."""
        metadata = self.client.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise KafkaException(
                metadata.error if metadata is not None else KafkaError(
                    KafkaError.UNKNOWN_TOPIC_OR_PART, f"no topic {topic}"
                )
            )
        return sorted(metadata.partitions)

    def watermarks(
        self, topic: str, partition: int, *, cached: bool = False, timeout: float = 10.0
    ) -> tuple[int, int]:
        """(low, high) offsets of one partition.

        ``cached`` answers from the last fetch without asking the broker (-1 where nothing was
        fetched yet). Otherwise a partition whose leader is moving or not yet known (a topic
        just created, a broker under load or restarting) is asked again until ``timeout``;
        other errors raise :class:`confluent_kafka.KafkaException`.
        """
        tp = TopicPartition(topic, partition)
        if cached:
            return self.client.get_watermark_offsets(tp, cached=True)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.client.get_watermark_offsets(
                    tp, timeout=max(deadline - time.monotonic(), 0.5)
                )
            except KafkaException as exc:
                code = exc.args[0].code() if exc.args else None
                if code not in _LEADER_MOVING or time.monotonic() >= deadline:
                    raise
                log.debug("watermarks of %s[%d]: %s; asking again", topic, partition, exc)
                time.sleep(0.2)

    def topic_watermarks(self, topic: str, timeout: float = 10.0) -> dict[int, tuple[int, int]]:
        """Partition -> (low, high) of every partition of ``topic``."""
        deadline = time.monotonic() + timeout
        return {
            p: self.watermarks(topic, p, timeout=max(deadline - time.monotonic(), 0.5))
            for p in self.partitions(topic, timeout)
        }

    def offsets_for_times(
        self, topic: str, times_ms: dict[int, int], timeout: float = 10.0
    ) -> dict[int, int]:
        """Per partition, the first offset whose timestamp is at or after the given time
        (-1 where there is none)."""
        asked = [TopicPartition(topic, p, t) for p, t in times_ms.items()]
        found = self.client.offsets_for_times(asked, timeout=timeout)
        return {tp.partition: tp.offset for tp in found}


def iter_range(
    settings: KafkaSettings,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    *,
    poll_timeout: float = 0.2,
    idle_timeout: float = 30.0,
    batch: int = 10000,
) -> Iterator[Message]:
    """Yield messages of ``topic`` with ``start <= offset < end`` for each
    ``partition -> (start, end)``, reading partitions concurrently (per-partition order kept).

    Stops when every range is exhausted: its last offset read, or the end of the partition's
    log reached at or past ``end`` (a compacted topic may have lost offsets below it); raises
    TimeoutError if no message arrives for ``idle_timeout`` seconds before that.

    Each batch asks for no more than the offsets left, so a read that ends on its last offset
    returns at once instead of waiting out the poll timeout (only gaps in the offsets wait).
    """
    wanted = {p: (s, e) for p, (s, e) in ranges.items() if e > s}
    if not wanted:
        return
    reader = Consumer(settings, commit="manual", options={
        "enable.partition.eof": True,
        "fetch.max.bytes": 52_428_800,
        "queued.max.messages.kbytes": 262_144,
    })
    with reader:
        client = reader.client  # the log's end is a message here, so the raw batches are read
        client.assign([TopicPartition(topic, p, s) for p, (s, _e) in wanted.items()])
        remaining = dict(wanted)
        at = {p: s for p, (s, _e) in wanted.items()}  # the next offset each partition gives
        idle = 0.0
        while remaining:
            left = sum(e - at[p] for p, (_s, e) in remaining.items())
            msgs = client.consume(max(min(batch, left), 1), poll_timeout)
            if not msgs:
                idle += poll_timeout
                if idle >= idle_timeout:
                    raise TimeoutError(
                        f"reading {topic}: no message for {idle_timeout:.0f}s with ranges "
                        f"{remaining} still open"
                    )
                continue
            idle = 0.0
            done = []
            for raw in msgs:
                at_log_end = _at_log_end(raw)  # raises on any error but the log's end
                p = raw.partition()
                if p not in remaining:
                    continue
                end = remaining[p][1]
                offset = raw.offset()
                if at_log_end:  # the partition's log ends at ``offset``
                    if offset >= end:
                        done.append(p)
                    continue
                at[p] = offset + 1
                if offset < end:
                    yield raw
                if offset >= end - 1:
                    done.append(p)
            for p in done:
                if remaining.pop(p, None) is not None:
                    client.incremental_unassign([TopicPartition(topic, p, OFFSET_END)])


def _at_log_end(msg: Message) -> bool:
    err = msg.error()
    if err is None:
        return False
    if err.code() == KafkaError._PARTITION_EOF:
        return True
    raise KafkaException(err)


def read_topic(settings: KafkaSettings, topic: str, **kwargs: Any) -> list[Message]:
    """Every message currently on ``topic`` (low to high watermark of each partition)."""
    with Consumer(settings, commit="manual") as probe:
        ranges = probe.topic_watermarks(topic)
    return list(iter_range(settings, topic, ranges, **kwargs))
