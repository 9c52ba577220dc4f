"""The scorer over HTTP against the real broker and an embedded MLflow registry.

One app (one TestClient) serves every test of this module: predictions, validation, limits,
operations and the model endpoint.
"""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from driftline.kafka import create_topics, delete_topics
from driftline.settings import KafkaSettings
from driftline.topics import topic_names
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION
from tests.scorer.support import (
    register_model,
    scorer_settings,
    wait_for_predictions,
    wait_until,
)

MAX_ROWS = 50


@pytest.fixture(scope="module")
def kafka_module(kafka_bootstrap: str):
    kafka = KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}."
    )
    create_topics(kafka)
    yield kafka
    delete_topics(kafka, topic_names(kafka.topic_prefix).values())


@pytest.fixture(scope="module")
def client(kafka_module: KafkaSettings, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("scorer-home")
    register_model(home, "credit-risk")
    settings = scorer_settings(home, kafka_module, max_batch_rows=MAX_ROWS, max_body_bytes=4096)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_prediction_is_published_with_identical_features_and_version(client, kafka_module):
    response = client.post("/predict", json={**APPLICATION, "entity_id": "app-7"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"prediction_id", "default_probability", "risk_tier", "score", "decision",
                         "model_version"}
    assert body["model_version"] == "1"
    assert body["risk_tier"] in ("LOW", "MEDIUM", "HIGH")

    event = wait_for_predictions(kafka_module, {body["prediction_id"]})[body["prediction_id"]]
    assert event.features == APPLICATION
    assert (event.model_name, event.model_version) == ("credit-risk", "1")
    assert event.score == body["default_probability"]
    assert event.decision == body["risk_tier"]
    assert event.entity_id == "app-7"


def test_batch_predictions_are_all_published_in_request_order(client, kafka_module):
    rows = [{**APPLICATION, "loan_amount": 100_000.0 * (i + 1)} for i in range(MAX_ROWS)]
    response = client.post("/predict/batch", json={"rows": rows})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == MAX_ROWS and body["model_version"] == "1"
    ids = [p["prediction_id"] for p in body["predictions"]]
    assert len(set(ids)) == MAX_ROWS

    events = wait_for_predictions(kafka_module, set(ids))
    for row, prediction in zip(rows, body["predictions"], strict=True):
        event = events[prediction["prediction_id"]]
        assert event.features == row
        assert event.model_version == "1"
        assert event.score == prediction["default_probability"]


def test_request_id_becomes_the_prediction_id(client, kafka_module):
    request_id = f"req-{uuid.uuid4().hex}"
    response = client.post("/predict", json={**APPLICATION, "request_id": request_id})
    assert response.json()["prediction_id"] == request_id
    assert request_id in wait_for_predictions(kafka_module, {request_id})


def test_invalid_fields_are_all_named_in_one_422(client):
    bad = {**APPLICATION, "annual_income": -5, "loan_amount": "lots", "channel": 7}
    del bad["city_tier"]
    bad["colour"] = "red"
    response = client.post("/predict", json=bad)
    assert response.status_code == 422
    named = {tuple(e["loc"]) for e in response.json()["detail"]}
    assert named == {
        ("body", "annual_income"), ("body", "loan_amount"), ("body", "channel"),
        ("body", "city_tier"), ("body", "colour"),
    }


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_422_naming_the_field(client, token):
    raw = json.dumps(APPLICATION).replace("250000.0", token)
    response = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "loan_amount"]


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b"\xff\xfe"])
def test_unreadable_bodies_are_422_not_500(client, raw):
    assert client.post("/predict", content=raw).status_code == 422


def test_batch_error_names_row_and_field(client):
    rows = [APPLICATION, {**APPLICATION, "employment_years": 99}]
    response = client.post("/predict/batch", json={"rows": rows})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rows", 1, "employment_years"]


def test_oversized_body_is_413(client):
    response = client.post("/predict", json={**APPLICATION, "entity_id": "x" * 5000})
    assert response.status_code == 413


def test_oversized_batch_is_413(client):
    response = client.post("/predict/batch", json={"rows": [APPLICATION] * (MAX_ROWS + 1)})
    assert response.status_code == 413
    assert "DRIFTLINE_MAX_BATCH_ROWS" in response.json()["detail"]


def test_model_endpoint_shows_version_and_registry_metadata(client):
    body = client.get("/model").json()
    assert (body["name"], body["version"], body["alias"]) == ("credit-risk", "1", "champion")
    assert body["run_id"] and "holdout_auc" in body["metrics"]
    assert [i["name"] for i in body["inputs"]] == list(APPLICATION)


def test_health_and_ready_answer(client):
    assert client.get("/health").json() == {"status": "ok"}
    # the first Kafka probe runs in a background thread; /ready is 503 until it answered
    wait_until(lambda: client.get("/ready").status_code == 200, 30, "/ready")
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["kafka_reachable"] and ready.json()["model_version"] == "1"


def test_metrics_export_driftline_names(client):
    from prometheus_client.parser import text_string_to_metric_families

    client.post("/predict", json=APPLICATION)
    client.post("/predict", json={**APPLICATION, "channel": 7})
    text = client.get("/metrics").text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    assert value("driftline_scorer_request_duration_seconds_count", route="/predict") >= 1
    assert value("driftline_scorer_predictions_total", model="credit-risk", version="1",
                 risk_tier="LOW", source="http") is not None
    assert value("driftline_scorer_publish_buffer_messages") is not None
    assert "# TYPE driftline_scorer_publish_failures_total counter" in text
    assert value("driftline_scorer_model_info", model="credit-risk", version="1") == 1
    assert value("driftline_scorer_rejected_total", reason="invalid") >= 1
    # at 0 before their first event
    assert value("driftline_scorer_rejected_total", reason="buffer_full") == 0
    for tier in ("LOW", "MEDIUM", "HIGH"):
        assert value("driftline_scorer_predictions_total", model="credit-risk", version="1",
                     risk_tier=tier, source="stream") == 0
