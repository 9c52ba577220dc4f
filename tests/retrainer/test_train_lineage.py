"""The retrainer's pure pieces without a broker or a registry: challenger training and scoring,
the gate on drifted data, lineage records, commit bookkeeping, settings and the models list."""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftline.features import CREDIT_RISK
from driftline.model.registry import LoadedModel
from producers.bootstrap import train_default
from retrainer.catalog import VersionFacts, render
from retrainer.data_checks import DataThresholds, check_rows
from retrainer.dataset import RangePolicy, build_dataset
from retrainer.gate import Gate
from retrainer.lineage import TAGS, Lineage, Refusal
from retrainer.offsets import CommitTracker
from retrainer.settings import RetrainerSettings
from retrainer.train import (
    TrainingError,
    feature_columns,
    feature_schema,
    train_and_evaluate,
    training_columns,
)
from retrainer.trigger import TriggerPolicy
from tests.retrainer.support import DRIFTED, drift_event, labeled_events, sourced


@pytest.fixture(scope="module")
def champion() -> LoadedModel:
    trained = train_default(seed=3, rows=3000)
    return LoadedModel(name="credit-risk", version="1", estimator=trained.model,
                       signature=trained.signature, run_id=None)


@pytest.fixture(scope="module")
def drifted_dataset():
    return build_dataset(sourced(labeled_events(2400, DRIFTED)),
                         RangePolicy(window=None, min_rows=1000, holdout_fraction=0.25))


def test_challenger_trained_on_drifted_rows_beats_the_champion_on_the_holdout(
    champion, drifted_dataset
):
    evaluation = train_and_evaluate(drifted_dataset, champion, name="credit-risk")
    verdict = Gate(margin=0.05).judge(evaluation.labels, evaluation.champion_scores,
                                      evaluation.challenger_scores)
    assert verdict.promote, verdict.reason
    assert verdict.challenger["roc_auc"] > 0.7 > verdict.champion["roc_auc"]
    assert len(evaluation.labels) == len(drifted_dataset.holdout) == 600


def test_challenger_is_served_exactly_as_it_was_fitted(champion, drifted_dataset):
    challenger = train_and_evaluate(drifted_dataset, champion, name="credit-risk").challenger
    # The scorer builds its input array in signature order: it must be the fitted order.
    assert challenger.signature.inputs.input_names() == CREDIT_RISK.names
    assert challenger.columns == tuple(CREDIT_RISK.names)
    types = {s.name: str(s.type) for s in challenger.signature.inputs.inputs}
    assert types["loan_amount"].endswith("double") and types["channel"].endswith("string")
    rows = drifted_dataset.holdout[:50]
    array = np.array([[r.event.prediction.features[n] for n in CREDIT_RISK.names] for r in rows],
                     dtype=object)
    from retrainer.train import score_rows

    served = score_rows(LoadedModel(name="credit-risk", version="2", estimator=challenger.model,
                                    signature=challenger.signature, run_id=None), rows)
    np.testing.assert_allclose(served, challenger.model.predict_proba(array)[:, 1])
    assert challenger.profile.rows == len(drifted_dataset.train)
    assert challenger.profile.score is not None


def test_the_challenger_profile_holds_its_features_importance_on_the_holdout(
    champion, drifted_dataset
):
    profile = train_and_evaluate(drifted_dataset, champion, name="credit-risk").challenger.profile
    assert profile.importance is not None and set(profile.importance) == set(CREDIT_RISK.names)
    assert abs(sum(profile.importance.values()) - 1.0) < 1e-9


def test_an_unreachable_margin_rejects_with_the_reason(champion, drifted_dataset):
    evaluation = train_and_evaluate(drifted_dataset, champion, name="credit-risk")
    verdict = Gate(margin=0.9).judge(evaluation.labels, evaluation.champion_scores,
                                     evaluation.challenger_scores)
    assert not verdict.promote and verdict.reason.startswith("rejected: roc_auc")


def test_lineage_records_trigger_ranges_fingerprint_and_both_models_metrics(drifted_dataset):
    labels = [r.event.label for r in drifted_dataset.holdout]
    verdict = Gate().judge(labels, [0.5] * len(labels), [float(y) for y in labels])
    lineage = Lineage(model_name="credit-risk", event=drift_event("d-42"),
                      dataset=drifted_dataset, verdict=verdict, gate=Gate(),
                      pipeline="default", champion_version="1")
    tags = lineage.version_tags()
    assert tags[TAGS.trigger_event] == "d-42" and tags[TAGS.decision] == "promoted"
    assert tags[TAGS.fingerprint] == drifted_dataset.fingerprint
    assert tags[TAGS.train_ranges].startswith("labeled 0:")
    assert tags[TAGS.holdout_rows] == "600"
    metrics = lineage.metrics()
    assert metrics["holdout_auc"] == 1.0 and metrics["champion_holdout_auc"] == 0.5
    assert {"holdout_brier", "champion_holdout_brier", "holdout_log_loss"} <= metrics.keys()
    assert b'"holdout_ranges"' in lineage.to_json()


