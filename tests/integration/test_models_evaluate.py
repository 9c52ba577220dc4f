"""``driftline models evaluate`` against the real broker and an embedded MLflow registry: the
champion trained on the stable population, a candidate trained on the drifted one, and
labeled rows of the drifted population on ``labeled``."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from driftline.cli import app as cli
from driftline.settings import KafkaSettings
from tests.retrainer.support import DRIFTED, T0, labeled_events, produce_labeled
from tests.scorer.support import register_model

NAME = "credit-risk"
BROKEN_AT = T0 + 10_000.0


def _evaluate(kafka: KafkaSettings, home: Path, *args: str):
    env = {"DRIFTLINE_HOME": str(home), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
           "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix, "DRIFTLINE_LOG_LEVEL": "WARNING",
           "DRIFTLINE_GATE_MARGIN": "0.02"}
    return CliRunner().invoke(cli, ["models", "evaluate", *args], env=env)


@pytest.fixture
def registry_with_rows(kafka, driftline_topics, tmp_path) -> Path:
    """v1 (@champion) trained on the stable population, v2 (no alias) on the drifted one;
    1,200 drifted labeled rows from T0 (10 per second), and 600 rows with an all-missing
    feature from BROKEN_AT."""
    register_model(tmp_path, NAME, seed=1)
    register_model(tmp_path, NAME, seed=2, params=DRIFTED, alias=None)
    broken = []
    for event in labeled_events(600, DRIFTED, start=BROKEN_AT, prefix="b", seed=12):
        features = {k: v for k, v in event.prediction.features.items() if k != "loan_amount"}
        prediction = msgspec.structs.replace(event.prediction, features=features)
        broken.append(msgspec.structs.replace(event, prediction=prediction))
    produce_labeled(kafka, labeled_events(1200, DRIFTED) + broken)
    return tmp_path


def test_a_better_candidate_passes_with_exit_code_0(kafka, registry_with_rows):
    result = _evaluate(kafka, registry_with_rows, "--candidate", "2", "--against", "champion",
                       "--from", "2023-11-14T22:13:20Z", "--to", str(T0 + 120), "--window",
                       "60")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "credit-risk: candidate v2 against champion v1" in out
    assert "1,200 labeled rows" in out and "per window of 60s" in out
    assert out.rstrip().splitlines()[-1].startswith("PASS: passed: roc_auc ")


def test_a_worse_candidate_fails_with_exit_code_1_and_the_json_says_why(
    kafka, registry_with_rows
):
    result = _evaluate(kafka, registry_with_rows, "--candidate", "1", "--against", "2",
                       "--from", str(T0), "--to", str(T0 + 120), "--window", "60", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["passed"] is False and report["rule"] == "no-regression"
    assert report["reason"].startswith("worse: roc_auc ")
    assert (report["candidate_version"], report["against_version"]) == ("1", "2")
    assert report["rows"] == 1200 and report["gate"]["margin"] == 0.02
    assert report["candidate"]["roc_auc"] < report["against"]["roc_auc"] - 0.02
    assert {"brier", "log_loss", "accuracy", "ece"} <= report["candidate"].keys()
    assert [w["rows"] for w in report["windows"]] == [600, 600]
    assert sum(b["rows"] for b in report["reliability"]["candidate"]) == 1200


def test_the_promotion_rule_fails_a_candidate_no_better_than_the_champion(
    kafka, registry_with_rows
):
    same = _evaluate(kafka, registry_with_rows, "--candidate", "champion", "--from", str(T0),
                     "--to", str(T0 + 120))
    assert same.exit_code == 0, same.output
    strict = _evaluate(kafka, registry_with_rows, "--candidate", "champion", "--from",
                       str(T0), "--to", str(T0 + 120), "--must-beat")
    assert strict.exit_code == 1, strict.output
    assert "FAIL: rejected: roc_auc" in strict.output


def test_bad_input_exits_with_code_2_and_says_why(kafka, registry_with_rows):
    home = registry_with_rows
    empty = _evaluate(kafka, home, "--candidate", "2", "--from", "2020-01-01", "--to",
                      "2020-01-02")
    assert empty.exit_code == 2
    assert "no labeled rows of credit-risk with an event time from 2020-01-01" in empty.output
    broken = _evaluate(kafka, home, "--candidate", "2", "--from", str(BROKEN_AT), "--to",
                       str(BROKEN_AT + 60))
    assert broken.exit_code == 2
    assert ("loan_amount: 100.0% of values missing, more than the 5.0% allowed"
            in broken.output)
    unknown = _evaluate(kafka, home, "--candidate", "2", "--against", "staging", "--from",
                        str(T0), "--to", str(T0 + 120))
    assert unknown.exit_code == 2 and "has no alias 'staging'" in unknown.output
    backwards = _evaluate(kafka, home, "--candidate", "2", "--from", str(T0 + 120), "--to",
                          str(T0))
    assert backwards.exit_code == 2 and "--to must be after --from" in backwards.output
