from __future__ import annotations

import pytest

from driftline.errors import ConfigurationError
from driftline.events import DriftEvent, LabeledEvent, PredictionEvent
from retrainer.dataset import InsufficientDataError, RangePolicy, SourcedRow, build_dataset
from retrainer.gate import Gate
from retrainer.service import Retrainer
from retrainer.settings import RetrainerSettings
from retrainer.trigger import TriggerPolicy


def _drift(i: int, t: float, model: str = "credit-risk", **kw) -> DriftEvent:
    base = {"kind": "covariate", "severity": "high"}
    base.update(kw)
    return DriftEvent(event_id=f"d{i}", event_time=t, model_name=model, model_version="1",
                      window_start=t - 60, window_end=t, **base)


def test_duplicate_drift_events_cause_one_retrain():
    policy = TriggerPolicy(cooldown=0, debounce=0)
    decisions = [policy.decide(_drift(1, 100.0)) for _ in range(5)]
    assert [d.trigger for d in decisions] == [True, False, False, False, False]
    assert {d.outcome for d in decisions[1:]} == {"duplicate"}


def test_one_retrain_in_flight_per_model_but_models_are_independent():
    policy = TriggerPolicy()
    assert policy.decide(_drift(1, 100.0)).trigger
    assert not policy.decide(_drift(2, 110.0)).trigger
    assert policy.decide(_drift(3, 110.0, model="fraud")).trigger
    assert policy.in_flight("credit-risk") and policy.in_flight("fraud")


def test_cooldown_counts_from_the_end_of_the_retrain_and_debounce():
    policy = TriggerPolicy(cooldown=300, debounce=120)
    assert policy.decide(_drift(1, 1000.0)).trigger
    policy.finished("credit-risk", at=1010.0)  # finished quickly: debounce still applies
    assert not policy.decide(_drift(2, 1400.0)).trigger  # 1000 + 120 + 300 = 1420
    assert policy.decide(_drift(3, 1421.0)).trigger


@pytest.mark.parametrize(
    ("kind", "severity", "expected"),
    [("covariate", "medium", True), ("concept", "high", True), ("performance", "medium", True),
     ("prediction", "high", False), ("dataset", "high", False), ("covariate", "low", False)],
)
def test_default_kinds_and_severity(kind, severity, expected):
    assert TriggerPolicy().decide(_drift(1, 1.0, kind=kind, severity=severity)).trigger is expected


def _rows(n: int, start: float = 0.0, model: str = "m") -> list[SourcedRow]:
    out = []
    for i in range(n):
        t = start + i
        p = PredictionEvent(prediction_id=f"{model}-{i}", event_time=t, model_name=model,
                            model_version="1", features={"x": float(i), "c": "a"}, score=0.5,
                            decision="LOW")
        out.append(SourcedRow(LabeledEvent(event_time=t, prediction=p, label=i % 2,
                                           label_time=t + 1, delay_seconds=1.0),
                              "labeled", i % 3, i))
    return out


def test_holdout_is_the_most_recent_slice_by_event_time():
    rows = _rows(100)
    rows.reverse()  # read order must not matter
    data = build_dataset(rows, RangePolicy(window=None, min_rows=10, holdout_fraction=0.2))
    assert max(r.event.event_time for r in data.train) < min(
        r.event.event_time for r in data.holdout)
    assert (len(data.train), len(data.holdout)) == (80, 20)
    cols, labels = data.columns("holdout", ["x", "c"])
    assert cols["x"] == [float(i) for i in range(80, 100)] and labels == [i % 2 for i in
                                                                           range(80, 100)]


def test_fingerprint_depends_on_content_not_read_order():
    a = build_dataset(_rows(50), RangePolicy(window=None, min_rows=10))
    b = build_dataset(list(reversed(_rows(50))), RangePolicy(window=None, min_rows=10))
    c = build_dataset(_rows(51), RangePolicy(window=None, min_rows=10))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_too_few_rows_or_one_class_is_refused_with_a_reason():
    with pytest.raises(InsufficientDataError, match="fewer than the 500 needed"):
        build_dataset(_rows(100), RangePolicy(min_rows=500))
    one_class = [r for r in _rows(100) if r.event.label == 1]
    with pytest.raises(InsufficientDataError, match="label 1"):
        build_dataset(one_class, RangePolicy(window=None, min_rows=10))


