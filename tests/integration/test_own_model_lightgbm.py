"""A LightGBM classifier driftline never trained, against the real broker and an embedded MLflow
registry: an ``LGBMClassifier`` fitted on scikit-learn's breast-cancer data and logged with
``mlflow.sklearn.log_model`` in skops format is registered from its ``runs:/`` URI with
``driftline models register`` (which names the LightGBM types it must be told to trust),
then served by the scorer, which answers and publishes exactly the scores LightGBM gives."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from lightgbm import LGBMClassifier
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from driftline.cli import app as cli
from driftline.model.adopt import UntrustedTypesError
from driftline.model.registry import configure, get_alias
from driftline.model.trust import TRUSTED_TYPES_TAG
from scorer.app import create_app
from tests.scorer.support import scorer_settings, wait_for_predictions

NAME = "cancer-lgbm"
LIGHTGBM_TYPES = ["lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier"]


def _register(home: Path, *args: str):
    return CliRunner().invoke(
        cli, ["models", "register", *args],
        env={"DRIFTLINE_HOME": str(home), "DRIFTLINE_LOG_LEVEL": "WARNING"},
    )


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
    trust = [arg for t in needed if t not in recorded for arg in ("--trust", t)]
    result = _register(tmp_path, uri, "--reference", str(csv), "--label", "target",
                       "--name", NAME, "--trust-recorded", *trust)
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
