"""Cluster administration: wait for the broker, create and describe driftline's topics."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata, NewTopic

from driftline.errors import BrokerUnavailableError
from driftline.kafka.consumer import Consumer
from driftline.logs import client_logging
from driftline.settings import KafkaSettings
from driftline.topics import TOPICS, TopicSpec, topic_name

__all__ = [
    "TopicInfo",
    "cluster_metadata",
    "cluster_replication",
    "create_internal_topics",
    "create_topics",
    "delete_topics",
    "describe_topics",
    "end_offsets",
    "partition_counts",
    "replication",
    "wait_for_broker",
    "watermarks",
]


_probe_log = logging.getLogger("driftline.kafka.probe")
log = logging.getLogger(__name__)


def _admin(settings: KafkaSettings, quiet: bool = False) -> AdminClient:
    conf = {**settings.confluent_config(), **client_logging()}
    if quiet:  # connection refusals while waiting are expected: keep them off stderr
        conf["logger"] = _probe_log
    return AdminClient(conf)


def cluster_metadata(settings: KafkaSettings, timeout: float = 2.0) -> ClusterMetadata:
    """The cluster's metadata (brokers, topics) as it answers now; KafkaException if no
    broker answers within ``timeout``."""
    return _admin(settings, quiet=True).list_topics(timeout=timeout)


def wait_for_broker(settings: KafkaSettings, timeout: float = 30.0) -> ClusterMetadata:
    """Block until the cluster answers a metadata request, or raise BrokerUnavailableError."""
    admin = _admin(settings, quiet=True)
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            metadata = admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            if metadata.brokers:
                return metadata
        except KafkaException as exc:
            last = exc
        time.sleep(0.2)
    hint = (
        "start the local broker with `driftline kafka start`"
        if settings.uses_local_broker
        else "check DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS and the security settings"
    )
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {settings.bootstrap} within {timeout:.0f}s ({last}); {hint}"
    )


def create_topics(
    settings: KafkaSettings,
    specs: Iterable[TopicSpec] = TOPICS,
    *,
    timeout: float = 30.0,
) -> dict[str, str]:
    """Create each topic that does not exist yet. Returns full name -> "created" | "exists"."""
    return _create(settings, {
        topic_name(spec, settings.topic_prefix): (
            spec.partitions or settings.partitions, dict(spec.config)
        )
        for spec in specs
    }, timeout)


def create_internal_topics(
    settings: KafkaSettings,
    topics: dict[str, tuple[int, dict[str, str]]],
    *,
    timeout: float = 30.0,
) -> dict[str, str]:
    """Create a service's own topics (full name -> (partitions, config)) unless they exist."""
    return _create(settings, topics, timeout)


def replication(settings: KafkaSettings, brokers: int) -> tuple[int, dict[str, str]]:
    """Replication factor and extra topic configuration of the topics driftline creates on
    a cluster of ``brokers`` answering brokers: ``DRIFTLINE_KAFKA_REPLICATION_FACTOR`` if set,
    else 3 on three brokers or more and 1 below; with 3 or more, ``min.insync.replicas=2``
    (an acknowledged write is on two brokers, and one broker may be down).

    >>> replication(KafkaSettings(), 3)
    (3, {'min.insync.replicas': '2'})
    >>> replication(KafkaSettings(), 1)
    (1, {})
    >>> replication(KafkaSettings(replication_factor=2), 3)
    (2, {})
    """
    factor = settings.replication_factor or (3 if brokers >= 3 else 1)
    return factor, ({"min.insync.replicas": "2"} if factor >= 3 else {})


def cluster_replication(settings: KafkaSettings, timeout: float = 10.0) -> int:
    """The replication factor :func:`replication` gives on the cluster as it answers now."""
    if settings.replication_factor:
        return settings.replication_factor
    brokers = len(wait_for_broker(settings, timeout=timeout).brokers)
    return replication(settings, brokers)[0]


def _create(
    settings: KafkaSettings, topics: dict[str, tuple[int, dict[str, str]]], timeout: float
) -> dict[str, str]:
    admin = _admin(settings)
    metadata = admin.list_topics(timeout=timeout)
    existing = set(metadata.topics)
    factor, replicated = replication(settings, len(metadata.brokers))
    result: dict[str, str] = {}
    wanted: list[NewTopic] = []
    for name, (partitions, config) in topics.items():
        if name in existing:
            result[name] = "exists"
            continue
        wanted.append(NewTopic(name, num_partitions=partitions, replication_factor=factor,
                               config={**replicated, **config}))
    if wanted:
        for name, future in admin.create_topics(wanted, operation_timeout=timeout).items():
            try:
                future.result()
                result[name] = "created"
            except KafkaException as exc:
                if exc.args[0].code() == 36:  # TOPIC_ALREADY_EXISTS: a concurrent creator won
                    result[name] = "exists"
                else:
                    raise
        _wait_for_topics(admin, [t.topic for t in wanted], timeout)
    return result


def _wait_for_topics(admin: AdminClient, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        if all(
            n in topics and not topics[n].error and topics[n].partitions
            and all(p.leader >= 0 and not p.error for p in topics[n].partitions.values())
            for n in names
        ):  # every partition has a leader: reads and writes work at once
            return
        time.sleep(0.1)


def delete_topics(settings: KafkaSettings, names: Iterable[str], timeout: float = 30.0) -> None:
    """Delete topics (missing ones are ignored)."""
    names = list(names)
    if not names:
        return
    admin = _admin(settings)  # keep the handle alive until the futures resolve
    for future in admin.delete_topics(names, operation_timeout=timeout).values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != 3:  # UNKNOWN_TOPIC_OR_PART
                raise


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    end_offsets: dict[int, int]

    @property
    def messages(self) -> int:
        """Sum of end offsets: messages ever written (compaction and retention aside)."""
        return sum(self.end_offsets.values())


def end_offsets(settings: KafkaSettings, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Partition -> high watermark of ``topic``."""
    return {p: high for p, (_low, high) in watermarks(settings, topic, timeout).items()}


def partition_counts(settings: KafkaSettings, topics: Iterable[str], timeout: float = 10.0
                     ) -> dict[str, int]:
    """Topic -> its number of partitions, asked through a client of its own; raises
    KafkaException for a topic that does not exist.

    A consumer's rebalance callback asks here rather than through its own consumer: a
    blocking call on the client whose callback is running leaves confluent-kafka's call
    state cleared, and the next callback of the same poll (a log line, the next rebalance)
    aborts the process (``CallState_get: Assertion `cs != NULL' failed``)."""
    with Consumer(settings, commit="manual") as probe:
        return {topic: len(probe.partitions(topic, timeout)) for topic in topics}


def watermarks(
    settings: KafkaSettings, topic: str, timeout: float = 10.0
) -> dict[int, tuple[int, int]]:
    """Partition -> (low, high) watermarks of ``topic``, riding out a moving partition leader
    until ``timeout`` (see :meth:`driftline.kafka.consumer.Consumer.watermarks`)."""
    with Consumer(settings, commit="manual") as probe:
        return probe.topic_watermarks(topic, timeout)


def describe_topics(settings: KafkaSettings, prefix: str | None = None) -> list[TopicInfo]:
    """driftline's topics that exist on the cluster, with partition counts and end offsets."""
    prefix = settings.topic_prefix if prefix is None else prefix
    present = _admin(settings).list_topics(timeout=10).topics
    infos = []
    for spec in TOPICS:
        name = topic_name(spec, prefix)
        if name in present:
            partitions = len(present[name].partitions)
            infos.append(TopicInfo(name, partitions, end_offsets(settings, name)))
    return infos
