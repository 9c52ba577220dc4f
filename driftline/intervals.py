"""Confidence intervals of the performance metrics a window reports.

>>> [round(x, 3) for x in wilson_interval(0.8, 100)]
[0.711, 0.867]
>>> [round(x, 3) for x in auc_interval(0.8, 100, 300)]
[0.744, 0.856]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["auc_interval", "auc_standard_error", "binned_auc_standard_error", "wilson_interval"]


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion ``p`` seen on ``n`` labels ((0, 1) for none)."""
    if n <= 0:
        return (0.0, 1.0)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(centre - half, 0.0), min(centre + half, 1.0))


def auc_interval(auc: float, positives: int, negatives: int, z: float = 1.96
                 ) -> tuple[float, float]:
    """95% interval of a ROC AUC by Hanley and McNeil's (1982) standard error ((0, 1) while
    a class is missing)."""
    if positives <= 0 or negatives <= 0:
        return (0.0, 1.0)
    half = z * auc_standard_error(auc, positives, negatives)
    return (max(auc - half, 0.0), min(auc + half, 1.0))


def auc_standard_error(auc: float, positives: float, negatives: float) -> float:
    """Hanley and McNeil's (1982) standard error of a ROC AUC seen on ``positives`` and
    ``negatives`` (counts; expected counts may be fractional), both above zero.

    >>> round(auc_standard_error(0.8, 100, 300), 4)
    0.0283
    """
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
           + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    return math.sqrt(max(var, 0.0))


def binned_auc_standard_error(positives: Sequence[float], negatives: Sequence[float]
                              ) -> float | None:
    """DeLong's (1988) standard error of the ROC AUC of scores counted per class in ordered
    bins (pairs in one bin count as ties); counts may be expected, fractional ones. None
    while a class is missing.

    Each positive's placement is the share of negatives it outranks (ties a half), each
    negative's the share of positives that outrank it; the AUC's variance is the spread of
    the positives' placements over their count plus the negatives' over theirs.

    >>> round(binned_auc_standard_error([0, 1, 3], [3, 1, 0]), 4)
    0.0442
    """
    pos = np.asarray(positives, dtype=np.float64)
    neg = np.asarray(negatives, dtype=np.float64)
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos <= 0 or n_neg <= 0:
        return None
    below = np.cumsum(neg) - neg
    above = n_pos - np.cumsum(pos)
    v10 = (below + 0.5 * neg) / n_neg  # placement of the positives in each bin
    v01 = (above + 0.5 * pos) / n_pos  # placement of the negatives in each bin
    auc = float(np.sum(pos * v10)) / n_pos
    s10 = float(np.sum(pos * (v10 - auc) ** 2)) / max(n_pos - 1.0, 1.0)
    s01 = float(np.sum(neg * (v01 - auc) ** 2)) / max(n_neg - 1.0, 1.0)
    return math.sqrt(s10 / n_pos + s01 / n_neg)
