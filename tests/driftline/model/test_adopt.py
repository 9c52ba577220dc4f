"""Registering a model driftline did not train: the checks, and the CLI against a throwaway
embedded registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from typer.testing import CliRunner

from driftline import cli
from driftline.feature_file import parse_feature_file
from driftline.model.adopt import (
    AdoptionError,
    UntrustedTypesError,
    check_trust,
    holdout_metrics,
    load_source,
    reference_profile,
    score_reference,
    split_reference,
)
from driftline.model.decision import DECISION_TAG, DecisionPolicy
from driftline.model.registry import (
    configure,
    get_alias,
    load_model,
    load_profile,
)
from driftline.model.serving import serve_loaded
from driftline.model.trust import TRUSTED_TYPES_TAG

# what the "pipe" model references beyond the built-in list: a person accepts each
PIPE_TYPES = ["builtins.abs", "sklearn.preprocessing._function_transformer.FunctionTransformer"]


@pytest.fixture(scope="module")
def cancer() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    return frame.rename(columns=lambda c: c.replace(" ", "_"))


@pytest.fixture(scope="module")
def files(cancer: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A HistGradientBoosting model fitted on a DataFrame, a Pipeline fitted on an array that
    needs a type beyond the built-in list, and the reference data as CSV and Parquet."""
    root = tmp_path_factory.mktemp("adopt")
    x, y = cancer.drop(columns="target"), cancer["target"]
    hgb = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y)
    pipe = make_pipeline(
        FunctionTransformer(func=abs), StandardScaler(), LogisticRegression(max_iter=500)
    ).fit(x.to_numpy(), y)
    paths = {
        "hgb": root / "hgb.skops",
        "pipe": root / "pipe.skops",
        "regressor": root / "regressor.skops",
        "csv": root / "reference.csv",
        "parquet": root / "reference.parquet",
        "text": root / "notes.skops",
    }
    skops.io.dump(hgb, paths["hgb"])
    skops.io.dump(pipe, paths["pipe"])
    skops.io.dump(LinearRegression().fit(x, y), paths["regressor"])
    cancer.to_csv(paths["csv"], index=False)
    cancer.to_parquet(paths["parquet"])
    paths["text"].write_text("not a model")
    return paths


def _register(home: Path, *args: str) -> object:
    return CliRunner().invoke(
        cli.app, ["models", "register", *args], env={"DRIFTLINE_HOME": str(home)}
    )


def test_a_missing_input_column_is_named_with_the_fix(cancer):
    with pytest.raises(AdoptionError, match=r"lacks the model's input column\(s\) mean_radius"):
        split_reference(cancer.drop(columns="mean_radius"), label="target",
                        columns=list(cancer.columns[:30]))


def test_a_label_column_that_is_not_0_1_is_refused_naming_it():
    frame = pd.DataFrame({"x": [0.1, 0.2, 0.3], "outcome": ["yes", "no", "yes"]})
    with pytest.raises(AdoptionError, match=r"label column 'outcome' holds values other than "
                       r"0 and 1 \(yes, no\); map it to 0/1"):
        split_reference(frame, label="outcome")


def test_an_absent_label_column_is_named():
    with pytest.raises(AdoptionError, match="label column 'y' is not in the reference data"):
        split_reference(pd.DataFrame({"x": [1.0]}), label="y")


def test_a_column_mixing_text_and_numbers_is_named():
    frame = pd.DataFrame({"x": [1.0, 2.0], "channel": ["web", 3]})
    with pytest.raises(AdoptionError, match="column 'channel' mixes text with int values"):
        split_reference(frame)


def test_text_columns_become_categorical_and_bools_numeric():
    frame = pd.DataFrame({"x": [1.0, 2.0], "flag": [True, False], "channel": ["web", "app"],
                          "y": [0, 1]})
    ref = split_reference(frame, label="y")
    assert ref.numeric == ["x", "flag"] and ref.categorical == ["channel"]
    assert ref.labels.tolist() == [0, 1]


