"""Hot swap under load: a new champion announced on model-updates is picked up without a
restart, no request fails, and every prediction records the version that made it."""

from __future__ import annotations

import re
import threading
import time

from fastapi.testclient import TestClient

from driftline.events import DeadLetter, ModelUpdateEvent, decode, encode, now
from driftline.kafka import Producer, read_topic
from driftline.settings import KafkaSettings
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION, hostile_pipeline
from tests.hostile import hostile_values, produce_between
from tests.scorer.support import (
    failing_pipeline,
    register_estimator,
    register_model,
    register_unchecked,
    scorer_settings,
    wait_for_predictions,
)


def test_hot_swap_under_load_loses_no_request_and_later_predictions_carry_the_new_version(
    kafka: KafkaSettings, driftline_topics, tmp_path
):
    register_model(tmp_path, "credit-risk", seed=1)
    settings = scorer_settings(tmp_path, kafka)
    results: list[list[tuple[int, str, str]]] = [[] for _ in range(4)]
    stop = threading.Event()

    with TestClient(create_app(settings)) as client:

        def load(slot: list[tuple[int, str, str]]) -> None:
            while not stop.is_set():
                response = client.post("/predict", json=APPLICATION)
                body = response.json() if response.status_code == 200 else {}
                slot.append(
                    (response.status_code, body.get("model_version", ""),
                     body.get("prediction_id", ""))
                )

        threads = [threading.Thread(target=load, args=(slot,)) for slot in results]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            new = register_model(tmp_path, "credit-risk", seed=2)
            assert new.version == "2"
            with Producer(kafka) as producer:
                producer.send(
                    driftline_topics["model-updates"],
                    ModelUpdateEvent(event_time=now(), model_name="credit-risk", version="2",
                                     previous_version="1", reason="test"),
                )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                version == "2" for slot in results for _, version, _ in slot[-5:]
            ):
                time.sleep(0.1)
            time.sleep(0.5)  # keep the load on the new version for a while
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        assert client.get("/model").json()["version"] == "2"

    flat = [r for slot in results for r in slot]
    assert {status for status, _, _ in flat} == {200}
    for slot in results:
        versions = [version for _, version, _ in slot]
        assert versions == sorted(versions), "a request went back to the old version"
        assert versions[0] == "1" and versions[-1] == "2"
    on_topic = wait_for_predictions(kafka, {pid for _, _, pid in flat})
    for _, version, pid in flat:
        assert on_topic[pid].model_version == version


def _announce(kafka: KafkaSettings, topic: str, version: str, hostile: dict) -> None:
    """Announce ``version`` on model-updates, the announcement repeated with each hostile
    value after one of them."""
    update = ModelUpdateEvent(event_time=now(), model_name="credit-risk", version=version,
                              reason="test")
    produce_between(kafka, topic, [(update.key, encode(update))] * (len(hostile) + 1), hostile)


def _wait_for(what: str, condition) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_refused_and_failing_versions_and_hostile_updates_leave_the_scorer_serving(
    kafka: KafkaSettings, driftline_topics, tmp_path
):
    marker = tmp_path / "payload-ran"
    updates = driftline_topics["model-updates"]
    register_model(tmp_path, "credit-risk", seed=1)
    hostile = hostile_values(encode(ModelUpdateEvent(event_time=now(), model_name="credit-risk",
                                                     version="1")))
    with TestClient(create_app(scorer_settings(tmp_path, kafka))) as client:
        scorer = client.app.state.scorer
        # a version made of FunctionTransformers over numpy functions: refused, never called
        assert register_unchecked(
            tmp_path, "credit-risk", lambda model: hostile_pipeline(str(marker), model)
        ) == "2"
        _announce(kafka, updates, "2", hostile)
        _wait_for("v2 refused", lambda: "v2" in (client.get("/ready").json()["model_error"]
                                                 or ""))
        ready = client.get("/ready")
        assert ready.status_code == 200
        assert "runstring" in ready.json()["model_error"]
        assert "still serving v1" in ready.json()["model_error"]
        assert client.post("/predict", json=APPLICATION).json()["model_version"] == "1"
        assert not marker.exists()

        # a version whose predict_proba raises: not served, v1 goes on
        assert register_estimator(tmp_path, "credit-risk", failing_pipeline).version == "3"
        _announce(kafka, updates, "3", {})
        _wait_for("v3 refused", lambda: "v3" in (client.get("/ready").json()["model_error"]
                                                 or ""))
        assert "warm-up" in client.get("/ready").json()["model_error"]
        assert client.get("/model").json()["version"] == "1"
        assert client.post("/predict", json=APPLICATION).json()["model_version"] == "1"

        # a good version is still taken after all that
        register_model(tmp_path, "credit-risk", seed=2)
        _announce(kafka, updates, "4", {})
        _wait_for("v4 served", lambda: client.get("/model").json()["version"] == "4")
        assert client.get("/ready").json()["model_error"] is None
        metrics = client.get("/metrics").text
        assert scorer.follower.alive()

    # each announcement read may try the version again: at least once each
    for reason in ("untrusted_types", "warm_up"):
        found = re.search(r'driftline_scorer_model_load_failures_total\{model="credit-risk",'
                          rf'reason="{reason}"\}} (\S+)', metrics)
        assert found is not None and float(found.group(1)) >= 1, reason
    assert not marker.exists()
    letters = [decode(DeadLetter, m.value())
               for m in read_topic(kafka, driftline_topics["dead-letter"], idle_timeout=5)]
    assert len(letters) == len(hostile)
    assert {letter.source_topic for letter in letters} == {updates}
    assert all(letter.error for letter in letters)


def test_a_scorer_whose_champion_is_refused_starts_unready_and_serves_the_next_good_version(
    kafka: KafkaSettings, driftline_topics, tmp_path
):
    marker = tmp_path / "payload-ran"
    assert register_unchecked(
        tmp_path, "credit-risk", lambda model: hostile_pipeline(str(marker), model)) == "1"
    with TestClient(create_app(scorer_settings(tmp_path, kafka))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503 and not ready.json()["model_loaded"]
        assert "runstring" in ready.json()["model_error"]
        assert client.post("/predict", json=APPLICATION).status_code == 503
        register_model(tmp_path, "credit-risk", seed=2)
        _announce(kafka, driftline_topics["model-updates"], "2", {})
        _wait_for("v2 served", lambda: client.get("/ready").status_code == 200)
        assert client.post("/predict", json=APPLICATION).json()["model_version"] == "2"
    assert not marker.exists()
