"""Helpers shared by the scorer's tests: a registered model in a throwaway registry, settings
pointing at a test broker, and reading predictions back from the topic."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow

from driftline.events import PredictionEvent, decode
from driftline.features import CREDIT_RISK
from driftline.kafka import read_topic
from driftline.model.registry import ModelVersionRef, configure, register_version
from driftline.settings import KafkaSettings
from producers.bootstrap import train_default
from scorer.settings import ScorerSettings


def register_model(
    home: Path, name: str, *, seed: int = 7, rows: int = 4000, alias: str | None = "champion"
) -> ModelVersionRef:
    """Train the default pipeline on a small seeded sample and register it under ``name``."""
    experiment = configure(home)
    trained = train_default(seed=seed, rows=rows)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_metrics(trained.metrics)
        return register_version(
            name, trained.model, signature=trained.signature, profile=trained.profile,
            features=CREDIT_RISK, alias=alias,
        )


def scorer_settings(home: Path, kafka: KafkaSettings, **overrides: Any) -> ScorerSettings:
    """Settings for a scorer under test: its own home, broker and topic prefix."""
    values: dict[str, Any] = {
        "home": home, "kafka": kafka, "startup_timeout_s": 60.0, "kafka_probe_s": 0.5,
        "model_poll_s": 0.0,
    }
    values.update(overrides)
    return ScorerSettings(**values)


def wait_for_predictions(
    kafka: KafkaSettings, ids: set[str], timeout: float = 60.0
) -> dict[str, PredictionEvent]:
    """Read ``predictions`` with an independent consumer until every id in ``ids`` is there."""
    deadline = time.monotonic() + timeout
    while True:
        found = predictions_on_topic(kafka)
        missing = ids - found.keys()
        if not missing:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(missing)} of {len(ids)} predictions never reached Kafka")
        time.sleep(0.5)


def predictions_on_topic(kafka: KafkaSettings) -> dict[str, PredictionEvent]:
    """Every PredictionEvent on the prefixed ``predictions`` topic, by prediction_id (key)."""
    topic = f"{kafka.topic_prefix}predictions"
    found = {}
    for msg in read_topic(kafka, topic, idle_timeout=20):
        event = decode(PredictionEvent, msg.value())
        assert msg.key() == event.key
        found[event.prediction_id] = event
    return found
