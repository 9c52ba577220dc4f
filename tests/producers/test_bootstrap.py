"""`driftline bootstrap` against an embedded MLflow in a throwaway home (no Kafka needed)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from driftline.features import CREDIT_RISK
from driftline.model.registry import get_alias, load_model, load_profile
from producers.bootstrap import bootstrap


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    ref, message = bootstrap(home, rows=3000)
    return home, ref, message


def test_bootstrap_registers_version_1_as_champion(registered):
    home, ref, message = registered
    assert ref is not None and ref.version == "1"
    assert get_alias("credit-risk", "champion") == "1"
    assert "holdout AUC" in message
    assert (home / "mlflow" / "mlflow.db").is_file()


def test_bootstrap_stores_a_skops_model_with_signature_and_feature_ranges(registered):
    loaded = load_model("credit-risk", "1")
    assert [c.name for c in loaded.signature.inputs.inputs] == CREDIT_RISK.names
    assert loaded.features.numeric == CREDIT_RISK.numeric
    assert loaded.source.startswith("models:/")
    model_dir = Path(mlflow.artifacts.download_artifacts("models:/credit-risk/1"))
    assert "model.skops" in {p.name for p in model_dir.iterdir()}


def test_bootstrap_logs_holdout_metrics_params_and_training_data(registered):
    _, ref, _ = registered
    run = mlflow.MlflowClient().get_run(ref.run_id)
    assert {"holdout_auc", "holdout_precision", "holdout_recall", "holdout_brier"} <= set(
        run.data.metrics
    )
    assert 0.6 < run.data.metrics["holdout_auc"] < 1.0
    assert run.data.params["seed"] == "7" and run.data.params["rows"] == "3000"
    assert run.inputs.dataset_inputs, "the training dataset is logged as a run input"
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(ref.run_id, "data")}
    assert logged == {"data/train.csv.gz", "data/holdout.csv.gz"}


def test_reference_profile_is_stored_with_the_version(registered):
    profile = load_profile("credit-risk", "1")
    assert (profile.model_name, profile.model_version) == ("credit-risk", "1")
    assert [p.name for p in profile.numeric] == CREDIT_RISK.numeric_names
    assert set(profile.categorical_by_name["channel"].counts) == set(
        CREDIT_RISK.categorical[0].categories
    )
    assert profile.score is not None and profile.rows == 2400


def test_bootstrap_again_keeps_the_champion_unless_forced(registered):
    home, _, _ = registered
    ref, message = bootstrap(home, rows=3000)
    assert ref is None and "already version 1" in message


def test_bootstrap_stores_the_features_importance_shares_in_the_profile(registered):
    profile = load_profile("credit-risk", "1")
    assert profile.importance is not None
    assert set(profile.importance) == set(CREDIT_RISK.names)
    assert abs(sum(profile.importance.values()) - 1.0) < 1e-9
    # the true default probability leans hardest on the debt ratio
    assert max(profile.importance, key=profile.importance.get) == "existing_debt_ratio"