def test_rows_of_other_models_are_left_out():
    rows = _rows(40, model="m") + _rows(40, model="other")
    data = build_dataset(rows, RangePolicy(window=None, min_rows=10, model_name="m"))
    assert {r.event.prediction.model_name for r in data.train + data.holdout} == {"m"}


def test_gate_rejects_a_challenger_worse_on_brier_even_if_auc_is_better():
    labels = [0, 1] * 50
    champion = [0.45 if y == 0 else 0.55 for y in labels]  # AUC 1.0, Brier 0.2025
    # Same ranking but badly calibrated: AUC also 1.0, so it must not win on AUC alone.
    challenger = [0.01 if y == 0 else 0.02 for y in labels]
    verdict = Gate(margin=0.0).judge(labels, champion, challenger)
    assert not verdict.promote and "Brier" in verdict.reason


def test_gate_promotes_without_a_champion():
    assert Gate().judge([0, 1], None, [0.2, 0.8]).promote


def test_the_policy_file_sets_which_kinds_retrain_its_model_over_the_setting(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[models.credit-risk.retrain]\nkinds = ["prediction"]\n')
    settings = RetrainerSettings(policy_file=path, retrain_kinds="covariate")
    policy = settings.trigger_policy()
    assert policy.kinds == ("prediction",)
    assert policy.decide(_drift(1, 100.0, kind="prediction")).trigger
    assert policy.decide(_drift(2, 200.0, kind="covariate")).outcome == "kind"
    other = RetrainerSettings(policy_file=path, retrain_kinds="covariate", model_name="fraud")
    assert other.trigger_kinds() == (("covariate",), "DRIFTLINE_RETRAIN_KINDS")


def test_a_bad_retrain_table_stops_the_retrainer_naming_the_key(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('[models.credit-risk.retrain]\nkinds = ["covariate", "weather"]\n')
    with pytest.raises(ConfigurationError) as caught:
        Retrainer(RetrainerSettings(policy_file=path))  # before any Kafka or MLflow
    assert str(caught.value).startswith(f"{path}: models.credit-risk.retrain.kinds.1: ")
    assert str(caught.value).endswith("(got 'weather')")


def test_the_regression_rule_passes_a_candidate_within_the_margin_that_promotion_rejects():
    labels = [0, 1] * 50
    champion = [0.3 if y == 0 else 0.7 for y in labels]
    champion[0], champion[1] = 0.8, 0.2  # two pairs ranked wrong
    candidate = list(champion)
    candidate[2] = 0.7  # a little worse: a negative tied with the positives
    gate = Gate(margin=0.01, brier_tolerance=0.01)
    assert not gate.judge(labels, champion, candidate).promote
    within = gate.judge_regression(labels, champion, candidate)
    assert within.promote and within.reason.startswith("passed: roc_auc")
    strict = Gate(margin=0.0, brier_tolerance=0.01).judge_regression(labels, champion, candidate)
    assert not strict.promote and strict.reason.startswith("worse: roc_auc")


def test_the_regression_rule_refuses_a_candidate_much_worse_on_brier():
    labels = [0, 1] * 50
    champion = [0.1 if y == 0 else 0.9 for y in labels]
    candidate = [0.45 if y == 0 else 0.55 for y in labels]  # same ranking, poorly calibrated
    verdict = Gate(margin=0.01, brier_tolerance=0.005).judge_regression(labels, champion,
                                                                      candidate)
    assert not verdict.promote and verdict.reason.startswith("worse: Brier ")


def test_the_retrainer_is_alive_and_ready_only_while_its_consumer_thread_runs(tmp_path):
    import threading

    retrainer = Retrainer(RetrainerSettings(home=tmp_path))
    assert retrainer.liveness()[0] and not retrainer.readiness()[0]  # not started yet
    done = threading.Event()
    retrainer._thread = threading.Thread(target=done.wait)
    retrainer._thread.start()
    retrainer._ready.set()
    ok, facts = retrainer.readiness()
    assert ok and facts == {"thread": True, "consuming": True, "retraining": False}
    retrainer._failure = RuntimeError("broker gone")
    done.set()
    retrainer._thread.join()
    alive, facts = retrainer.liveness()
    assert not alive and facts["error"] == "RuntimeError: broker gone"
    assert not retrainer.readiness()[0]
