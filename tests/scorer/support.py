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
from producers.generator import GeneratorParams
from scorer.settings import ScorerSettings


def register_model(
    home: Path, name: str, *, seed: int = 7, rows: int = 4000, alias: str | None = "champion",
    params: GeneratorParams | None = None,
) -> ModelVersionRef:
    """Train the default pipeline on a small seeded sample (of the population ``params``
    describes; None: the stable one) and register it under ``name``."""
    experiment = configure(home)
    trained = train_default(seed=seed, rows=rows, params=params)
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_metrics(trained.metrics)
        return register_version(
            name, trained.model, signature=trained.signature, profile=trained.profile,
            features=CREDIT_RISK, alias=alias,
        )


def register_estimator(home: Path, name: str, build: Any, *, alias: str | None = "champion",
                       trusted_types: list[str] | None = None) -> ModelVersionRef:
    """Register ``build(trained)`` (an estimator made from a small trained default pipeline)
    with the default pipeline's signature and profile: a version that loads or fails the way
    the estimator does."""
    experiment = configure(home)
    trained = train_default(seed=3, rows=1000)
    with mlflow.start_run(experiment_id=experiment):
        return register_version(
            name, build(trained.model), signature=trained.signature, profile=trained.profile,
            features=CREDIT_RISK, alias=alias, trusted_types=trusted_types,
        )


def register_unchecked(home: Path, name: str, build: Any) -> str:
    """Register ``build(trained)`` as the champion with MLflow directly, as anyone with write
    access to the registry can, past driftline's checks at registration; its version."""
    import sklearn
    import skops
    import skops.io

    experiment = configure(home)
    trained = train_default(seed=3, rows=1000)
    model = build(trained.model)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.sklearn.log_model(
            model, name="model", signature=trained.signature, serialization_format="skops",
            registered_model_name=name,
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}",
                              f"skops=={skops.__version__}"],
        )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
    return version


def failing_pipeline(trained: Any) -> Any:
    """The trained pipeline's preparation before a classifier fitted on two columns: every
    type is trusted, and every ``predict_proba`` raises."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    narrow = LogisticRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0]] * 2), [0, 1, 0, 1])
    return Pipeline([("prepare", trained.steps[0][1]), ("classify", narrow)])


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
