"""``DRIFTLINE_LOG_FORMAT=json`` on a real scorer process: every line it writes, uvicorn's
included, is one JSON object, and the lines about the served model name it and its version."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from driftline.kafka import create_topics
from driftline.settings import KafkaSettings
from tests.driftline.model.support import APPLICATION
from tests.log_lines import json_log
from tests.scorer.support import register_model, start_scorer


def test_the_scorer_logs_one_json_object_per_line_naming_the_served_version(
    kafka_bootstrap: str, tmp_path: Path
):
    register_model(tmp_path, "credit-risk")
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:8]}.")
    create_topics(kafka)
    log = tmp_path / "scorer.log"
    scorer = start_scorer(tmp_path, kafka, log, DRIFTLINE_LOG_FORMAT="json",
                          DRIFTLINE_LOG_LEVEL="INFO", DRIFTLINE_ACCESS_LOG="true")
    try:
        scorer.wait_ready()
        answer = httpx.post(f"{scorer.url}/predict", json={**APPLICATION, "request_id": "r-1"},
                            timeout=30)
        assert answer.status_code == 200
        refused = httpx.post(f"{scorer.url}/predict", json={**APPLICATION, "amount": "lots"},
                             timeout=30)
        assert refused.status_code == 422
    finally:
        scorer.signal()

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
