"""Reading ``labeled`` for a retrain against the real broker: only the recent range by Kafka
timestamp is read (offsets_for_times), up to the end offsets of the moment, capped per
partition, and undecodable records are dead-lettered once each."""

from __future__ import annotations

import time

from driftline.events import DeadLetter, decode, encode
from driftline.kafka import DeadLetterWriter, Producer, read_topic
from retrainer.source import LabeledSource
from tests.retrainer.support import labeled_events

HOUR_MS = 3_600_000


def test_only_the_recent_window_is_read_and_bad_records_are_dead_lettered_once(
    kafka, topic_factory
):
    topic = topic_factory(partitions=2, name="labeled")
    dead_topic = topic_factory(partitions=1, name="dead-letter")
    now_ms = int(time.time() * 1000)
    old, recent = labeled_events(40, prefix="old"), labeled_events(60, prefix="new")
    with Producer(kafka) as producer:
        for i, event in enumerate(old):  # written three hours ago, ten per partition
            producer.produce(topic, encode(event), event.key, partition=i % 2,
                             timestamp_ms=now_ms - 3 * HOUR_MS + i)
        for i, event in enumerate(recent):
            producer.produce(topic, encode(event), event.key, partition=i % 2,
                             timestamp_ms=now_ms - 60_000 + i)
        producer.produce(topic, b'{"prediction": 1}', b"bad", partition=0, timestamp_ms=now_ms)

    with Producer(kafka) as producer:
        source = LabeledSource(kafka, topic, DeadLetterWriter(producer, dead_topic, "retrainer"),
                               margin=60.0)
        first = source.read(window=600.0)
        assert first.ranges == {0: (20, 51), 1: (20, 50)}  # old rows are not even fetched
        assert sorted(r.event.prediction.prediction_id for r in first.rows) == sorted(
            e.prediction.prediction_id for e in recent)
        assert first.dead_lettered == 1
        assert source.read(window=600.0).dead_lettered == 0  # not reported twice

        everything = source.read(window=None)
        assert everything.ranges == {0: (0, 51), 1: (0, 50)} and len(everything.rows) == 100
        capped = source.read(window=None, max_rows=10)
        assert capped.ranges == {0: (41, 51), 1: (40, 50)}

    [letter] = [decode(DeadLetter, m.value()) for m in read_topic(kafka, dead_topic)]
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (topic, 0, 50)
    assert "LabeledEvent" in letter.error
