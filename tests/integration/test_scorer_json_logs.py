"""``DRIFTLINE_LOG_FORMAT=json`` on a real scorer process: every line it writes, uvicorn's
included, is one JSON object, and the lines about the served model name it and its version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from driftline.kafka import create_topics
from driftline.settings import KafkaSettings
from tests.driftline.model.support import APPLICATION
from tests.integration.test_scorer_broker_restart import free_ports, wait_until
from tests.log_lines import json_log
from tests.scorer.support import register_model


def test_the_scorer_logs_one_json_object_per_line_naming_the_served_version(
    kafka_bootstrap: str, tmp_path: Path
):
    register_model(tmp_path, "credit-risk")
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    (port,) = free_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({
        "DRIFTLINE_HOME": str(tmp_path), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix, "DRIFTLINE_PORT": str(port),
        "DRIFTLINE_LOG_FORMAT": "json", "DRIFTLINE_LOG_LEVEL": "INFO",
        "DRIFTLINE_ACCESS_LOG": "true",
    })
    log = tmp_path / "scorer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "serve"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 120, "the scorer to be ready")
        answer = httpx.post(f"{url}/predict", json={**APPLICATION, "request_id": "r-1"},
                            timeout=30)
        assert answer.status_code == 200
        refused = httpx.post(f"{url}/predict", json={**APPLICATION, "amount": "lots"},
                             timeout=30)
        assert refused.status_code == 422
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)

    records = json_log(log)
    assert all({"time", "level", "logger", "message", "service", "pid"} <= r.keys()
               for r in records)
    assert {r["service"] for r in records} == {"scorer"}
    [serving] = [r for r in records if r["message"].startswith("serving credit-risk")]
    assert (serving["model"], serving["version"], serving["alias"]) == (
        "credit-risk", "1", "champion")
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any("/predict" in r["message"] and "200" in r["message"] for r in access)
    assert any("/predict" in r["message"] and "422" in r["message"] for r in access)