def test_a_type_beyond_the_builtin_list_needs_trust_by_name():
    with pytest.raises(UntrustedTypesError, match=r"pass --trust builtins\.abs"):
        check_trust(["builtins.abs", "sklearn.tree._tree.Tree"], [], all_listed=False)
    assert check_trust(["builtins.abs"], [], all_listed=True) == ["builtins.abs"]


def test_a_file_that_is_not_a_model_is_refused(files):
    with pytest.raises(AdoptionError, match="is not a skops model file"):
        load_source(str(files["text"]))
    with pytest.raises(AdoptionError, match="neither a file nor an MLflow model URI"):
        load_source(str(files["text"]) + ".missing")


def test_a_model_without_predict_proba_is_refused(files):
    with pytest.raises(AdoptionError, match=r"LinearRegression .* has no predict_proba"):
        load_source(str(files["regressor"]), trust_listed=True)


def test_a_model_that_fails_on_the_reference_says_so(files, cancer):
    loaded = load_source(str(files["pipe"]), trust=PIPE_TYPES)
    short = split_reference(cancer.iloc[:, :5])
    with pytest.raises(AdoptionError, match="the model fails on the reference data"):
        score_reference(loaded.estimator, short)


def test_importance_is_measured_on_labeled_reference_rows_only(cancer):
    x, y = cancer.drop(columns="target"), cancer["target"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        x.to_numpy(), y)
    labeled = split_reference(cancer, label="target")
    scores = score_reference(model, labeled)
    shares = reference_profile(labeled, scores, model).importance
    assert shares is not None and list(shares) == list(x.columns)
    assert sum(shares.values()) == pytest.approx(1.0)
    unlabeled = split_reference(cancer.drop(columns="target"))
    assert reference_profile(unlabeled, scores, model).importance is None


def test_holdout_metrics_carry_the_names_the_monitor_reads():
    labels, scores = np.array([0, 1, 0, 1]), np.array([0.2, 0.8, 0.4, 0.7])
    metrics = holdout_metrics(labels, scores, 0.5)
    assert {"holdout_auc", "holdout_brier", "holdout_log_loss", "holdout_accuracy",
            "holdout_precision", "holdout_recall"} <= metrics.keys()
    assert metrics["holdout_auc"] == 1.0
    with pytest.raises(AdoptionError, match="holdout metrics need both classes"):
        holdout_metrics(np.array([1, 1]), np.array([0.2, 0.8]), 0.5)


def test_register_records_profile_metrics_trust_and_tiers_then_serves(files, tmp_path):
    result = _register(
        tmp_path, str(files["hgb"]), "--reference", str(files["csv"]), "--label", "target",
        "--name", "cancer", "--score-name", "benign_probability",
        "--tier", "HIGH=0.5", "--tier", "MEDIUM=0.2",
    )
    assert result.exit_code == 0, result.output
    assert "registered cancer version 1 as @champion" in result.output
    # HistGradientBoosting and its tree predictor are on the built-in list: nothing to accept
    assert "trusted types: none needed" in result.output
    configure(tmp_path)
    version = mlflow.MlflowClient().get_model_version("cancer", "1")
    assert TRUSTED_TYPES_TAG not in version.tags
    policy = DecisionPolicy.from_json(version.tags[DECISION_TAG])
    assert policy.score_name == "benign_probability"
    assert policy.names == ("LOW", "MEDIUM", "HIGH")
    profile = load_profile("cancer", "1")
    assert len(profile.numeric) == 30 and profile.label_rate == pytest.approx(357 / 569)
    assert profile.importance is not None and len(profile.importance) == 30
    assert sum(profile.importance.values()) == pytest.approx(1.0)
    loaded = load_model("cancer", "1")
    assert loaded.metrics["holdout_auc"] > 0.9 and "holdout_brier" in loaded.metrics
    served = serve_loaded(loaded, "champion", max_rows=10)
    assert served.names == [c for c in files_columns(files)] and served.decision == policy


def files_columns(files: dict[str, Path]) -> list[str]:
    return [c for c in pd.read_csv(files["csv"], nrows=1).columns if c != "target"]


