"""Calibration of scores against realized labels: a reliability table and its expected
calibration error.

The table cuts ``[0, 1]`` into equal-width score bins and gives, per bin with rows, how many
rows fell in it, their mean score and the share of them labelled 1; a calibrated model's mean
score matches its positive rate in every bin. The expected calibration error (ECE) is the
row-weighted mean of the gaps.

>>> table = reliability([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.6], bins=2)
>>> [(b.low, b.high, b.rows, round(b.mean_score, 2), b.positive_rate) for b in table]
[(0.0, 0.5, 2, 0.15, 0.0), (0.5, 1.0, 2, 0.7, 1.0)]
>>> round(expected_calibration_error(table), 3)
0.225
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ReliabilityBin", "expected_calibration_error", "reliability"]


@dataclass(frozen=True)
class ReliabilityBin:
    """Scores in ``[low, high)`` (the last bin includes 1.0): how many rows, their mean
    score and their share of label 1."""

    low: float
    high: float
    rows: int
    mean_score: float
    positive_rate: float


def reliability(labels: Sequence[int], scores: Sequence[float],
                bins: int = 10) -> list[ReliabilityBin]:
    """The reliability table of ``scores`` on ``bins`` equal-width bins; empty bins are left
    out."""
    if bins < 1:
        raise ValueError("bins must be at least 1")
    y = np.asarray(labels, dtype=float)
    p = np.clip(np.asarray(scores, dtype=float), 0.0, 1.0)
    index = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    score_sums = np.bincount(index, weights=p, minlength=bins)
    label_sums = np.bincount(index, weights=y, minlength=bins)
    return [
        ReliabilityBin(round(i / bins, 6), round((i + 1) / bins, 6), int(counts[i]),
                       float(score_sums[i] / counts[i]), float(label_sums[i] / counts[i]))
        for i in range(bins)
        if counts[i]
    ]


def expected_calibration_error(table: Sequence[ReliabilityBin]) -> float:
    """Row-weighted mean gap between mean score and positive rate (NaN for no rows)."""
    total = sum(b.rows for b in table)
    if not total:
        return float("nan")
    return sum(b.rows * abs(b.mean_score - b.positive_rate) for b in table) / total
