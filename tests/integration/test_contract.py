"""The contract for services not written in Python, against the real broker: murmur2 as
computed here is where driftline's producer puts a key, and predictions and labels written
by a plain client with librdkafka's default partitioner (consistent_random), by the `kcat`
command line tool, by DriftlineClient and over HTTP (POST /labels/batch) all join, nothing
lost."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import Producer as PlainProducer
from fastapi.testclient import TestClient

from driftline.client import DriftlineClient
from driftline.events import LabeledEvent, decode
from driftline.kafka import Producer, create_topics, read_topic
from driftline.partitioning import partition_of
from driftline.settings import KafkaSettings
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION
from tests.integration.test_monitor import (  # noqa: F401 (registry_home is a fixture)
    _count,
    _free_port,
    _scrape,
    _start,
    _stop,
    _wait,
    registry_home,
)
from tests.scorer.support import scorer_settings

T0 = 1_700_000_000.0


def test_murmur2_computed_here_is_where_driftlines_producer_puts_each_key(
    kafka: KafkaSettings, topic_factory
):
    topic = topic_factory(partitions=6)
    keys = [f"{uuid.uuid4().hex}".encode() for _ in range(120)] + [b"p-1", b"order-81", b"x"]
    with Producer(kafka) as producer:
        for key in keys:
            producer.produce(topic, b"{}", key)
    placed = {m.key(): m.partition() for m in read_topic(kafka, topic)}
    assert placed == {key: partition_of(key, 6) for key in keys}


def _plain_producer(kafka: KafkaSettings) -> PlainProducer:
    """A client as any team would write it: librdkafka's defaults (consistent_random)."""
    return PlainProducer({"bootstrap.servers": kafka.bootstrap})


def _prediction_json(pid: str, t: float) -> bytes:
    """A PredictionEvent as the exported schema describes it, built without driftline."""
    return json.dumps({
        "schema_version": 1, "event_time": t, "prediction_id": pid,
        "model_name": "credit-risk", "model_version": "1", "features": APPLICATION,
        "score": 0.2, "decision": "LOW",
    }).encode()


def _rerouted(port: int) -> float:
    return sum(v for (name, _), v in _scrape(port).items()
               if name == "driftline_monitor_rerouted_total")


def test_predictions_and_labels_from_any_partitioner_all_join(
    kafka_bootstrap: str, registry_home: Path, tmp_path: Path  # noqa: F811
):
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    create_topics(kafka)
    predictions, labels = kafka.topic("predictions"), kafka.topic("labels")
    plain = [f"plain-{i:03d}" for i in range(100)]
    placed: dict[bytes, int] = {}

    def record(err, msg) -> None:
        assert err is None, err
        placed[msg.key()] = msg.partition()

    producer = _plain_producer(kafka)
    for i, pid in enumerate(plain):
        producer.produce(predictions, _prediction_json(pid, T0 + i * 0.01), pid.encode(),
                         on_delivery=record)
    for i, pid in enumerate(plain[:60]):
        label = {"event_time": T0 + 5 + i * 0.01, "prediction_id": pid, "label": i % 2}
        producer.produce(labels, json.dumps(label).encode(), pid.encode(), on_delivery=record)
    assert producer.flush(30) == 0
    # the plain client placed keys elsewhere than murmur2 would: the monitor must move them
    assert any(partition_of(key, 6) != p for key, p in placed.items())

    with DriftlineClient(kafka, model_name="credit-risk", model_version="1") as client:
        by_client = [
            client.prediction(APPLICATION, 0.4, "MEDIUM", event_time=T0 + 1 + i * 0.01)
            for i in range(20)
        ]
        for i, pid in enumerate(plain[60:90]):
            client.label(pid, 1, event_time=T0 + 6 + i * 0.01)
        assert client.flush() == 0 and client.failed == 0
    over_http = plain[90:] + by_client
    with TestClient(create_app(scorer_settings(registry_home, kafka))) as http:
        answer = http.post("/labels/batch", json={"labels": [
            {"prediction_id": pid, "label": 0, "event_time": T0 + 7} for pid in over_http
        ]})
        assert answer.status_code == 200, answer.text

    sent = set(plain) | set(by_client)
    log, port = tmp_path / "monitor.log", _free_port()
    proc = _start(registry_home, kafka, "contract-monitor", log,
                  DRIFTLINE_METRICS_PORT=str(port))
    try:
        _wait("every prediction labeled", lambda: _count(kafka, kafka.topic("labeled"))
              >= len(sent), 120, log)
        moved = sum(1 for key, p in placed.items() if partition_of(key, 6) != p)
        # the source process ships its counters to the worker's /metrics once a second
        _wait("the moved messages counted", lambda: _rerouted(port) >= moved, 30, log)
    finally:
        _stop(proc)
    joined = [decode(LabeledEvent, m.value()) for m in read_topic(kafka, kafka.topic("labeled"))]
    assert len(joined) == len(sent)
    assert {j.prediction.prediction_id for j in joined} == sent
    assert {j.prediction.prediction_id: j.label for j in joined} == {
        **{pid: i % 2 for i, pid in enumerate(plain[:60])},
        **dict.fromkeys(plain[60:90], 1), **dict.fromkeys(over_http, 0),
    }


