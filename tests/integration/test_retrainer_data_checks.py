"""Training data checked before a retrain, against the real broker and an embedded MLflow
registry: a broken set is refused with its reasons on an MLflow run and on
``data-validation``, and nothing is registered; a clean set is trained on and its checks are
sent as passed."""

from __future__ import annotations

from pathlib import Path

import mlflow
import msgspec

from driftline.events import DataValidationEvent, LabeledEvent, decode
from driftline.kafka import Producer, read_topic
from driftline.model.registry import configure, get_alias
from driftline.settings import KafkaSettings
from retrainer.job import RetrainJob, RetrainResult
from retrainer.lineage import TAGS
from retrainer.settings import RetrainerSettings
from retrainer.source import LabeledSource
from tests.retrainer.support import DRIFTED, drift_event, labeled_events, produce_labeled
from tests.scorer.support import register_model

NAME = "credit-risk"


def _broken(event: LabeledEvent, i: int) -> LabeledEvent:
    """No annual_income at all, and a string for loan_amount in every fifth row."""
    features = {k: v for k, v in event.prediction.features.items() if k != "annual_income"}
    if i % 5 == 0:
        features["loan_amount"] = "n/a"
    prediction = msgspec.structs.replace(event.prediction, features=features)
    return msgspec.structs.replace(event, prediction=prediction)


def _retrain(kafka: KafkaSettings, home: Path, event_id: str) -> RetrainResult:
    settings = RetrainerSettings(home=home, kafka=kafka, retrain_min_rows=1000,
                                 retrain_data_wait=0.0, gate_margin=0.02)
    with Producer(kafka) as producer:
        job = RetrainJob(
            settings, producer=producer, experiment_id=configure(home),
            source=LabeledSource(kafka, settings.topic("labeled")),
        )
        return job.run(drift_event(event_id))


def _checks(kafka: KafkaSettings) -> list[DataValidationEvent]:
    msgs = read_topic(kafka, f"{kafka.topic_prefix}data-validation", idle_timeout=10)
    return [decode(DataValidationEvent, m.value()) for m in msgs]


def test_a_training_set_with_a_broken_column_is_refused_recorded_sent_and_not_registered(
    kafka, driftline_topics, tmp_path
):
    register_model(tmp_path, NAME, seed=1)
    produce_labeled(kafka, [_broken(e, i) for i, e in
                            enumerate(labeled_events(1200, DRIFTED))])

    result = _retrain(kafka, tmp_path, "drift-broken")

    missing = "annual_income: 100.0% of values missing, more than the 5.0% allowed"
    invalid = ("loan_amount: 20.0% of values invalid (not a finite number in "
               "[1,000, 100,000,000]), more than the 1.0% allowed")
    assert result.result == "refused" and result.version is None
    assert result.reason == f"refused: {missing}; {invalid}"
    # nothing registered, nothing moved
    versions = mlflow.MlflowClient().search_model_versions(f"name='{NAME}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert get_alias(NAME, "champion") == "1"

    # the run records why, each check's value and the thresholds
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.tags[TAGS.decision] == "refused"
    assert run.data.tags[TAGS.reason] == result.reason
    assert run.data.tags[TAGS.data_checks] == f"failed: {missing}; {invalid}"
    assert run.data.tags[TAGS.trigger_event] == "drift-broken"
    assert run.data.metrics["data.annual_income.missing_share"] == 1.0
    assert run.data.metrics["data.loan_amount.invalid_share"] == 0.2
    assert run.data.params["usable_rows"] == "0"
    assert run.data.params["max_missing_share"] == "0.05"
    recorded = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/data_checks.json")
    assert recorded["reasons"] == [missing, invalid]

    # and the verdict is on data-validation, with the evidence
    [sent] = _checks(kafka)
    assert (sent.passed, sent.model_name, sent.model_version) == (False, NAME, "1")
    assert sent.reasons == [missing, invalid]
    assert (sent.trigger_event_id, sent.run_id) == ("drift-broken", result.run_id)
    assert (sent.rows, sent.usable_rows) == (1200, 0)
    assert sum(r.last_offset - r.first_offset + 1 for r in sent.evidence) == 1200
    failed = {(c.column, c.check) for c in sent.checks if not c.passed}
    assert failed == {("annual_income", "missing_share"), ("loan_amount", "invalid_share")}


def test_a_clean_training_set_is_trained_on_and_its_checks_sent_as_passed(
    kafka, driftline_topics, tmp_path
):
    register_model(tmp_path, NAME, seed=1)
    events = labeled_events(1200, DRIFTED)
    # a few rows without a value: within the bound, left out of training
    events[:6] = [msgspec.structs.replace(e, prediction=msgspec.structs.replace(
        e.prediction, features={**e.prediction.features, "employment_years": None}))
        for e in events[:6]]
    produce_labeled(kafka, events)

    result = _retrain(kafka, tmp_path, "drift-clean")

    assert result.result == "promoted" and result.version == "2", result.reason
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.tags[TAGS.data_checks] == "passed"
    assert run.data.params["incomplete_rows"] == "6"
    assert run.data.metrics["data.employment_years.missing_share"] == 0.005
    assert "data.loan_amount.psi" in run.data.metrics
    [sent] = _checks(kafka)
    assert sent.passed and sent.reasons == [] and sent.run_id == result.run_id
    assert (sent.rows, sent.usable_rows) == (1200, 1194)
