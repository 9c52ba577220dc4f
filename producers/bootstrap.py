"""The default credit-risk model: trained on synthetic history, registered as the champion.

``driftline bootstrap`` calls :func:`bootstrap`: it draws seeded loan applications from
:class:`~producers.generator.LoanGenerator`, fits
:func:`~driftline.model.pipeline.default_pipeline` (scaling and one-hot encoding, then logistic
regression), logs the run to MLflow (parameters, holdout AUC / precision / recall / Brier /
log loss, the training data), and registers version 1 with the alias ``champion``, its
signature, its reference profile (with the calibration and permutation importance measured on
the holdout rows) and its decision policy (``default_probability`` and
``risk_tier``: HIGH above 0.35, MEDIUM above 0.15, else LOW).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftline.features import CREDIT_RISK
from driftline.model.decision import CREDIT_RISK_POLICY
from driftline.model.importance import importance_shares
from driftline.model.pipeline import default_pipeline
from driftline.model.registry import ModelVersionRef, configure, get_alias, register_version
from driftline.profile import ReferenceProfile, build_profile, with_calibration, with_importance
from producers.generator import GeneratorParams, LoanGenerator
from producers.settings import BootstrapSettings

__all__ = ["TrainedModel", "announce", "bootstrap", "train_default"]

log = logging.getLogger(__name__)


@dataclass
class TrainedModel:
    """A fitted model with what registering it needs."""

    model: Any
    signature: Any
    profile: ReferenceProfile
    metrics: dict[str, float]
    params: dict[str, Any]
    train: Any  # pandas DataFrame with the label column
    holdout: Any


def train_default(seed: int = 7, rows: int = 50_000, holdout: float = 0.2,
                  params: GeneratorParams | None = None) -> TrainedModel:
    """Fit the default pipeline on ``rows`` seeded applications (of the population ``params``
    describes; None: the stable one), scored on a holdout."""
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.metrics import (
        brier_score_loss,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    if not 0.0 < holdout < 0.9:
        raise ValueError("holdout must be in (0, 0.9)")
    batch = LoanGenerator(seed, params).sample(rows)
    frame = pd.DataFrame({n: batch.columns[n] for n in CREDIT_RISK.names})
    frame["channel"] = frame["channel"].astype(str)
    frame["city_tier"] = frame["city_tier"].astype(str)
    cut = int(rows * (1 - holdout))
    x_train, x_test = frame.iloc[:cut], frame.iloc[cut:]
    y_train, y_test = batch.labels[:cut], batch.labels[cut:]
    model = default_pipeline().fit(x_train.to_numpy(dtype=object), y_train)
    p_test = model.predict_proba(x_test.to_numpy(dtype=object))[:, 1]
    decided = (p_test > 0.35).astype(int)  # the HIGH tier threshold
    metrics = {
        "holdout_auc": float(roc_auc_score(y_test, p_test)),
        "holdout_precision": float(precision_score(y_test, decided, zero_division=0)),
        "holdout_recall": float(recall_score(y_test, decided, zero_division=0)),
        "holdout_brier": float(brier_score_loss(y_test, p_test)),
        "holdout_log_loss": float(log_loss(y_test, p_test)),
        "label_rate": float(np.mean(batch.labels)),
    }
    p_train = model.predict_proba(x_train.to_numpy(dtype=object))[:, 1]
    profile = build_profile(
        {n: x_train[n].to_numpy() for n in CREDIT_RISK.names},
        p_train,
        numeric=CREDIT_RISK.numeric_names,
        categorical=CREDIT_RISK.categorical_names,
        labels=y_train,
    )
    profile = with_calibration(profile, p_test, y_test)
    profile = with_importance(profile, importance_shares(
        model, x_test.to_numpy(dtype=object), y_test, CREDIT_RISK.names))
    train = x_train.assign(**{CREDIT_RISK.target: y_train})
    test = x_test.assign(**{CREDIT_RISK.target: y_test})
    params = {
        "seed": seed,
        "rows": rows,
        "holdout": holdout,
        "train_rows": cut,
        "generator": "producers.generator.LoanGenerator",
        "estimator": "LogisticRegression",
        "preprocessing": "StandardScaler + OneHotEncoder(handle_unknown=ignore)",
    }
    return TrainedModel(
        model=model,
        signature=infer_signature(x_train.head(100), p_train[:100]),
        profile=profile,
        metrics=metrics,
        params=params,
        train=train,
        holdout=test,
    )


def bootstrap(
    home: Path,
    *,
    name: str = "credit-risk",
    alias: str = "champion",
    seed: int = 7,
    rows: int = 50_000,
    force: bool = False,
) -> tuple[ModelVersionRef | None, str]:
    """Train and register the default model as ``name@alias`` unless the alias already exists
    (``force`` registers a new version anyway). Returns (the new version or None, a message)."""
    import mlflow

    experiment_id = configure(home)
    existing = get_alias(name, alias)
    if existing is not None and not force:
        return None, (
            f"{name}@{alias} is already version {existing}; "
            "pass --force to train and register a new version"
        )
    trained = train_default(seed=seed, rows=rows)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"bootstrap-{name}") as run:
        mlflow.log_params(trained.params)
        mlflow.log_metrics(trained.metrics)
        with warnings.catch_warnings():  # MLflow warns that the 0/1 label is an integer column
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(
                trained.train, name=f"loans-seed{seed}", targets=CREDIT_RISK.target
            )
            mlflow.log_input(dataset, context="training")
        with tempfile.TemporaryDirectory() as tmp:
            for split, frame in (("train", trained.train), ("holdout", trained.holdout)):
                path = Path(tmp) / f"{split}.csv.gz"
                frame.to_csv(path, index=False)
                mlflow.log_artifact(str(path), artifact_path="data")
        ref = register_version(
            name,
            trained.model,
            signature=trained.signature,
            profile=trained.profile,
            features=CREDIT_RISK,
            alias=alias,
            decision=CREDIT_RISK_POLICY,
            description="default credit-risk model trained by `driftline bootstrap` on "
            f"{rows} synthetic applications (seed {seed})",
        )
        log.info("run %s registered %s v%s", run.info.run_id, name, ref.version)
    auc = trained.metrics["holdout_auc"]
    return ref, f"registered {name} version {ref.version} as @{alias} (holdout AUC {auc:.3f})"


def announce(settings: BootstrapSettings, version: str) -> str:
    """Publish on ``model-updates`` that ``version`` is now ``@model_alias``, when Kafka
    answers within 5 s; what happened, as one line. Scorers read the alias from MLflow at
    start anyway, so an absent broker is not an error."""
    from driftline.errors import BrokerUnavailableError
    from driftline.events import ModelUpdateEvent, now
    from driftline.kafka import Producer, create_topics, wait_for_broker

    try:
        wait_for_broker(settings.kafka, timeout=5)
    except BrokerUnavailableError:
        return (
            "Kafka is not running: model-updates not announced (the scorer reads the "
            "alias from MLflow at start anyway)"
        )
    create_topics(settings.kafka)
    event = ModelUpdateEvent(
        event_time=now(),
        model_name=settings.model_name,
        version=version,
        alias=settings.model_alias,
        reason="bootstrap",
    )
    with Producer(settings.kafka) as producer:
        producer.send(settings.topic("model-updates"), event)
    return f"announced {settings.model_name} v{version} on model-updates"
