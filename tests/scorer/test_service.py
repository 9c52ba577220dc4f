"""Scorer.score_rows and the HTTP helpers without a broker: what reaches the publisher is
exactly one encoded PredictionEvent per row, and the answers carry the same ids and scores."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import msgspec
import numpy as np
import pytest
from mlflow.models import infer_signature

from driftline.events import PredictionEvent, decode, encode
from driftline.features import CREDIT_RISK
from driftline.model.decision import DecisionPolicy
from driftline.model.served import ServedModel
from driftline.model.signature import columns_from_signature
from driftline.model.validation import (
    ENTITY_FIELD,
    REQUEST_ID_FIELD,
    InvalidInputError,
    build_fast_batch,
    build_request_models,
)
from driftline.settings import KafkaSettings
from scorer.publisher import BufferFullError
from scorer.service import BatchTooLargeError, Scorer
from scorer.settings import ScorerSettings
from tests.driftline.model.support import APPLICATION

pd = pytest.importorskip("pandas")


class RecordingPublisher:
    """Stands in for PredictionPublisher: keeps what would have been enqueued."""

    capacity = 1_000

    def __init__(self, room: bool = True) -> None:
        self.room = room
        self.published: list[tuple[list[bytes], list[bytes], object]] = []

    def has_room(self, count: int) -> bool:
        return self.room

    def depth(self) -> int:
        return 0

    def publish(self, keys, values, on_done=None, *, topic=None, on_failed=None) -> None:
        self.published.append((list(keys), list(values), on_done))


@pytest.fixture(scope="module")
def served() -> ServedModel:
    from driftline.model.pipeline import default_pipeline

    frame = pd.DataFrame(
        [APPLICATION, {**APPLICATION, "channel": "mobile", "loan_amount": 9e6}]
    )
    pipeline = default_pipeline().fit(frame.to_numpy(dtype=object), [0, 1])
    columns = columns_from_signature(infer_signature(frame, [0.5, 0.5]))
    row, batch = build_request_models(columns, CREDIT_RISK, max_rows=50)
    return ServedModel(
        name="credit-risk", version="3", alias="champion", estimator=pipeline, columns=columns,
        row=row, batch=batch, positive=1, extras=(ENTITY_FIELD, REQUEST_ID_FIELD),
    )


@pytest.fixture
def scorer(tmp_path) -> tuple[Scorer, RecordingPublisher]:
    settings = ScorerSettings(home=tmp_path, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    scorer = Scorer(settings)
    scorer.publisher = RecordingPublisher()  # type: ignore[assignment]
    return scorer, scorer.publisher  # type: ignore[return-value]


def _answer(scorer: Scorer, served: ServedModel, body: bytes) -> bytes:
    """What /predict/batch answers when the buffer has room: validate, then score and publish."""
    return scorer.answer_batch(served, scorer.validate_batch(served, body))


def _rows(count: int) -> list[dict]:
    rows = []
    for i in range(count):
        row = {**APPLICATION, "loan_amount": 100_000.0 + 250_000.0 * i, "channel": "web é\"\\"}
        if i % 2:
            row[ENTITY_FIELD] = f"customer-{i}"
        if i % 3 == 0:
            row[REQUEST_ID_FIELD] = f"request-{i}"
        rows.append(row)
    return rows


def test_a_batch_publishes_one_event_per_row_and_answers_with_the_same_predictions(
    served, scorer
):
    scorer, publisher = scorer
    rows = _rows(30)
    before = time.time()
    answer = _answer(scorer, served, json.dumps({"rows": rows}).encode())

    [(keys, values, on_done)] = publisher.published
    assert on_done is None
    events = [decode(PredictionEvent, v) for v in values]
    body = msgspec.json.decode(answer)
    assert list(body) == ["model_name", "model_version", "count", "predictions"]
    assert (body["model_name"], body["model_version"], body["count"]) == ("credit-risk", "3", 30)
    probabilities = served.score([{k: r[k] for k in APPLICATION} for r in rows]).tolist()
    thresholds = scorer.settings.thresholds
    for row, p, event, key, value, public in zip(
        rows, probabilities, events, keys, values, body["predictions"], strict=True
    ):
        features = {k: v for k, v in row.items() if k not in (ENTITY_FIELD, REQUEST_ID_FIELD)}
        assert event.features == features
        assert event.entity_id == row.get(ENTITY_FIELD)
        assert event.prediction_id == row.get(REQUEST_ID_FIELD, event.prediction_id)
        assert (event.model_name, event.model_version) == ("credit-risk", "3")
        assert event.score == p and event.decision == thresholds.tiers(np.array([p]))[0]
        assert before <= event.event_time <= time.time()
        assert key == event.key and value == encode(event)  # byte for byte the contract's
        assert public == {
            "prediction_id": event.prediction_id, "default_probability": event.score,
            "risk_tier": event.decision, "score": event.score, "decision": event.decision,
            "model_version": "3",
        }
    assert len({e.prediction_id for e in events}) == 30
    assert len({e.event_time for e in events}) == 1


def test_given_ids_and_times_are_carried_and_on_done_reaches_the_publisher(served, scorer):
    scorer, publisher = scorer
    rows = [dict(APPLICATION), dict(APPLICATION)]
    done = object()
    scored = scorer.score_rows(
        served, rows, source="stream", entity_ids=["e-1", None], prediction_ids=[None, "t-2"],
        event_times=[10.0, 20.5], on_done=done,  # type: ignore[arg-type]
    )
    [(keys, values, on_done)] = publisher.published
    assert on_done is done
    events = [decode(PredictionEvent, v) for v in values]
    assert [e.entity_id for e in events] == ["e-1", None]
    assert [e.event_time for e in events] == [10.0, 20.5]
    assert events[1].prediction_id == "t-2" and len(events[0].prediction_id) == 32
    assert scored.prediction_ids == [e.prediction_id for e in events]
    assert keys == [e.key for e in events]
    counted = {
        s.labels["risk_tier"]: s.value
        for m in scorer.metrics.predictions.collect()
        for s in m.samples
        if s.name.endswith("_total") and s.labels["source"] == "stream" and s.value
    }
    assert sum(counted.values()) == 2 and set(counted) == set(scored.tiers)


def test_a_full_buffer_refuses_before_scoring(served, scorer):
    scorer, publisher = scorer
    publisher.room = False
    with pytest.raises(BufferFullError):
        scorer.score_rows(served, [dict(APPLICATION)], source="http")
    assert publisher.published == []


def test_single_predictions_answer_through_the_micro_batcher(served, scorer):
    scorer, publisher = scorer

    async def three() -> list[bytes]:
        scorer.batcher.start()
        rows = [{**APPLICATION, REQUEST_ID_FIELD: f"r-{i}"} for i in range(3)]
        answers = await asyncio.gather(*(scorer.predict_one(served, r) for r in rows))
        await scorer.batcher.stop()
        return answers

    answers = [msgspec.json.decode(a) for a in asyncio.run(three())]
    events = {
        e.prediction_id: e
        for _, values, _ in publisher.published
        for e in (decode(PredictionEvent, v) for v in values)
    }
    for i, answer in enumerate(answers):
        event = events[f"r-{i}"]
        assert answer == {
            "prediction_id": f"r-{i}", "default_probability": event.score,
            "risk_tier": event.decision, "score": event.score, "decision": event.decision,
            "model_version": "3",
        }


def test_the_fast_parser_publishes_what_pydantic_would_and_pydantic_still_names_errors(
    served, scorer
):
    scorer, publisher = scorer
    fast = replace(served, fast_batch=build_fast_batch(served.columns, CREDIT_RISK, max_rows=50))
    body = json.dumps({"rows": _rows(12)}).encode()
    answers = [msgspec.json.decode(_answer(scorer, s, body)) for s in (served, fast)]
    slow_events, fast_events = (
        [decode(PredictionEvent, v) for v in values] for _, values, _ in publisher.published
    )
    assert [(e.features, e.entity_id, e.score, e.decision) for e in fast_events] == [
        (e.features, e.entity_id, e.score, e.decision) for e in slow_events
    ]
    assert [p["risk_tier"] for p in answers[1]["predictions"]] == [
        p["risk_tier"] for p in answers[0]["predictions"]
    ]
    bad = json.dumps({"rows": [APPLICATION, {**APPLICATION, "loan_amount": -1.0}]}).encode()
    with pytest.raises(InvalidInputError) as info:
        scorer.validate_batch(fast, bad)
    assert [tuple(e["loc"]) for e in info.value.errors] == [("rows", 1, "loan_amount")]
    with pytest.raises(BatchTooLargeError):
        scorer.validate_batch(fast, json.dumps({"rows": [APPLICATION] * 51}).encode())
    assert len(publisher.published) == 2


class FillingPublisher(RecordingPublisher):
    """A buffer with a depth: publishing fills it, ``drain`` is Kafka acknowledging."""

    capacity = 100

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.queued = depth

    def has_room(self, count: int) -> bool:
        return self.queued + count <= self.capacity

    def depth(self) -> int:
        return self.queued

    def publish(self, keys, values, on_done=None, *, topic=None, on_failed=None) -> None:
        if not self.has_room(len(keys)):
            raise BufferFullError("full")
        super().publish(keys, values, on_done, topic=topic)
        self.queued += len(keys)


def _waiting_scorer(tmp_path, depth: int, wait_ms: float) -> tuple[Scorer, FillingPublisher]:
    settings = ScorerSettings(
        home=tmp_path, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        buffer_wait_ms=wait_ms,
    )
    scorer = Scorer(settings)
    scorer.publisher = FillingPublisher(depth)  # type: ignore[assignment]
    return scorer, scorer.publisher  # type: ignore[return-value]


def test_batches_that_find_the_buffer_full_wait_for_room_one_at_a_time(served, tmp_path):
    scorer, publisher = _waiting_scorer(tmp_path, depth=90, wait_ms=5_000)

    async def run() -> list[bytes]:
        answers = [
            asyncio.create_task(scorer.answer_batch_when_room(served, _rows(30), in_thread=i))
            for i in (False, True)
        ]
        await asyncio.sleep(0.05)
        assert publisher.published == []  # 90 queued + 30 > 100: both wait
        publisher.queued = 50  # acknowledged: room for one batch of 30, not for two
        # (however slow the machine: the first batch's turn ends only once it published)
        while not publisher.published and not answers[0].done():
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)
        assert len(publisher.published) == 1  # the second waits on, it is not refused
        assert not answers[1].done()
        publisher.queued = 0
        return await asyncio.gather(*answers)

    answers = [msgspec.json.decode(a) for a in asyncio.run(run())]
    assert [a["count"] for a in answers] == [30, 30]
    assert len(publisher.published) == 2 and publisher.queued == 30


def test_a_batch_is_refused_once_the_wait_runs_out_and_nothing_is_published(served, tmp_path):
    scorer, publisher = _waiting_scorer(tmp_path, depth=90, wait_ms=50)

    async def run() -> float:
        began = time.monotonic()
        with pytest.raises(BufferFullError):
            await scorer.answer_batch_when_room(served, _rows(30), in_thread=False)
        return time.monotonic() - began

    waited = asyncio.run(run())
    assert waited >= 0.05 and publisher.published == []
    # more rows than the buffer holds at all are refused without waiting
    assert asyncio.run(scorer.wait_for_room(101)) is False


def test_a_version_with_its_own_decision_policy_answers_and_publishes_its_tiers(served, scorer):
    scorer, publisher = scorer
    policy = DecisionPolicy.parse(["HIGH=0.5", "MEDIUM=0.2"], score_name="fraud_probability")
    fraud = replace(served, name="fraud", decision=policy)
    rows = _rows(12)
    body = msgspec.json.decode(_answer(scorer, fraud, json.dumps({"rows": rows}).encode()))
    events = [decode(PredictionEvent, v) for _, values, _ in publisher.published for v in values]
    for public, event in zip(body["predictions"], events, strict=True):
        assert public == {
            "prediction_id": event.prediction_id, "fraud_probability": event.score,
            "score": event.score, "decision": event.decision, "model_version": "3",
        }
        assert event.decision == policy.decide(np.array([event.score]))[0]
    assert {e.decision for e in events} <= {"LOW", "MEDIUM", "HIGH"}
    counted = {
        s.labels["risk_tier"]
        for m in scorer.metrics.predictions.collect()
        for s in m.samples
        if s.name.endswith("_total") and s.labels["model"] == "fraud" and s.value
    }
    assert counted == {e.decision for e in events}


class AckingPublisher(RecordingPublisher):
    """Holds each group's delivery callbacks; the test says when Kafka acknowledges."""

    def __init__(self) -> None:
        super().__init__()
        self.hooks: list[tuple[object, object, int]] = []

    def publish(self, keys, values, on_done=None, *, topic=None, on_failed=None) -> None:
        super().publish(keys, values, on_done, topic=topic)
        self.hooks.append((on_done, on_failed, len(keys)))

    def acknowledge(self, *, fail: bool = False) -> None:
        """Kafka's delivery reports for everything published so far, from another thread."""
        import threading

        hooks, self.hooks = self.hooks, []

        def report() -> None:
            for on_done, on_failed, n in hooks:
                for _ in range(n):
                    (on_failed if fail else on_done)()

        threading.Thread(target=report).start()