def test_a_second_version_gets_no_alias_unless_asked(files, tmp_path):
    for _ in range(2):
        assert _register(tmp_path, str(files["hgb"]), "--reference", str(files["parquet"]),
                         "--name", "cancer").exit_code == 0
    configure(tmp_path)
    assert get_alias("cancer", "champion") == "1"
    version = mlflow.MlflowClient().get_model_version("cancer", "2")
    assert DecisionPolicy.from_json(version.tags[DECISION_TAG]) == DecisionPolicy()
    assert "holdout_auc" not in load_model("cancer", "2").metrics  # no --label


def test_a_pipeline_from_an_mlflow_uri_is_registered_once_its_type_is_trusted(files, tmp_path):
    experiment = configure(tmp_path)
    pipe = skops.io.load(files["pipe"], trusted=["builtins.abs"])
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.sklearn.log_model(pipe, name="model", serialization_format="skops",
                                 skops_trusted_types=["builtins.abs"],
                                 pip_requirements=["scikit-learn"])
    uri = f"runs:/{run.info.run_id}/model"
    args = [uri, "--reference", str(files["csv"]), "--label", "target", "--name", "pipe"]
    refused = _register(tmp_path, *args)
    assert isinstance(refused.exception, UntrustedTypesError)
    assert refused.exception.needed == PIPE_TYPES
    accepted = _register(tmp_path, *args, *(a for t in PIPE_TYPES for a in ("--trust", t)))
    assert accepted.exit_code == 0, accepted.output
    configure(tmp_path)
    version = mlflow.MlflowClient().get_model_version("pipe", "1")
    assert json.loads(version.tags[TRUSTED_TYPES_TAG]) == PIPE_TYPES


def test_bad_input_prints_one_line_and_exits_2(files, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DRIFTLINE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "argv", [
        "driftline", "models", "register", str(files["hgb"]), "--reference",
        str(files["csv"]), "--label", "mean_radius",
    ])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("driftline: label column 'mean_radius' holds values other than")


def test_a_refusal_shows_the_types_the_models_logger_recorded_as_trusted():
    from driftline.model.adopt import UntrustedTypesError

    covered = UntrustedTypesError(["lib.A"], recorded=["lib.A", "lib.B"])
    assert "recorded these types as trusted: lib.A, lib.B" in str(covered)
    assert "--trust-recorded accepts exactly those" in str(covered)
    short = UntrustedTypesError(["lib.A", "lib.C"], recorded=["lib.A"])
    assert "they do not cover all the types above" in str(short)
    assert "recorded" not in str(UntrustedTypesError(["lib.A"]))


def test_trusting_the_recorded_types_of_a_file_that_records_none_is_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression

    from driftline.model.adopt import AdoptionError, load_source

    path = tmp_path / "m.skops"
    skops.io.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), path)
    with pytest.raises(AdoptionError, match="records no trusted types"):
        load_source(str(path), trust_recorded=True)
    assert load_source(str(path)).recorded is None


def _feature_file(path: Path, columns: list[str], frame: pd.DataFrame) -> Path:
    """Every input declared numeric, from 0 to ten times its largest reference value."""
    path.write_text("".join(f"[numeric.{c}]\nminimum = 0\nmaximum = {10 * frame[c].max()}\n"
                            for c in columns))
    return path


