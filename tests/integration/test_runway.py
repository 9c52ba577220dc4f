"""Topics, dead letters and the CLI against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys

from confluent_kafka.admin import AdminClient

from driftline.errors import ContractError
from driftline.events import DeadLetter, LabelEvent, decode
from driftline.kafka import (
    Consumer,
    DeadLetterWriter,
    Producer,
    create_topics,
    describe_topics,
    read_topic,
)
from driftline.settings import KafkaSettings
from driftline.topics import TOPICS, topic_name


def test_topic_creation_is_idempotent(kafka: KafkaSettings):
    first = create_topics(kafka)
    second = create_topics(kafka)
    names = [topic_name(t, kafka.topic_prefix) for t in TOPICS]
    assert first == {n: "created" for n in names}
    assert second == {n: "exists" for n in names}
    metadata = AdminClient(kafka.confluent_config()).list_topics(timeout=10)
    for spec in TOPICS:
        topic = metadata.topics[topic_name(spec, kafka.topic_prefix)]
        assert len(topic.partitions) == (spec.partitions or kafka.partitions)


def test_dead_letter_round_trip(kafka: KafkaSettings, driftline_topics, group_id):
    """A bad label on `labels` ends on `dead-letter` with its raw bytes, reason and offsets,
    and the good label after it is still processed."""
    labels, dead = driftline_topics["labels"], driftline_topics["dead-letter"]
    bad = b'{"prediction_id": "p-1", "label": "yes", "event_time": 5}'
    good = b'{"prediction_id": "p-2", "label": 1, "event_time": 6}'
    with Producer(kafka) as producer:
        producer.produce(labels, bad, b"p-1")
        producer.produce(labels, good, b"p-2")

    processed: list[LabelEvent] = []
    consumer = Consumer(kafka, group_id)
    consumer.subscribe([labels])
    with consumer, Producer(kafka) as dlq_producer:
        writer = DeadLetterWriter(dlq_producer, dead, service="test")
        seen = 0
        while seen < 2:
            batch = consumer.poll_batch(1, 10)
            assert batch, "timed out waiting for labels"
            msg = batch[0]
            seen += 1
            try:
                processed.append(decode(LabelEvent, msg.value()))
            except ContractError as exc:
                writer.send_message(exc, msg)
            consumer.store(msg)

    assert [e.prediction_id for e in processed] == ["p-2"]
    letters = [decode(DeadLetter, m.value()) for m in read_topic(kafka, dead)]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.value == bad and letter.raw_key == b"p-1"
    assert letter.source_topic == labels and letter.error_field == "label"
    assert "Expected `int`, got `str`" in letter.error
    source = next(m for m in read_topic(kafka, labels) if m.key() == b"p-1")
    assert (letter.source_partition, letter.source_offset) == (source.partition(), source.offset())


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftline.cli", *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
    )


def test_cli_creates_and_lists_topics(kafka: KafkaSettings):
    env = {
        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
    }
    made = _cli("topics", "create", env=env)
    assert made.returncode == 0, made.stderr
    assert made.stdout.count("created") == len(TOPICS)
    again = _cli("topics", "create", env=env)
    assert again.stdout.count("exists") == len(TOPICS)

    with Producer(kafka) as producer:
        for i in range(5):
            producer.produce(f"{kafka.topic_prefix}labels", b"{}", f"k{i}".encode())
    listed = _cli("topics", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    labels = f"{kafka.topic_prefix}labels"
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(labels))
    assert line.split()[1:3] == ["6", "5"]
    assert {i.name: i.messages for i in describe_topics(kafka)}[labels] == 5


def test_cli_reports_an_unreachable_cluster_clearly():
    result = _cli(
        "topics", "list", "--wait", "2",
        env={"DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
    )
    assert result.returncode == 2
    assert "no Kafka broker answered at 127.0.0.1:1 within 2s" in result.stderr
