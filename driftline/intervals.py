"""Confidence intervals of the performance metrics a window reports.

>>> [round(x, 3) for x in wilson_interval(0.8, 100)]
[0.711, 0.867]
>>> [round(x, 3) for x in auc_interval(0.8, 100, 300)]
[0.744, 0.856]
"""

from __future__ import annotations

import math

__all__ = ["auc_interval", "wilson_interval"]


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
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
           + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    half = z * math.sqrt(max(var, 0.0))
    return (max(auc - half, 0.0), min(auc + half, 1.0))
