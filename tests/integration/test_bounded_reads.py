"""Bounded reads of a topic (``iter_range``, ``read_topic``) against the real broker: exactly
the offsets asked for, and an end that holds no message (a transaction marker) still ends the
read."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Producer as ConfluentProducer

from driftline.kafka import iter_range, read_topic
from driftline.kafka.admin import watermarks
from driftline.settings import KafkaSettings


def _produce(kafka: KafkaSettings, topic: str, values: dict[int, list[bytes]]) -> None:
    producer = ConfluentProducer(kafka.confluent_config())
    for partition, vs in values.items():
        for v in vs:
            producer.produce(topic, v, partition=partition)
    assert producer.flush(30) == 0


def _stable_watermarks(
    kafka: KafkaSettings, topic: str, want_high: int, timeout: float = 30.0
) -> tuple[int, int]:
    """Partition 0's watermarks once its last stable offset has reached ``want_high``.

    ``commit_transaction`` returns when the coordinator has decided the commit; it writes the
    commit markers to the partitions afterwards, and a read_committed consumer sees the high
    watermark stay at the last stable offset (0 here) until then.
    """
    deadline = time.monotonic() + timeout
    while True:
        low, high = watermarks(kafka, topic)[0]
        if high >= want_high or time.monotonic() >= deadline:
            return low, high
        time.sleep(0.1)


def test_each_partition_gives_exactly_its_range(kafka: KafkaSettings, topic_factory):
    topic = topic_factory(partitions=3)
    _produce(kafka, topic, {p: [f"{p}:{i}".encode() for i in range(20)] for p in range(3)})
    got = iter_range(kafka, topic, {0: (0, 20), 1: (5, 9), 2: (19, 20)})
    by_partition: dict[int, list[bytes]] = {}
    for msg in got:
        by_partition.setdefault(msg.partition(), []).append(msg.value())
    assert by_partition == {
        0: [f"0:{i}".encode() for i in range(20)],
        1: [f"1:{i}".encode() for i in range(5, 9)],
        2: [b"2:19"],
    }
    assert list(iter_range(kafka, topic, {0: (3, 3)})) == []  # an empty range reads nothing


def test_a_range_ending_on_a_transaction_marker_ends_at_the_log_end(
    kafka: KafkaSettings, topic_factory
):
    """The last offset below the high watermark is the commit marker, which no consumer sees:
    the read ends at the log's end rather than waiting for that offset until idle_timeout."""
    topic = topic_factory(partitions=1)
    producer = ConfluentProducer({**kafka.confluent_config(),
                                  "transactional.id": f"bounded-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, b"%d" % i, partition=0)
    producer.commit_transaction(30)
    low, high = _stable_watermarks(kafka, topic, want_high=6)
    assert (low, high) == (0, 6)  # five messages and the marker
    got = [m.value() for m in iter_range(kafka, topic, {0: (low, high)}, idle_timeout=5)]
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    assert [m.value() for m in read_topic(kafka, topic, idle_timeout=5)] == got
