"""A LightGBM classifier driftline never trained, against the real broker and an embedded MLflow
registry: an ``LGBMClassifier`` fitted on scikit-learn's breast-cancer data and logged with
``mlflow.sklearn.log_model`` in skops format is registered from its ``runs:/`` URI with
``driftline models register`` (which names the LightGBM types it must be told to trust),
then served by the scorer, which answers and publishes exactly the scores LightGBM gives.
When its labels change meaning, the retrainer answers a drift event with a clone of it
(``DRIFTLINE_RETRAIN_PIPELINE=champion``) that passes the gate, keeps the trust given to
version 1, and is what the scorer serves next."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import msgspec
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from lightgbm import LGBMClassifier
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from driftline.cli import app as cli
from driftline.events import LabeledEvent, PredictionEvent
from driftline.kafka import Producer
from driftline.model.adopt import UntrustedTypesError
from driftline.model.registry import configure, get_alias, load_model
from driftline.model.trust import TRUSTED_TYPES_TAG
from retrainer.service import Retrainer
from retrainer.settings import RetrainerSettings
from scorer.app import create_app
from tests.retrainer.support import T0, drift_event
from tests.scorer.support import scorer_settings, wait_for_predictions, wait_until

NAME = "cancer-lgbm"
LIGHTGBM_TYPES = ["lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier"]


def _register(home: Path, *args: str):
    return CliRunner().invoke(
        cli, ["models", "register", *args],
        env={"DRIFTLINE_HOME": str(home), "DRIFTLINE_LOG_LEVEL": "WARNING"},
    )


def _register_trusting(home: Path, uri: str, csv: Path, refused: UntrustedTypesError):
    """Register again, accepting the types the model's logger recorded and naming each other
    type the refusal needed."""
    trust = [arg for t in refused.needed if t not in (refused.recorded or ())
             for arg in ("--trust", t)]
    return _register(home, uri, "--reference", str(csv), "--label", "target", "--name", NAME,
                     "--trust-recorded", *trust)


@pytest.fixture
def logged(tmp_path: Path) -> tuple[str, LGBMClassifier, pd.DataFrame, Path]:
    """A fitted LGBMClassifier logged to the test's registry (its run URI), the model, its
    features and the reference CSV (features and label)."""
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    features, target = frame.drop(columns="target"), frame["target"]
    model = LGBMClassifier(n_estimators=40, random_state=0, verbose=-1).fit(features, target)
    experiment_id = configure(tmp_path)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.sklearn.log_model(model, name="model", serialization_format="skops",
                                 skops_trusted_types=["collections.OrderedDict", *LIGHTGBM_TYPES])
    csv = tmp_path / "cancer.csv"
    frame.to_csv(csv, index=False)
    return f"runs:/{run.info.run_id}/model", model, features, csv


def test_a_lightgbm_classifier_logged_to_mlflow_is_registered_and_served(
    kafka, driftline_topics, tmp_path, logged
):
    uri, model, features, csv = logged
    refused = _register(tmp_path, uri, "--reference", str(csv), "--label", "target",
                        "--name", NAME)
    assert isinstance(refused.exception, UntrustedTypesError)
    needed = refused.exception.needed
    assert set(LIGHTGBM_TYPES) <= set(needed)
    assert get_alias(NAME, "champion") is None  # nothing registered before the trust is given

    # the refusal shows what the model's logger recorded as trusted in MLflow
    recorded = ["collections.OrderedDict", *LIGHTGBM_TYPES]
    assert refused.exception.recorded == recorded
    assert "recorded these types as trusted: " + ", ".join(recorded) in str(refused.exception)

    # accepting the recorded list, and naming each type it does not cover
    result = _register_trusting(tmp_path, uri, csv, refused.exception)
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    assert f"registered {NAME} version 1 as @champion" in result.output
    assert "recorded as trusted when logged: " + ", ".join(recorded) in result.output
    assert "holdout auc" in result.output
    assert "trusted types: " + ", ".join(needed) in result.output
    version = mlflow.MlflowClient().get_model_version(NAME, "1")
    assert set(LIGHTGBM_TYPES) <= set(json.loads(version.tags[TRUSTED_TYPES_TAG]))

    rows = features.head(50).to_dict("records")
    expected = model.predict_proba(features.head(50))[:, 1]
    with TestClient(create_app(scorer_settings(tmp_path, kafka, model_name=NAME))) as client:
        served = client.get("/model").json()
        assert (served["name"], served["version"]) == (NAME, "1")
        single = client.post("/predict", json=rows[0])
        assert single.status_code == 200, single.text
        batch = client.post("/predict/batch", json={"rows": rows[1:]})
        assert batch.status_code == 200, batch.text
        answers = [single.json(), *batch.json()["predictions"]]
    scores = np.array([a["score"] for a in answers])
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)
    assert [a["decision"] for a in answers] == [
        "positive" if s > 0.5 else "negative" for s in expected]
    published = wait_for_predictions(kafka, {a["prediction_id"] for a in answers})
    for answer in answers:
        event = published[answer["prediction_id"]]
        assert (event.model_name, event.model_version, event.score) == (
            NAME, "1", answer["score"])


def test_a_lightgbm_champion_is_retrained_from_a_clone_that_the_scorer_then_serves(
    kafka, driftline_topics, tmp_path, logged, group_id
):
    uri, _, features, csv = logged
    refused = _register(tmp_path, uri, "--reference", str(csv), "--label", "target",
                        "--name", NAME)
    registered = _register_trusting(tmp_path, uri, csv, refused.exception)
    assert registered.exit_code == 0, f"{registered.output}\n{registered.exception!r}"

    # the labels change meaning: version 1 now ranks every row backwards
    target = load_breast_cancer(as_frame=True).frame["target"].to_numpy()
    flipped = 1 - target
    rows = features.to_dict("records")
    with Producer(kafka) as producer:
        for i, (row, label) in enumerate(zip(rows, flipped.tolist(), strict=True)):
            t = T0 + i / 10
            prediction = PredictionEvent(
                prediction_id=f"lgbm{i:04d}", event_time=t, model_name=NAME, model_version="1",
                features=row, score=0.5, decision="positive")
            producer.send(driftline_topics["labeled"], LabeledEvent(
                event_time=t, prediction=prediction, label=label, label_time=t + 30.0,
                delay_seconds=30.0))
        drift = msgspec.structs.replace(
            drift_event("drift-lgbm", at=T0 + len(rows) / 10), model_name=NAME)
        producer.send(driftline_topics["drift-events"], drift)

    retrainer = Retrainer(RetrainerSettings(
        home=tmp_path, kafka=kafka, model_name=NAME, retrain_pipeline="champion",
        retrain_metrics_port=0, retrain_group=group_id, retrain_min_rows=500,
        retrain_data_wait=30.0, gate_margin=0.02,
    ))
    retrainer.start()
    try:
        wait_until(lambda: retrainer.results, 180, "the retrain")
        result = retrainer.results[0]
    finally:
        retrainer.stop()
    assert result.promoted, result.reason
    assert (result.version, result.champion_before) == ("2", "1")
    assert result.challenger["roc_auc"] > 0.9 > 0.1 > result.champion["roc_auc"]
    assert get_alias(NAME, "champion") == "2"

    # a clone: LightGBM with version 1's parameters, trusted as version 1 was, fitted anew
    tags = {v: mlflow.MlflowClient().get_model_version(NAME, v).tags for v in ("1", "2")}
    assert tags["2"][TRUSTED_TYPES_TAG] == tags["1"][TRUSTED_TYPES_TAG]
    retrained = load_model(NAME, "2").estimator
    assert type(retrained) is LGBMClassifier
    assert retrained.get_params() == LGBMClassifier(
        n_estimators=40, random_state=0, verbose=-1).get_params()
    assert roc_auc_score(flipped, retrained.predict_proba(features)[:, 1]) > 0.9

    expected = retrained.predict_proba(features.head(50))[:, 1]
    with TestClient(create_app(scorer_settings(tmp_path, kafka, model_name=NAME))) as client:
        assert client.get("/model").json()["version"] == "2"
        batch = client.post("/predict/batch", json={"rows": rows[:50]})
        assert batch.status_code == 200, batch.text
    answers = batch.json()["predictions"]
    assert {a["model_version"] for a in answers} == {"2"}
    np.testing.assert_allclose([a["score"] for a in answers], expected, rtol=0, atol=1e-9)
