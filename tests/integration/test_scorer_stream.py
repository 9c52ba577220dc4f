"""Streaming scoring: `transactions` in, `predictions` out, no HTTP; bad input, hostile values
included, dead-lettered while the stream goes on."""

from __future__ import annotations

import time
import uuid
from hashlib import sha256

from driftline.events import DeadLetter, TransactionEvent, decode, encode
from driftline.ids import stream_prediction_id
from driftline.kafka import Producer, read_topic
from driftline.settings import KafkaSettings
from scorer.service import Scorer
from tests.driftline.model.support import APPLICATION
from tests.hostile import hostile_values, produce_between
from tests.scorer.support import register_model, scorer_settings, wait_for_predictions


def test_transactions_are_scored_and_published_without_http(
    kafka: KafkaSettings, driftline_topics, tmp_path
):
    register_model(tmp_path, "credit-risk")
    settings = scorer_settings(
        tmp_path, kafka, stream=True, stream_group=f"scorer-{uuid.uuid4().hex[:8]}",
        stream_batch=4,  # many batches: each must be acknowledged before the next is taken
    )
    transactions = [
        TransactionEvent(
            entity_id=f"app-{i}", event_time=1_760_000_000.0 + i, request_id=f"req-{i}",
            features={**APPLICATION, "loan_amount": 50_000.0 * (i + 1)},
        )
        for i in range(30)
    ]
    # without a request_id: the sender learns the prediction id from its delivery report
    anonymous = [
        TransactionEvent(entity_id=f"anon-{i}", event_time=1_760_000_100.0 + i,
                         features=APPLICATION)
        for i in range(5)
    ]
    delivered: dict[str, str] = {}
    invalid = TransactionEvent(
        entity_id="app-bad", event_time=1_760_000_000.0, features={**APPLICATION, "channel": 7}
    )
    hostile = hostile_values(encode(transactions[0]))
    hostile["milliseconds"] = encode(TransactionEvent(
        entity_id="app-ms", event_time=1_760_000_000_000.0, features=APPLICATION))
    scorer = Scorer(settings)
    scorer.start_blocking()
    try:
        topic = driftline_topics["transactions"]
        produce_between(kafka, topic, [(t.key, encode(t)) for t in transactions], hostile)
        with Producer(kafka) as producer:
            for event in anonymous:
                producer.send(
                    topic, event,
                    on_delivery=lambda err, msg, entity=event.entity_id: delivered.__setitem__(
                        entity, stream_prediction_id(msg.topic(), msg.partition(), msg.offset())
                    ),
                )
            producer.send(topic, invalid)
            producer.produce(topic, b"not json", b"app-junk")
        found = wait_for_predictions(
            kafka, {t.request_id for t in transactions} | set(delivered.values())
        )
        deadline = time.monotonic() + 20
        letters: list[DeadLetter] = []
        while len(letters) < 2 + len(hostile) and time.monotonic() < deadline:
            letters = [decode(DeadLetter, m.value())
                       for m in read_topic(kafka, driftline_topics["dead-letter"])]
            time.sleep(0.2)
        assert scorer.stream is not None and scorer.stream.alive()
    finally:
        scorer.stop_blocking()

    for tx in transactions:
        prediction = found[tx.request_id]
        assert prediction.entity_id == tx.entity_id
        assert prediction.event_time == tx.event_time
        assert prediction.features == tx.features
        assert prediction.model_version == "1"
    assert len(delivered) == len(anonymous)
    for tx in anonymous:
        prediction = found[delivered[tx.entity_id]]
        assert (prediction.entity_id, prediction.event_time) == (tx.entity_id, tx.event_time)
    assert len(letters) == 2 + len(hostile), " ".join(sorted(str(x.value_size) for x in letters))
    by_value = {letter.value_sha256: letter for letter in letters}
    assert by_value[sha256(encode(invalid)).hexdigest()].error_field == "features.channel"
    assert by_value[sha256(b"not json").hexdigest()].value == b"not json"
    for kind, raw in hostile.items():
        letter = by_value.get(None if raw is None else sha256(raw).hexdigest())
        assert letter is not None and letter.error, kind
        assert letter.value_size == (None if raw is None else len(raw)), kind
    assert by_value[None].error.endswith("(a tombstone)")
    assert "looks like milliseconds" in by_value[
        sha256(hostile["milliseconds"]).hexdigest()].error
    assert by_value[sha256(hostile["over 1 MB"]).hexdigest()].value_truncated
