"""Performance before the labels: confidence-based estimation from calibrated scores.

A window's :class:`~monitor.drift.performance.PerformanceAccumulator` counts every
prediction's score in equal bins, labeled or not, and the labeled ones per class. The
predictions still waiting for a label are the difference. With the model's calibration map
(:mod:`driftline.calibration`, fitted on the holdout rows when the version was trained), a
score ``s`` stands for ``c(s)`` expected positives and ``1 - c(s)`` expected negatives; the
expected confusion counts and per-bin class counts of the unlabeled part follow, and from them
its expected accuracy, binned ROC AUC and Brier score (confidence-based performance
estimation, CBPE, as NannyML calls it). The window's estimate pools the labeled part's
realized counts with the unlabeled part's expected ones, so it becomes the realized value as
the labels arrive.

The estimate assumes the calibration still holds: P(label | score) is what it was on the
holdout. Covariate shift (the inputs move, P(y | x) does not) keeps it as long as the model
does not extrapolate where it was never fitted; concept drift (P(y | x) changes) breaks it,
and when it does so without moving the scores, the calibration alone does not see it. Once a
window has enough labels, they test the calibration (:func:`calibration_check`); when they
reject it, the unlabeled part is estimated from probabilities learned from them instead.
Before that, the realized metrics and the concept detector cover the case.

>>> import numpy as np
>>> from driftline.calibration import fit_calibration
>>> rng = np.random.default_rng(5)
>>> s = rng.random(20000)
>>> y = (rng.random(20000) < s).astype(int)          # calibrated scores
>>> cal = fit_calibration(s[:5000], y[:5000])
>>> acc = PerformanceAccumulator()
>>> acc.add_predictions(15000, s[5000:])
>>> acc.update_many(s[5000:5500], y[5000:5500])      # the first 500 labels are in
>>> est = estimate_performance(acc, cal)
>>> est.labeled, est.unlabeled, round(est.label_coverage, 3)
(500, 14500, 0.033)
>>> done = PerformanceAccumulator()
>>> done.update_many(s[5000:], y[5000:])
>>> abs(est.roc_auc - done.roc_auc()) < 0.01, abs(est.accuracy - done.evaluate().accuracy) < 0.01
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec
import numpy as np

from driftline.calibration import CalibrationMap
from driftline.intervals import auc_interval, binned_auc_standard_error, wilson_interval
from monitor.drift.judge import FeatureJudgement
from monitor.drift.performance import DEFAULT_TOLERANCES, PerformanceAccumulator, judge_metrics

__all__ = [
    "CHECK_LEVEL",
    "CHECK_MIN_LABELED",
    "ESTIMATED_METRICS",
    "PerformanceEstimate",
    "binned_auc",
    "calibration_check",
    "estimate_performance",
    "judge_estimate",
]

# The metrics estimated for the unlabeled part (and judged for a performance-estimate event).
ESTIMATED_METRICS = ("accuracy", "roc_auc", "brier")
# The labeled pairs reject the reference calibration below this p-value (with this many)
CHECK_LEVEL = 0.01
CHECK_MIN_LABELED = 100
GROUP = 20  # bins pooled when the labeled pairs relearn the calibration
PRIOR = 3.0  # pseudo-labels at the reference calibration per group


class PerformanceEstimate(msgspec.Struct, kw_only=True, frozen=True):
    """A window's performance: label coverage, the realized metrics of the labeled part with
    95 % intervals, the expected metrics of the unlabeled part, and the window's estimate
    (realized counts of the labeled part pooled with expected counts of the rest). A field
    is None while it is undefined (no labels, one class only, no unlabeled predictions)."""

    predictions: int
    labeled: int
    unlabeled: int
    label_coverage: float | None
    realized_accuracy: float | None
    realized_accuracy_interval: tuple[float, float] | None
    realized_roc_auc: float | None
    realized_roc_auc_interval: tuple[float, float] | None
    realized_brier: float | None
    unlabeled_accuracy: float | None
    unlabeled_roc_auc: float | None
    unlabeled_brier: float | None
    accuracy: float | None
    roc_auc: float | None
    brier: float | None
    # the labeled pairs' test of the reference calibration, and whether it was refitted
    calibration_p_value: float | None = None
    recalibrated: bool = False
    # standard errors of the window's estimated metrics, as if all its predictions were
    # labeled: the estimate varies less than that while the calibration holds
    standard_errors: dict[str, float] = {}

    def metrics(self) -> dict[str, float]:
        """The window's estimated metrics by name (accuracy, roc_auc, brier)."""
        return {n: v for n in ESTIMATED_METRICS if (v := getattr(self, n)) is not None}