def test_a_feature_file_is_recorded_its_ranges_refuse_requests_and_the_default_pipeline_fits(
    files, cancer, tmp_path
):
    from driftline.events import LabeledEvent, PredictionEvent
    from driftline.model.validation import InvalidInputError, parse
    from retrainer.dataset import RangePolicy, build_dataset
    from retrainer.train import train_and_evaluate
    from tests.retrainer.support import sourced

    columns = files_columns(files)
    features = _feature_file(tmp_path / "features.toml", columns, cancer)
    result = _register(tmp_path, str(files["hgb"]), "--reference", str(files["csv"]),
                       "--label", "target", "--name", "cancer", "--features", str(features))
    assert result.exit_code == 0, result.output
    assert "requests checked against the ranges of 30 numeric inputs" in result.output
    configure(tmp_path)
    loaded = load_model("cancer", "1")
    assert loaded.features is not None and loaded.features.numeric_names == columns
    served = serve_loaded(loaded, "champion", max_rows=10)
    row = cancer[columns].iloc[0].to_dict()
    assert parse(served.row, json.dumps(row).encode()) == row
    with pytest.raises(InvalidInputError) as refused:
        parse(served.row, json.dumps({**row, "mean_radius": -1.0}).encode())
    assert [e["loc"] for e in refused.value.errors] == [("mean_radius",)]
    first = served.info["inputs"][0]  # as GET /model shows it
    assert first == {"name": "mean_radius", "type": "float", "required": True, "minimum": 0.0,
                     "maximum": 10 * cancer["mean_radius"].max()}
    # with every input declared, the retrainer fits its default pipeline for the model
    events = [LabeledEvent(event_time=float(i), label=int(label), label_time=float(i),
                           delay_seconds=0.0, prediction=PredictionEvent(
                               prediction_id=f"c{i}", event_time=float(i), model_name="cancer",
                               model_version="1", features=features_row, score=0.5,
                               decision="LOW"))
              for i, (features_row, label) in enumerate(zip(
                  cancer[columns].to_dict("records"), cancer["target"], strict=True))]
    dataset = build_dataset(sourced(events),
                            RangePolicy(window=None, min_rows=100, holdout_fraction=0.25))
    evaluation = train_and_evaluate(dataset, loaded, name="cancer", pipeline="default")
    assert evaluation.challenger.features == loaded.features
    assert evaluation.challenger.columns == tuple(columns)


def test_without_a_feature_file_the_output_says_what_is_checked(files, tmp_path):
    result = _register(tmp_path, str(files["hgb"]), "--reference", str(files["csv"]),
                       "--name", "cancer")
    assert result.exit_code == 0, result.output
    assert "requests checked against the signature's types only" in result.output
    configure(tmp_path)
    assert load_model("cancer", "1").features is None


def test_a_feature_file_that_does_not_fit_registers_nothing(files, cancer, tmp_path):
    columns = files_columns(files)
    missing = _feature_file(tmp_path / "missing.toml", columns[1:], cancer)
    narrow = tmp_path / "narrow.toml"
    narrow.write_text(_feature_file(tmp_path / "all.toml", columns, cancer).read_text()
                      .replace(f"maximum = {10 * cancer['mean_radius'].max()}", "maximum = 10",
                               1))
    for path, expected in [(missing, "mean_radius: an input of the model (float) is not "
                            "declared"),
                           (narrow, "mean_radius: 522 of 569 values outside [0, 10]")]:
        result = _register(tmp_path, str(files["hgb"]), "--reference", str(files["csv"]),
                           "--name", "cancer", "--features", str(path))
        assert result.exit_code != 0 and expected in str(result.exception), result.exception
    configure(tmp_path)
    assert mlflow.MlflowClient().search_registered_models() == []


def test_a_drafted_feature_file_parses_and_registers_and_is_never_written_over(
    files, tmp_path
):
    draft = tmp_path / "features.toml"
    args = ["models", "draft-features", "--reference", str(files["csv"]), "--label", "target"]
    printed = CliRunner().invoke(cli.app, args)
    assert printed.exit_code == 0, printed.output
    written = CliRunner().invoke(cli.app, [*args, "--output", str(draft)])
    assert written.exit_code == 0 and draft.read_text() == printed.output
    again = CliRunner().invoke(cli.app, [*args, "--output", str(draft)])
    assert again.exit_code != 0 and "exists" in str(again.exception)
    assert draft.read_text() == printed.output
    declared = parse_feature_file(draft.read_text())
    assert list(declared.numeric) == files_columns(files) and not declared.categorical
    registered = _register(tmp_path, str(files["hgb"]), "--reference", str(files["csv"]),
                           "--name", "cancer", "--features", str(draft))
    assert registered.exit_code == 0, registered.output