def test_a_refusal_records_the_reasons_each_check_and_the_thresholds(drifted_dataset):
    rows = [*drifted_dataset.train, *drifted_dataset.holdout]
    features = [{k: v for k, v in r.event.prediction.features.items() if k != "channel"}
                for r in rows]
    report = check_rows(features, [r.event.label for r in rows],
                        feature_columns(CREDIT_RISK), features=CREDIT_RISK)
    refusal = Refusal("credit-risk", drift_event("drift-9"), drifted_dataset, report,
                      DataThresholds(), "1", rows_read=2400)
    reason = "channel: 100.0% of values missing, more than the 5.0% allowed"
    assert refusal.reason == f"refused: {reason}"
    assert refusal.run_name == "refused-credit-risk-drift-9"
    tags = refusal.tags()
    assert tags[TAGS.decision] == "refused" and tags[TAGS.data_checks] == f"failed: {reason}"
    assert tags[TAGS.trigger_event] == "drift-9"
    params = refusal.params()
    assert (params["rows_checked"], params["usable_rows"], params["failed_checks"]) == (
        2400, 0, 1)
    assert params["max_psi"] == "none" and params["max_missing_share"] == 0.05
    recorded = json.loads(refusal.to_json())
    assert recorded["reasons"] == [reason]
    assert {"column": "channel", "check": "missing_share", "value": 1.0, "threshold": 0.05,
            "passed": False} in recorded["checks"]


def test_commit_holds_at_the_retrain_in_flight_and_partitions_are_independent():
    t = CommitTracker()
    t.seen(0, 0, final=False)
    t.seen(0, 1)
    t.seen(1, 7)
    assert t.to_commit() == {0: 0, 1: 8}
    t.committed({0: 0, 1: 8})
    t.finish(0, 0)
    assert t.to_commit() == {0: 2}
    t.forget(0)
    assert t.to_commit() == {}


def test_in_flight_skips_are_counted_as_in_flight():
    policy = TriggerPolicy()
    policy.decide(drift_event("a"))
    decision = policy.decide(drift_event("b"))
    assert decision.outcome == "in_flight" and "in flight" in decision.reason


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"retrain_min_rows": 500, "retrain_max_rows": 100}, "MAX_ROWS"),
        ({"retrain_pipeline": "not a path"}, "DRIFTLINE_RETRAIN_PIPELINE"),
        ({"retrain_min_severity": "extreme"}, "retrain_min_severity"),
        ({"gate_metric": "f2"}, "gate_metric"),
        ({"retrain_min_rows": 10, "retrain_holdout_fraction": 0.1}, "fewer than 5 rows"),
    ],
)
def test_bad_settings_fail_fast_with_the_variable_named(values, message):
    with pytest.raises(ValueError, match=message):
        RetrainerSettings(**values)


def test_models_list_says_when_nothing_serves():
    assert "no versions registered" in render("credit-risk", [])
    text = render("credit-risk", [VersionFacts(version="3", decision="rejected",
                                               reason="rejected: roc_auc 0.7 ...")])
    assert "nothing serves" in text and "REJECTED" in text and "rejected: roc_auc" in text


def test_since_drift_trains_only_on_rows_from_the_drift_window_on():
    rows = sourced(labeled_events(300, rate=1.0))  # event times T0 .. T0 + 299
    settings = RetrainerSettings(retrain_min_rows=20, retrain_since_drift=True)
    data = build_dataset(rows, settings.range_policy(not_before=rows[0].event.event_time + 200))
    assert len(data.train) + len(data.holdout) == 100
    everything = RetrainerSettings(retrain_min_rows=20).range_policy(not_before=1e12)
    assert len(build_dataset(rows, everything).train) == 225  # not_before ignored by default


def test_a_champion_registered_without_feature_ranges_is_trained_on_its_signature(champion):
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"radius": [1.0, 2.0, 3.0, 4.0], "site": ["a", "b", "a", "b"]})
    adopted = LoadedModel(name="cancer", version="1", estimator=LogisticRegression(),
                          signature=infer_signature(frame, [0.1, 0.2, 0.3, 0.4]), run_id=None)
    assert feature_schema(adopted) is None
    assert training_columns(adopted) == (("radius", "float"), ("site", "str"))
    assert feature_schema(champion) is CREDIT_RISK  # credit-risk inputs, no recorded ranges
    with pytest.raises(TrainingError, match="set DRIFTLINE_RETRAIN_PIPELINE=champion"):
        train_and_evaluate(build_dataset(sourced(labeled_events(400)),
                                         RangePolicy(window=None, min_rows=10)),
                           adopted, name="cancer")
