"""Helpers shared by the scorer's tests: a registered model in a throwaway registry, settings
pointing at a test broker, a scorer process of its own, and reading predictions back from
the topic."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (other test sessions may run brokers on fixed ones)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def wait_until(condition: Any, timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s until it is true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class ScorerProcess:
    """A ``driftline serve`` process of a test, in its own process group."""

    proc: subprocess.Popen
    url: str

    def ready(self) -> bool:
        """True once ``/ready`` answers 200."""
        try:
            return httpx.get(f"{self.url}/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(self.ready, timeout, "the scorer to be ready")

    def signal(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> None:
        """Send ``sig`` to the process group (if it still runs) and wait for the exit."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout)


def start_scorer(home: Path, kafka: KafkaSettings, log: Path, **env: str) -> ScorerProcess:
    """Start ``driftline serve`` on a free port with ``home`` (its registry), the test
    broker and topic prefix of ``kafka``, and ``DRIFTLINE_*`` overrides ``env``; its output
    goes to ``log``. No other ``DRIFTLINE_*`` variable of the test process reaches it."""
    (port,) = free_ports(1)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    environ.update({
        "DRIFTLINE_HOME": str(home), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix, "DRIFTLINE_PORT": str(port),
        **env,
    })
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "serve"], env=environ,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return ScorerProcess(proc, f"http://127.0.0.1:{port}")