def binned_auc(positives: np.ndarray, negatives: np.ndarray) -> float | None:
    """ROC AUC from (possibly fractional) class counts per increasing score bin, pairs in
    one bin counting one half; None while a class has no weight.

    >>> binned_auc(np.array([0.0, 1.0, 3.0]), np.array([2.0, 1.0, 0.0]))
    0.9583333333333334
    """
    n_pos, n_neg = float(positives.sum()), float(negatives.sum())
    if n_pos <= 0 or n_neg <= 0:
        return None
    below = np.cumsum(negatives) - negatives
    return float(np.sum(positives * (below + 0.5 * negatives)) / (n_pos * n_neg))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1.0 - 1e-6)
    return np.log(q / (1.0 - q))


def _log_likelihood(eta: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    # log sigmoid(eta) and log(1 - sigmoid(eta)), stably
    return float(np.sum(-pos * np.logaddexp(0.0, -eta) - neg * np.logaddexp(0.0, eta)))


def calibration_check(z: np.ndarray, pos: np.ndarray,
                      neg: np.ndarray) -> tuple[float, float, float]:
    """Fit ``P(y = 1) = sigmoid(a z + b)`` to labeled class counts per bin (``z``: the
    logit of the reference calibration in each bin) by Newton's method; returns ``(a, b,
    p_value)`` where ``p_value`` is the likelihood-ratio test of ``a = 1, b = 0`` (the
    reference calibration holds; chi-squared with 2 degrees of freedom).

    >>> z = np.linspace(-3, 3, 13)
    >>> n = np.full(13, 100.0)
    >>> a, b, p = calibration_check(z, n / (1 + np.exp(-z)), n / (1 + np.exp(z)))
    >>> round(a, 3), round(abs(b), 3), round(p, 3)
    (1.0, 0.0, 1.0)
    >>> a, b, p = calibration_check(z, n / (1 + np.exp(z)), n / (1 + np.exp(-z)))  # flipped
    >>> round(a, 3), p < 1e-6
    (-1.0, True)
    """
    weight = pos + neg
    w = np.array([1.0, 0.0])
    design = np.stack([z, np.ones_like(z)], axis=1)
    best = _log_likelihood(z, pos, neg)
    reference = best
    for _ in range(100):
        prob = 0.5 * (1.0 + np.tanh(0.5 * (design @ w)))
        gradient = design.T @ (pos - weight * prob)
        hessian = (design * (weight * prob * (1.0 - prob))[:, None]).T @ design
        hessian += 1e-9 * np.eye(2)  # (one bin only: a and b are not apart)
        move = np.linalg.solve(hessian, gradient)
        while True:  # halve the step until the likelihood does not fall
            found = _log_likelihood(design @ (w + move), pos, neg)
            if found >= best or np.max(np.abs(move)) < 1e-12:
                break
            move = move / 2.0
        w, gained, best = w + move, found - best, max(found, best)
        if np.max(np.abs(move)) < 1e-10 or gained < 1e-12:
            break
    ratio = 2.0 * (best - reference)
    return float(w[0]), float(w[1]), float(math.exp(-max(ratio, 0.0) / 2.0))


def _relearned(p: np.ndarray, pos: np.ndarray, neg: np.ndarray, *, group: int = GROUP,
               prior: float = PRIOR) -> np.ndarray:
    """Per-bin probabilities learned from the labeled pairs: in each group of ``group``
    neighbouring bins, the labeled positives plus ``prior`` pseudo-labels at the reference
    probability of the bin, over the labeled pairs plus ``prior``."""
    bins = len(p)
    groups = np.arange(bins) // group
    n_groups = int(groups[-1]) + 1
    pos_g = np.bincount(groups, weights=pos, minlength=n_groups)[groups]
    n_g = np.bincount(groups, weights=pos + neg, minlength=n_groups)[groups]
    return (pos_g + prior * p) / (n_g + prior)


def estimate_performance(acc: PerformanceAccumulator, calibration: CalibrationMap, *,
                         check_level: float = CHECK_LEVEL,
                         check_min_labeled: int = CHECK_MIN_LABELED) -> PerformanceEstimate:
    """The window's performance so far, with the estimate of its unlabeled part.

    With at least ``check_min_labeled`` labels of both classes, the labeled pairs test the
    reference calibration (:func:`calibration_check`); when they reject it at
    ``check_level``, the unlabeled part is estimated with the calibration refitted to them
    (a logistic correction of the reference's logit), and ``recalibrated`` says so.

    The expected metrics of the unlabeled part are None when it is empty or when some of
    the window's predictions were counted without their scores (an accumulator from before
    scores were kept)."""
    bins = acc.bins
    pos = np.asarray(acc.positives, dtype=float)
    neg = np.asarray(acc.negatives, dtype=float)
    scored = np.asarray(acc.scored, dtype=float)
    labeled = acc.labeled
    known = int(scored.sum()) == acc.predictions
    unlabeled_bins = np.maximum(scored - pos - neg, 0.0) if known else np.zeros(bins)
    unlabeled = int(unlabeled_bins.sum())
    mids = (np.arange(bins) + 0.5) / bins
    p = np.clip(calibration.apply(mids), 0.0, 1.0)
    p_value, recalibrated = None, False
    if labeled >= check_min_labeled and pos.sum() > 0 and neg.sum() > 0:
        z = _logit(p)
        _, _, p_value = calibration_check(z, pos, neg)
        if p_value < check_level:
            p = _relearned(p, pos, neg)
            recalibrated = True
    decided = mids >= acc.threshold
    exp_pos, exp_neg = unlabeled_bins * p, unlabeled_bins * (1.0 - p)
    exp_correct = float(np.sum(np.where(decided, exp_pos, exp_neg)))
    exp_brier = float(np.sum(exp_pos * (1.0 - mids) ** 2 + exp_neg * mids ** 2))

    correct = acc.tp + acc.tn
    realized_auc = acc.roc_auc()
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    total = labeled + unlabeled
    accuracy = (correct + exp_correct) / total if total else None
    roc_auc = binned_auc(pos + exp_pos, neg + exp_neg)
    brier = (acc.brier_sum + exp_brier) / total if total else None
    errors: dict[str, float] = {}
    if total:
        # binomial for accuracy; for the Brier score, whose per-prediction values lie in
        # [0, 1], the largest spread a mean of b allows, b (1 - b)
        for name, value in (("accuracy", accuracy), ("brier", brier)):
            assert value is not None
            errors[name] = math.sqrt(value * (1.0 - value) / total)
        auc_error = binned_auc_standard_error(pos + exp_pos, neg + exp_neg)
        if auc_error is not None:
            errors["roc_auc"] = auc_error
    return PerformanceEstimate(
        predictions=acc.predictions,
        labeled=labeled,
        unlabeled=unlabeled,
        label_coverage=min(labeled / acc.predictions, 1.0) if acc.predictions else None,
        realized_accuracy=correct / labeled if labeled else None,
        realized_accuracy_interval=(wilson_interval(correct / labeled, labeled)
                                    if labeled else None),
        realized_roc_auc=realized_auc,
        realized_roc_auc_interval=(None if realized_auc is None
                                   else auc_interval(realized_auc, n_pos, n_neg)),
        realized_brier=acc.brier_sum / labeled if labeled else None,
        unlabeled_accuracy=exp_correct / unlabeled if unlabeled else None,
        unlabeled_roc_auc=binned_auc(exp_pos, exp_neg) if unlabeled else None,
        unlabeled_brier=exp_brier / unlabeled if unlabeled else None,
        accuracy=accuracy,
        roc_auc=roc_auc,
        brier=brier,
        calibration_p_value=p_value,
        recalibrated=recalibrated,
        standard_errors=errors,
    )


def judge_estimate(
    estimate: PerformanceEstimate,
    baseline: Mapping[str, float],
    tolerances: Mapping[str, float] | None = None,
    *,
    min_predictions: int = 200,
    alpha: float | None = None,
) -> list[FeatureJudgement]:
    """Judge the window's estimated metrics against the version's baseline, as
    :func:`~monitor.drift.performance.judge_performance` judges realized ones (method
    ``estimated_<metric>``; with ``alpha``, tested with the estimate's standard errors).
    Nothing is drifted with fewer than ``min_predictions`` predictions, or when no
    prediction of the window waits for its label (the realized metrics judge that
    window)."""
    tolerances = DEFAULT_TOLERANCES if tolerances is None else tolerances
    wanted = {n: t for n, t in tolerances.items() if n in ESTIMATED_METRICS}
    judged = estimate.predictions >= min_predictions and estimate.unlabeled > 0
    return judge_metrics(estimate.metrics(), baseline, wanted, rows=estimate.predictions,
                         judged=judged, method_prefix="estimated_", alpha=alpha,
                         standard_errors=estimate.standard_errors)
