"""Per-window performance against scikit-learn on the same pairs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from monitor.drift.performance import PerformanceAccumulator, judge_performance


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(21)
    y = (rng.random(3000) < 0.3).astype(int)
    s = np.clip(rng.beta(2, 5, 3000) + 0.35 * y, 0.0, 1.0)
    return s, y


def test_metrics_match_scikit_learn(pairs):
    s, y = pairs
    acc = PerformanceAccumulator(threshold=0.5)
    for score, label in zip(s, y, strict=True):
        acc.update(float(score), int(label))
    r = acc.evaluate()
    pred = (s >= 0.5).astype(int)
    assert r.accuracy == pytest.approx(metrics.accuracy_score(y, pred))
    assert r.precision == pytest.approx(metrics.precision_score(y, pred))
    assert r.recall == pytest.approx(metrics.recall_score(y, pred))
    assert r.f1 == pytest.approx(metrics.f1_score(y, pred))
    assert r.log_loss == pytest.approx(metrics.log_loss(y, np.clip(s, 1e-15, 1 - 1e-15)))
    assert r.brier == pytest.approx(metrics.brier_score_loss(y, s))
    assert r.roc_auc == pytest.approx(metrics.roc_auc_score(y, s), abs=0.002)  # binned


def test_merge_equals_one_pass(pairs):
    s, y = pairs
    whole, left, right = (PerformanceAccumulator() for _ in range(3))
    for i, (score, label) in enumerate(zip(s, y, strict=True)):
        whole.update(float(score), int(label), delay=float(i))
        (left if i % 3 else right).update(float(score), int(label), delay=float(i))
    merged = left.merge(right).evaluate()
    w = whole.evaluate()
    assert (merged.labeled, merged.accuracy, merged.roc_auc, merged.delay_min,
            merged.delay_max) == (w.labeled, w.accuracy, w.roc_auc, w.delay_min, w.delay_max)
    assert merged.log_loss == pytest.approx(w.log_loss)


def test_coverage_and_delays_as_labels_arrive():
    acc = PerformanceAccumulator()
    acc.add_predictions(4)
    assert acc.evaluate().label_coverage == 0.0
    assert acc.evaluate().accuracy is None and acc.evaluate().roc_auc is None
    for delay in (30.0, 200.0, 4000.0):
        acc.update(0.9, 1, delay=delay)
    r = acc.evaluate()
    assert r.label_coverage == 0.75
    assert r.roc_auc is None  # one class only so far
    assert (r.delay_min, r.delay_max, r.delay_mean) == (30.0, 4000.0, pytest.approx(1410.0))
    assert (r.delay_p50_at_most, r.delay_p90_at_most) == (300.0, 21600.0)


def test_state_round_trips_through_json(pairs):
    s, y = pairs
    acc = PerformanceAccumulator(bins=50)
    for score, label in zip(s[:100], y[:100], strict=True):
        acc.update(float(score), int(label), delay=5.0)
    assert PerformanceAccumulator.decode(acc.encode()) == acc


def test_judge_performance_needs_enough_labels():
    acc = PerformanceAccumulator()
    for _ in range(50):
        acc.update(0.9, 0)
    judged = judge_performance(acc.evaluate(), {"accuracy": 0.9})
    assert [(j.feature, j.drifted, j.ratio) for j in judged] == [("accuracy", False, 18.0)]
    assert judge_performance(acc.evaluate(), {"accuracy": 0.9}, min_labeled=10)[0].drifted