SCHEMAS = Path(__file__).parents[2] / "docs" / "schemas"


def _follows_schema(event: str, payload: bytes) -> bytes:
    """``payload`` after checking it against the exported schema's top level: every required
    field there, no field the schema does not name, each of the type it states."""
    schema = json.loads((SCHEMAS / f"{event}.schema.json").read_text())
    value = json.loads(payload)
    types = {"string": str, "number": (int, float), "integer": int, "object": dict}
    assert set(schema["required"]) <= value.keys() <= schema["properties"].keys(), value
    for name, field in value.items():
        expected = schema["properties"][name].get("type")
        if expected in types:
            assert isinstance(field, types[expected]) and not isinstance(field, bool), name
    return payload


def _kcat(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    """Write ``messages`` (key, value) with the kcat binary: one per line, the key before a
    tab (-K), partitioned by librdkafka's default partitioner (consistent_random)."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not on PATH; scripts/system-packages installs it (make test runs it)"
    lines = b"".join(key.encode() + b"\t" + value + b"\n" for key, value in messages)
    done = subprocess.run([kcat, "-P", "-b", bootstrap, "-t", topic, "-K", "\t"],
                          input=lines, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def test_predictions_and_labels_written_by_kcat_all_join(
    kafka_bootstrap: str, registry_home: Path, tmp_path: Path  # noqa: F811
):
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    create_topics(kafka)
    predictions, labels = kafka.topic("predictions"), kafka.topic("labels")
    ids = [f"kcat-{i:03d}" for i in range(120)]
    _kcat(kafka_bootstrap, predictions, [
        (pid, _follows_schema("PredictionEvent", _prediction_json(pid, T0 + i * 0.01)))
        for i, pid in enumerate(ids)])
    _kcat(kafka_bootstrap, labels, [
        (pid, _follows_schema("LabelEvent", json.dumps(
            {"event_time": T0 + 5 + i * 0.01, "prediction_id": pid, "label": i % 2}).encode()))
        for i, pid in enumerate(ids)])
    placed = {(topic, m.key()): m.partition()
              for topic in (predictions, labels) for m in read_topic(kafka, topic)}
    assert len(placed) == 2 * len(ids)  # kcat delivered every message
    moved = {topic: sum(1 for (t, key), p in placed.items()
                        if t == topic and partition_of(key, 6) != p)
             for topic in (predictions, labels)}
    # kcat placed keys elsewhere than murmur2 would: the monitor must move them
    assert moved[predictions] > 0 and moved[labels] > 0

    log, port = tmp_path / "monitor.log", _free_port()
    proc = _start(registry_home, kafka, "kcat-monitor", log, DRIFTLINE_METRICS_PORT=str(port))
    try:
        _wait("every prediction labeled", lambda: _count(kafka, kafka.topic("labeled"))
              >= len(ids), 120, log)
        # the source process ships its counters to the worker's /metrics once a second
        _wait("the moved messages counted",
              lambda: _rerouted(port) >= sum(moved.values()), 30, log)
        counted = {dict(sample)["topic"]: v for (name, sample), v in _scrape(port).items()
                   if name == "driftline_monitor_rerouted_total"}
    finally:
        _stop(proc)
    assert counted == moved  # each moved message counted once, on its topic
    joined = [decode(LabeledEvent, m.value()) for m in read_topic(kafka, kafka.topic("labeled"))]
    assert sorted(j.prediction.prediction_id for j in joined) == ids
    assert {j.prediction.prediction_id: j.label for j in joined} == {
        pid: i % 2 for i, pid in enumerate(ids)}
