"""The broker stopped and restarted under traffic: every answered prediction reaches the topic,
and once the bounded buffer is full the scorer answers 503 instead of dropping anything.

Uses a broker of its own (separate ports and data folder) so stopping it disturbs no other test.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from driftline.kafka import create_topics
from driftline.localkafka import LocalKafka
from driftline.settings import DriftlineSettings, KafkaSettings
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION
from tests.scorer.support import (
    free_ports,
    register_model,
    scorer_settings,
    wait_for_predictions,
    wait_until,
)

CAPACITY = 100


@pytest.fixture
def own_broker(tmp_path):
    port, controller = free_ports(2)
    local = LocalKafka(
        DriftlineSettings(
            home=tmp_path / "broker",
            kafka=KafkaSettings(
                bootstrap_servers=None, local_port=port, local_controller_port=controller
            ),
        )
    )
    local.start(timeout=120)
    try:
        yield local
    finally:
        local.stop()


def test_broker_restart_under_traffic_loses_no_prediction(own_broker: LocalKafka, tmp_path):
    kafka = KafkaSettings(
        bootstrap_servers=own_broker.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:8]}."
    )
    create_topics(kafka)
    register_model(tmp_path, "credit-risk")
    settings = scorer_settings(tmp_path, kafka, buffer_max_messages=CAPACITY)
    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    with TestClient(create_app(settings)) as client:

        def traffic() -> None:
            while not stop.is_set():
                response = client.post("/predict", json=APPLICATION)
                body = response.json()
                answers.append((response.status_code, body.get("prediction_id", "")))
                time.sleep(0.01)

        sender = threading.Thread(target=traffic)
        sender.start()
        try:
            time.sleep(1.0)
            own_broker.stop()
            wait_until(lambda: not client.get("/ready").json()["kafka_reachable"], 30,
                       "/ready to report Kafka unreachable")
            assert client.get("/ready").status_code == 503
            wait_until(lambda: any(status == 503 for status, _ in answers), 60,
                       "the full buffer to answer 503")
            own_broker.start(timeout=120)
            wait_until(lambda: client.get("/ready").status_code == 200, 90,
                       "/ready to recover after the restart")
            time.sleep(1.0)
        finally:
            stop.set()
            sender.join(timeout=30)
        wait_until(lambda: client.get("/ready").json()["buffered"] == 0, 60, "the buffer to drain")
        metrics = client.get("/metrics").text

    statuses = {status for status, _ in answers}
    assert statuses == {200, 503}, statuses
    accepted = {pid for status, pid in answers if status == 200}
    on_topic = wait_for_predictions(kafka, accepted)
    assert accepted <= on_topic.keys()
    # 503s were refused before scoring: nothing beyond what was answered 200 was published
    assert on_topic.keys() == accepted
    assert 'driftline_scorer_rejected_total{reason="buffer_full"}' in metrics
