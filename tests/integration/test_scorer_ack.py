"""A scorer process killed with -9 under load: with DRIFTLINE_PUBLISH=ack every prediction it
answered is on the topic; with the default (answer once queued) the answers of the last
moments are lost, the bound the default documents. The producer lingers 1.5 s here, so
queued predictions are plainly in memory at the kill."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from pathlib import Path

import httpx

from driftline.kafka import create_topics
from driftline.settings import KafkaSettings
from tests.driftline.model.support import APPLICATION
from tests.scorer.support import (
    predictions_on_topic,
    register_model,
    start_scorer,
    wait_until,
)

LINGER_MS = 1500


def _killed_under_load(kafka_bootstrap: str, home: Path, publish: str) -> tuple[set[str],
                                                                                set[str]]:
    """Start a scorer, send batches from three threads, kill -9 it; (answered ids, ids on
    the topic)."""
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    scorer = start_scorer(
        home, kafka, home / f"scorer-{publish}.log", DRIFTLINE_PUBLISH=publish,
        DRIFTLINE_ACK_TIMEOUT_S="30", DRIFTLINE_LOG_LEVEL="WARNING",
        DRIFTLINE_KAFKA_CLIENT_OPTIONS=json.dumps({"linger.ms": LINGER_MS}),
    )
    url = scorer.url
    answered: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def traffic(worker: int) -> None:
        with httpx.Client(timeout=60) as client:
            n = 0
            while not stop.is_set():
                rows = [{**APPLICATION, "request_id": f"{publish}-{worker}-{n}-{i}"}
                        for i in range(20)]
                n += 1
                try:
                    response = client.post(f"{url}/predict/batch", json={"rows": rows})
                except httpx.HTTPError:
                    return  # the process is gone
                if response.status_code == 200:
                    with lock:
                        answered.update(p["prediction_id"]
                                        for p in response.json()["predictions"])

    try:
        scorer.wait_ready()
        senders = [threading.Thread(target=traffic, args=(w,)) for w in range(3)]
        for sender in senders:
            sender.start()
        wait_until(lambda: len(answered) >= 200, 120, "answers under load")
        time.sleep(LINGER_MS / 1000 * 2)
        scorer.signal(signal.SIGKILL, 30)
        with lock:
            given = set(answered)  # answered before the kill
        stop.set()
        for sender in senders:
            sender.join(30)
    finally:
        stop.set()
        scorer.signal(signal.SIGKILL, 30)
    return given, set(predictions_on_topic(kafka))


def test_with_publish_ack_nothing_answered_is_lost_when_the_scorer_is_killed(
    kafka_bootstrap: str, tmp_path: Path
):
    register_model(tmp_path, "credit-risk")
    answered, on_topic = _killed_under_load(kafka_bootstrap, tmp_path, "ack")
    assert len(answered) >= 200
    assert answered <= on_topic, f"{len(answered - on_topic)} answered predictions lost"

    # the default answers once queued: what was queued at the kill is lost
    answered, on_topic = _killed_under_load(kafka_bootstrap, tmp_path, "buffer")
    assert answered - on_topic, "nothing lost: the kill did not catch predictions in memory"
