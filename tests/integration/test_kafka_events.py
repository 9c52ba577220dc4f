"""Every event type through the real broker, with both Kafka clients driftline uses."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from driftline.events import (
    DeadLetter,
    DriftEvent,
    Event,
    FeatureStatistic,
    LabeledEvent,
    LabelEvent,
    ModelUpdateEvent,
    OffsetRange,
    PredictionEvent,
    TransactionEvent,
    decode,
    encode,
)
from driftline.kafka import Producer, read_topic
from driftline.settings import KafkaSettings

PREDICTION = PredictionEvent(
    prediction_id="p-42",
    event_time=1_760_000_000.5,
    model_name="credit-risk",
    model_version="3",
    features={"annual_income": 850000.0, "loan_amount": 250000.0, "channel": "branch"},
    score=0.27,
    decision="MEDIUM",
    entity_id="app-9",
)
LABEL = LabelEvent(prediction_id="p-42", event_time=1_760_003_600.0, label=1)

SAMPLES: list[Event] = [
    TransactionEvent(entity_id="app-9", event_time=1_760_000_000.0, features={"x": 1.0}),
    PREDICTION,
    LABEL,
    LabeledEvent.join(PREDICTION, LABEL),
    DriftEvent(
        event_id="d-1",
        event_time=1_760_000_900.0,
        model_name="credit-risk",
        model_version="3",
        kind="covariate",
        severity="high",
        window_start=1_760_000_000.0,
        window_end=1_760_000_600.0,
        statistics=[
            FeatureStatistic(
                feature="loan_amount", statistic="psi", value=1.7, threshold=0.2, drifted=True
            )
        ],
        evidence=[OffsetRange(topic="predictions", partition=0, first_offset=0, last_offset=99)],
        share_drifted=0.2,
    ),
    ModelUpdateEvent(
        model_name="credit-risk", version="4", previous_version="3", event_time=1.0, run_id="r"
    ),
    DeadLetter(event_time=2.0, source_topic="labels", value=b"\x00\xffnot json", error="bad"),
]


def test_every_event_round_trips_through_confluent_kafka(kafka: KafkaSettings, topic_factory):
    topic = topic_factory(partitions=3)
    with Producer(kafka) as producer:
        for event in SAMPLES:
            producer.send(topic, event)
        assert producer.flush(10) == 0
    assert producer.delivered == len(SAMPLES) and producer.failed == 0

    messages = read_topic(kafka, topic)
    assert len(messages) == len(SAMPLES)
    _assert_same_events({(m.key(), m.value()) for m in messages})


async def _aiokafka_read(kafka: KafkaSettings, topic: str, group_id: str, n: int
                         ) -> list[tuple[bytes, bytes]]:
    """(key, value) of the first ``n`` messages on ``topic``, read with aiokafka."""
    consumer = AIOKafkaConsumer(
        topic, group_id=group_id, auto_offset_reset="earliest", **kafka.aiokafka_config()
    )
    await consumer.start()
    got: list[tuple[bytes, bytes]] = []
    try:
        while len(got) < n:
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                break
            for records in batch.values():
                got.extend((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return got


def _assert_same_events(got: set[tuple[bytes, bytes]]) -> None:
    """``got`` holds exactly SAMPLES, each under its own key, each decoding to itself."""
    assert got == {(e.key, encode(e)) for e in SAMPLES}
    for event in SAMPLES:
        assert decode(type(event), encode(event)) == event


def test_every_event_round_trips_through_aiokafka(kafka: KafkaSettings, topic_factory, group_id):
    topic = topic_factory(partitions=2)

    async def scenario() -> list[tuple[bytes, bytes]]:
        producer = AIOKafkaProducer(**kafka.aiokafka_config())
        await producer.start()
        try:
            for event in SAMPLES:
                await producer.send_and_wait(topic, encode(event), key=event.key)
        finally:
            await producer.stop()
        return await _aiokafka_read(kafka, topic, group_id, len(SAMPLES))

    got = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert len(got) == len(SAMPLES)
    _assert_same_events(set(got))


@pytest.mark.parametrize("n_keys", [200])
def test_same_key_same_partition_across_clients(kafka: KafkaSettings, topic_factory, n_keys):
    """Predictions (confluent-kafka, the scorer) and labels (aiokafka, as faust writes) with the
    same prediction_id land on the same partition number: the monitor's join stays local."""
    predictions = topic_factory(partitions=6, name="predictions")
    labels = topic_factory(partitions=6, name="labels")
    keys = [f"pred-{i}".encode() for i in range(n_keys)]
    with Producer(kafka) as producer:
        for key in keys:
            producer.produce(predictions, b"{}", key)

    async def produce_labels() -> None:
        producer = AIOKafkaProducer(**kafka.aiokafka_config())
        await producer.start()
        try:
            for key in keys:
                await producer.send(labels, b"{}", key=key)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(produce_labels())
    pred_part = {m.key(): m.partition() for m in read_topic(kafka, predictions)}
    label_part = {m.key(): m.partition() for m in read_topic(kafka, labels)}
    assert len(pred_part) == n_keys
    assert pred_part == label_part
    assert len(set(pred_part.values())) == 6  # keys really spread over partitions


def test_aiokafka_reads_what_the_driftline_producer_wrote(kafka: KafkaSettings, topic_factory,
                                                        group_id):
    """The scorer writes with confluent-kafka (lz4-compressed batches); the monitor reads with
    aiokafka through faust. This is the path every prediction takes."""
    topic = topic_factory(partitions=3)
    with Producer(kafka) as producer:
        for event in SAMPLES:
            producer.send(topic, event)

    got = asyncio.run(asyncio.wait_for(_aiokafka_read(kafka, topic, group_id, len(SAMPLES)), 60))
    assert len(got) == len(SAMPLES)
    _assert_same_events(set(got))


def test_produce_many_delivers_all_through_a_full_queue_to_the_given_partition(
    kafka: KafkaSettings, topic_factory
):
    # A queue of 50 messages and 1,000 to send: the batch call refuses most at first and
    # produce_many retries them until all are delivered; tombstones stay tombstones.
    topic = topic_factory(partitions=3)
    messages = [{"key": f"k{i}".encode(), "value": None if i % 10 == 0 else f"v{i}".encode()}
                for i in range(1_000)]
    with Producer(kafka, options={"queue.buffering.max.messages": 50}) as producer:
        producer.produce_many(topic, [dict(m) for m in messages], partition=2)
        assert producer.flush(10) == 0
    assert producer.failed == 0
    read = read_topic(kafka, topic)
    assert {m.partition() for m in read} == {2}
    assert sorted((m.key(), m.value()) for m in read) == sorted(
        (m["key"], m["value"]) for m in messages
    )
