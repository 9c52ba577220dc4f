"""DRIFTLINE_API_KEY: prediction and admin endpoints require it, probes and metrics do not."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from driftline.settings import KafkaSettings
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION
from tests.scorer.support import register_model, scorer_settings, wait_until

KEY = "s3cret-key"


@pytest.fixture
def client(kafka: KafkaSettings, driftline_topics, tmp_path):
    register_model(tmp_path, "credit-risk")
    with TestClient(create_app(scorer_settings(tmp_path, kafka, api_key=KEY))) as test_client:
        yield test_client


def test_api_key_guards_prediction_and_admin_endpoints(client):
    for method, path, body in (
        ("POST", "/predict", APPLICATION),
        ("POST", "/predict/batch", {"rows": [APPLICATION]}),
        ("GET", "/model", None),
        ("POST", "/model/reload", None),
    ):
        missing = client.request(method, path, json=body)
        wrong = client.request(method, path, json=body, headers={"X-API-Key": "nope"})
        assert (missing.status_code, wrong.status_code) == (401, 401), path
        assert missing.headers["www-authenticate"] == "Bearer"
        by_header = client.request(method, path, json=body, headers={"X-API-Key": KEY})
        by_bearer = client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert (by_header.status_code, by_bearer.status_code) == (200, 200), path
    refused = client.app.state.scorer.metrics.registry.get_sample_value(
        "driftline_scorer_rejected_total", {"reason": "unauthorized"})
    assert refused == 8  # a missing and a wrong key on each of the four paths


def test_probes_and_metrics_need_no_key(client):
    assert client.get("/health").status_code == 200
    # /ready turns 200 once the Kafka probe (a background thread) has answered; until then it
    # says 503, and with a key required it would say 401 for good.
    assert client.get("/ready").status_code in (200, 503)
    wait_until(lambda: client.get("/ready").status_code == 200, 30, "/ready without a key")
    assert client.get("/metrics").status_code == 200
