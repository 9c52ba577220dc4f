"""The performance judge under the false-alarm contract: its standard errors and its test."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from monitor.drift.judge import DriftConfig
from monitor.drift.performance import PerformanceAccumulator, judge_performance

METRICS = ("accuracy", "roc_auc", "f1", "log_loss", "brier")
TIGHT = {"accuracy": 0.02, "roc_auc": 0.02, "f1": 0.02, "log_loss": 0.04, "brier": 0.01}


def draw(rng: np.random.Generator, n: int, flip: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A model's scores and labels; ``flip`` of the labels turned over (the model gets worse)."""
    y = (rng.random(n) < 0.3).astype(int)
    s = np.clip(rng.beta(2, 5, n) + 0.35 * y, 0.0, 1.0)
    turned = rng.random(n) < flip
    return s, np.where(turned, 1 - y, y)


def window(rng: np.random.Generator, n: int, flip: float = 0.0) -> PerformanceAccumulator:
    acc = PerformanceAccumulator()
    s, y = draw(rng, n, flip)
    acc.add_predictions(n, s)
    acc.update_many(s, y)
    return acc


@pytest.fixture(scope="module")
def baseline() -> dict[str, float]:
    """The version's test metrics: the same model on many rows."""
    return window(np.random.default_rng(99), 200_000).evaluate().metrics()


def test_standard_errors_match_the_spread_of_the_metrics_over_windows():
    rng = np.random.default_rng(4)
    reports = [window(rng, 500).evaluate() for _ in range(400)]
    for name in METRICS:
        spread = float(np.std([getattr(r, name) for r in reports], ddof=1))
        stated = float(np.mean([r.standard_errors[name] for r in reports]))
        assert stated == pytest.approx(spread, rel=0.15), name


def test_stable_windows_reject_within_the_level_where_the_fixed_tolerance_does_not(baseline):
    # tolerances tight enough that the plain "past the limit" rule fires in many stable
    # windows; at a level of 0.05 per window, 1,000 windows may reject in 50 on average:
    # allow three standard deviations
    rng = np.random.default_rng(11)
    count, alpha = 1000, 0.05
    bound = count * alpha + 3 * math.sqrt(count * alpha)
    tested = fixed = 0
    for _ in range(count):
        report = window(rng, 300).evaluate()
        tested += any(j.drifted for j in judge_performance(report, baseline, TIGHT,
                                                           alpha=alpha))
        fixed += any(j.drifted for j in judge_performance(report, baseline, TIGHT))
    assert tested <= bound
    assert fixed > bound


def test_a_large_drop_is_caught_in_one_five_minute_window_at_the_default_contract(baseline):
    alpha = DriftConfig(look_every=300.0).performance_alpha(300.0)
    report = window(np.random.default_rng(5), 600, flip=0.25).evaluate()
    judged = {j.feature: j for j in judge_performance(report, baseline, alpha=alpha)}
    assert judged["accuracy"].drifted and judged["roc_auc"].drifted
    p_value = judged["accuracy"].statistics[1]
    assert p_value.statistic == "accuracy_p_value"
    assert p_value.value < p_value.threshold == pytest.approx(alpha / len(judged))


def test_a_window_just_past_its_limit_on_few_labels_is_not_drifted(baseline):
    rng = np.random.default_rng(6)
    report = next(r for r in (window(rng, 250).evaluate() for _ in range(2000))
                  if r.accuracy < baseline["accuracy"] - 0.05)
    (accuracy,) = [j for j in judge_performance(report, baseline, alpha=1e-4)
                   if j.feature == "accuracy"]
    assert accuracy.ratio >= 1.0 and not accuracy.drifted


def test_losses_counted_without_their_squares_are_reported_but_never_drifted(baseline):
    acc = window(np.random.default_rng(8), 400, flip=0.4)
    encoded = msgspec.json.decode(acc.encode())
    del encoded["log_loss_sq_sum"], encoded["brier_sq_sum"]
    old = PerformanceAccumulator.decode(msgspec.json.encode(encoded))
    old.update_many(*draw(np.random.default_rng(9), 100, flip=0.4))
    old.merge(window(np.random.default_rng(10), 100, flip=0.4))
    report = old.evaluate()
    assert "log_loss" not in report.standard_errors and "accuracy" in report.standard_errors
    judged = {j.feature: j for j in judge_performance(report, baseline, alpha=0.01)}
    assert judged["log_loss"].ratio > 1.0 and not judged["log_loss"].drifted
    assert judged["accuracy"].drifted


def test_squares_merge_as_if_counted_in_one_pass():
    rng = np.random.default_rng(12)
    s, y = draw(rng, 1000)
    whole, left, right, empty = (PerformanceAccumulator() for _ in range(4))
    whole.update_many(s, y)
    left.update_many(s[:400], y[:400])
    right.update_many(s[400:], y[400:])
    merged = empty.merge(left).merge(right)
    assert merged.log_loss_sq_sum == pytest.approx(whole.log_loss_sq_sum)
    assert merged.brier_sq_sum == pytest.approx(whole.brier_sq_sum)
    assert merged.standard_errors() == pytest.approx(whole.standard_errors())