def _ack_scorer(tmp_path, timeout: float = 5.0) -> tuple[Scorer, AckingPublisher]:
    settings = ScorerSettings(home=tmp_path, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
                              publish="ack", ack_timeout_s=timeout)
    scorer = Scorer(settings)
    scorer.publisher = AckingPublisher()  # type: ignore[assignment]
    return scorer, scorer.publisher  # type: ignore[return-value]


def test_with_publish_ack_an_answer_waits_for_the_brokers_acknowledgement(served, tmp_path):
    scorer, publisher = _ack_scorer(tmp_path)

    async def run() -> tuple[bool, bytes, bytes]:
        scorer.batcher.start()
        single = asyncio.create_task(scorer.predict_one(served, _rows(1)[0]))
        batch = asyncio.create_task(
            scorer.answer_batch_when_room(served, _rows(5), in_thread=True))
        while len(publisher.hooks) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        waiting = not single.done() and not batch.done()  # published, not acknowledged
        publisher.acknowledge()
        answers = await asyncio.gather(single, batch)
        await scorer.batcher.stop()
        return waiting, *answers

    waiting, single, batch = asyncio.run(run())
    assert waiting
    assert "prediction_id" in msgspec.json.decode(single)
    assert msgspec.json.decode(batch)["count"] == 5


def test_with_publish_ack_a_dead_lettered_or_unacknowledged_prediction_gets_503(served,
                                                                                 tmp_path):
    from scorer.publisher import NotAcknowledgedError

    scorer, publisher = _ack_scorer(tmp_path, timeout=0.2)

    async def refused() -> str:
        task = asyncio.create_task(
            scorer.answer_batch_when_room(served, _rows(3), in_thread=False))
        while not publisher.hooks:
            await asyncio.sleep(0.01)
        publisher.acknowledge(fail=True)
        with pytest.raises(NotAcknowledgedError) as caught:
            await task
        return str(caught.value)

    async def timed_out() -> str:
        with pytest.raises(NotAcknowledgedError) as caught:
            await scorer.answer_batch_when_room(served, _rows(3), in_thread=False)
        return str(caught.value)

    assert "dead-letter" in asyncio.run(refused())
    assert "did not acknowledge" in asyncio.run(timed_out())
    rejected = {s.labels["reason"]: s.value for m in scorer.metrics.rejected.collect()
                for s in m.samples if s.name.endswith("_total")}
    assert rejected["not_acknowledged"] == 6
