"""Hot swap under load: a new champion announced on model-updates is picked up without a
restart, no request fails, and every prediction records the version that made it."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from driftline.events import ModelUpdateEvent, now
from driftline.kafka import Producer
from driftline.settings import KafkaSettings
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION
from tests.scorer.support import register_model, scorer_settings, wait_for_predictions


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
