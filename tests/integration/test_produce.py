"""driftline produce against the real broker: transactions and labels on their topics, and over
HTTP against the scorer itself (and a stand-in app for the failure paths)."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import uvicorn
from typer.testing import CliRunner

from driftline.cli import app
from driftline.events import LabelEvent, TransactionEvent, decode
from driftline.kafka import read_topic
from driftline.settings import KafkaSettings
from producers.generator import LAKH
from producers.produce import ProduceOptions, produce
from producers.settings import ProducerSettings

START = 1_790_000_000.0


def _decoded(kafka: KafkaSettings, topic: str, cls):
    out = []
    for msg in read_topic(kafka, topic, idle_timeout=20):
        event = decode(cls, msg.value())
        assert msg.key() == event.key
        out.append(event)
    return out


def test_produce_to_kafka_writes_transactions_and_their_labels(kafka, driftline_topics, tmp_path):
    # 1,000 requests over 20 simulated seconds (50 per simulated second), in 2 wall seconds.
    options = ProduceOptions(
        to="kafka",
        scenario="stable:8s,loan-amount-shift:6s,loan-amount-shift+data-quality:share=0.2",
        rate=500.0, time_scale=10.0, count=1_000, seed=3, run_id="it",
        start_time=START, label_delay="fixed:2s", label_loss=0.1, drain=True,
    )
    settings = ProducerSettings(home=tmp_path, kafka=kafka)
    summary = asyncio.run(produce(settings, options))
    assert summary.sent == summary.accepted == 1_000 and summary.failed == 0

    transactions = {
        t.request_id: t for t in _decoded(kafka, driftline_topics["transactions"], TransactionEvent)
    }
    labels = _decoded(kafka, driftline_topics["labels"], LabelEvent)
    assert len(transactions) == 1_000
    for i in range(1_000):
        event = transactions[f"it-{i:08d}"]
        assert event.entity_id == event.request_id
        assert event.event_time == pytest.approx(START + i * 0.02)
    # The shift is visible in the data on the topic.
    loans = [(t.event_time - START, t.features.get("loan_amount")) for t in transactions.values()]
    before = np.mean([v for s, v in loans if s < 8 and v is not None])
    after = np.mean([v for s, v in loans if 8 <= s < 14 and v is not None])
    assert before == pytest.approx(2.5 * LAKH, rel=0.1)
    assert after == pytest.approx(8.5 * LAKH, rel=0.1)

    # Malformed requests (the last 6 s) get no label; of the rest about 10% never arrive.
    assert 40 < summary.malformed_sent < 100
    assert len(labels) == summary.labels_emitted == 1_000 - summary.malformed_sent - (
        summary.labels_never
    )
    assert summary.labels_pending == 0
    for label in labels:
        transaction = transactions[label.prediction_id]
        assert label.event_time == pytest.approx(transaction.event_time + 2.0)
        assert "loan_amount" in transaction.features  # never a malformed one


def test_cli_produce_prints_the_summary(kafka, driftline_topics, monkeypatch):
    monkeypatch.setenv("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("DRIFTLINE_KAFKA_TOPIC_PREFIX", kafka.topic_prefix)
    result = CliRunner().invoke(app, [
        "produce", "--to", "kafka", "--count", "50", "--rate", "200", "--label-delay",
        "fixed:1h", "--label-loss", "0", "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    counts = {
        m.group("name"): int(m.group("n"))
        for m in re.finditer(r"^(?P<name>[a-z][a-z ]*?) +(?P<n>\d+)", result.output, re.M)
    }
    assert counts["sent"] == counts["accepted"] == counts["labels pending"] == 50
    assert counts["labels emitted"] == counts["rejected"] == 0
    assert len(read_topic(kafka, driftline_topics["transactions"])) == 50


# -- HTTP ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serve(asgi_app) -> Iterator[str]:
    """Serve ``asgi_app`` with uvicorn on a free loopback port in a thread."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_http_counts_match_what_the_scorer_published(kafka, driftline_topics, tmp_path):
    """Against the real scorer app: every accepted request is a prediction on the
    ``predictions`` topic under the same id, every rejection a malformed request, and every
    label is keyed by one of those predictions."""
    pytest.importorskip("scorer.app")
    from scorer.app import create_app
    from tests.scorer.support import predictions_on_topic, register_model, scorer_settings

    home = tmp_path / "scorer"
    register_model(home, "credit-risk", rows=2000)
    scorer = create_app(scorer_settings(home, kafka))
    options = ProduceOptions(
        to="http", scenario="stable:1s,data-quality:share=0.25", rate=200.0, count=300,
        seed=5, run_id="http", label_delay="fixed:1s", label_loss=0.1, drain=True,
        concurrency=16,
    )
    with _serve(scorer) as url:
        settings = ProducerSettings(home=tmp_path, kafka=kafka, scorer_url=url)
        summary = asyncio.run(produce(settings, options))

    assert summary.sent == 300 and summary.failed == 0
    assert summary.rejected == summary.malformed_sent > 10
    assert set(summary.reasons) == {"HTTP 422"}
    predictions = predictions_on_topic(kafka)
    ours = {pid for pid, p in predictions.items() if (p.entity_id or "").startswith("http-")}
    assert len(ours) == summary.accepted == 300 - summary.rejected
    labels = _decoded(kafka, driftline_topics["labels"], LabelEvent)
    assert len(labels) == summary.labels_emitted == summary.accepted - summary.labels_never
    assert {label.prediction_id for label in labels} <= ours


def test_http_to_a_scorer_that_is_down_fails_every_request(kafka, driftline_topics, tmp_path):
    settings = ProducerSettings(
        home=tmp_path, kafka=kafka, scorer_url=f"http://127.0.0.1:{_free_port()}"
    )
    options = ProduceOptions(to="http", count=20, rate=100.0, label_delay="fixed:1s")
    summary = asyncio.run(produce(settings, options))
    assert summary.failed == 20 and summary.accepted == 0 and summary.labels_emitted == 0
