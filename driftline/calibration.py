"""A model's score calibration, fitted on labeled holdout rows and stored with its profile.

A :class:`CalibrationMap` maps a raw score to the probability that the label is 1, as seen on
the holdout rows the model was not trained on: an isotonic (monotone) regression of the labels
on the scores (scikit-learn's ``IsotonicRegression``), kept as its knots and interpolated
linearly between them, clipped at the ends. The monitor reads it from the reference profile
to estimate the performance of predictions whose labels have not arrived
(:mod:`monitor.drift.estimation`).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> s = rng.random(5000)
>>> y = (rng.random(5000) < s ** 2).astype(int)   # the score overstates the risk
>>> cal = fit_calibration(s, y)
>>> [round(float(p), 1) for p in cal.apply(np.array([0.1, 0.5, 0.9]))]
[0.0, 0.2, 0.8]
>>> CalibrationMap.from_json(cal.to_json()) == cal
True
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

__all__ = ["MIN_CALIBRATION_ROWS", "CalibrationMap", "fit_calibration"]

# Fewer labeled holdout rows (or fewer than this many of either class / 10) give no map.
MIN_CALIBRATION_ROWS = 200


class CalibrationMap(msgspec.Struct, kw_only=True, frozen=True):
    """Raw score -> P(label = 1): ``probabilities[i]`` at ``scores[i]`` (increasing),
    linear in between, constant beyond the ends. ``rows``: the holdout rows it was fitted on."""

    scores: list[float]
    probabilities: list[float]
    rows: int
    method: str = "isotonic"

    def apply(self, scores: Any) -> np.ndarray:
        """The calibrated probabilities of ``scores``."""
        return np.interp(np.asarray(scores, dtype=float), self.scores, self.probabilities)

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> CalibrationMap:
        return msgspec.json.decode(data, type=cls)


def fit_calibration(scores: Any, labels: Any) -> CalibrationMap | None:
    """Fit the isotonic calibration of ``scores`` to 0/1 ``labels``; None when there are fewer
    than :data:`MIN_CALIBRATION_ROWS` finite rows or a class has fewer than a tenth of that."""
    from sklearn.isotonic import IsotonicRegression

    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=float)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    keep = np.isfinite(s) & np.isfinite(y)
    s, y = s[keep], y[keep]
    positives = int(np.count_nonzero(y))
    least = MIN_CALIBRATION_ROWS // 10
    if s.size < MIN_CALIBRATION_ROWS or positives < least or s.size - positives < least:
        return None
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
    return CalibrationMap(
        scores=[float(v) for v in iso.X_thresholds_],
        probabilities=[float(v) for v in iso.y_thresholds_],
        rows=int(s.size),
    )
