"""Concept drift detectors on the labeled stream, per model version (river's ADWIN and
PageHinkley).

A :class:`ConceptDriftDetector` watches one model version: river's ADWIN on the 0/1 error
stream (a prediction is wrong when ``(score >= threshold) != label``) and river's PageHinkley
on the per-event log loss. It reports only *increases*: ADWIN also fires when the error rate
falls, which is no reason to alert, so a detection counts when the error estimate after
ADWIN drops its old buckets is above the one before; PageHinkley runs in ``mode="up"``. No
alarm is raised during the first ``warmup`` labeled events, while both estimates settle.

:class:`ConceptDetectors` keeps one detector per model version, in the source process's
memory only: river's ADWIN keeps its window in a native object with no state to export, and
driftline writes no pickle, so a restarted worker's detectors start again (with their
warm-up).

>>> import random
>>> rng = random.Random(7)
>>> det = ConceptDriftDetector(warmup=500)
>>> first = None
>>> for i in range(6000):
...     wrong_rate = 0.1 if i < 3000 else 0.5  # the model gets much worse at 3000
...     label = int(rng.random() < 0.5)
...     right = rng.random() >= wrong_rate
...     score = 0.8 if label == right else 0.2
...     if det.update(score, label) and first is None:
...         first = i
>>> first is not None and 3000 <= first < 3200
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from river import drift

__all__ = ["ConceptDetectors", "ConceptDriftDetector", "Detection"]


class Detection(NamedTuple):
    """A labeled prediction at which detectors saw an increase: its index in what was fed,
    the detectors, and ADWIN's error-rate estimate right after it."""

    index: int
    detectors: list[str]
    error_rate: float


class ConceptDriftDetector:
    """ADWIN on the error stream and PageHinkley on the log loss of one model version.

    Parameters
    ----------
    threshold
        Score at or above which a prediction is positive (for the 0/1 error).
    adwin_delta
        ADWIN's confidence parameter (river's default 0.002).
    ph_threshold, ph_delta, ph_alpha
        PageHinkley's alarm threshold on the cumulative log-loss excess, the tolerated
        change, and its forgetting factor.
    loss_clip
        Scores are clipped to ``[loss_clip, 1 - loss_clip]`` before the log loss, so one
        confident mistake adds at most ``-ln(loss_clip)`` (6.9 by default), not infinity.
    warmup
        Labeled events before any alarm may be raised.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        adwin_delta: float = 0.002,
        ph_threshold: float = 100.0,
        ph_delta: float = 0.05,
        ph_alpha: float = 0.9999,
        loss_clip: float = 1e-3,
        warmup: int = 1000,
    ) -> None:
        if not 0.0 < loss_clip < 0.5:
            raise ValueError("loss_clip must be in (0, 0.5)")
        self.threshold = threshold
        self.adwin_delta = adwin_delta
        self.ph_threshold = ph_threshold
        self.ph_delta = ph_delta
        self.ph_alpha = ph_alpha
        self.loss_clip = loss_clip
        self.warmup = warmup
        self._adwin = drift.ADWIN(delta=adwin_delta)
        self._ph = drift.PageHinkley(
            min_instances=30, delta=ph_delta, threshold=ph_threshold, alpha=ph_alpha, mode="up"
        )
        self._n = 0
        self._detections = {"adwin": 0, "page_hinkley": 0}

    @property
    def n(self) -> int:
        """Labeled events seen."""
        return self._n

    @property
    def error_rate(self) -> float:
        """ADWIN's current estimate of the error rate."""
        return float(self._adwin.estimation)

    @property
    def detections(self) -> dict[str, int]:
        """Upward detections reported so far, per detector."""
        return dict(self._detections)

    def update(self, score: float, label: int) -> list[str]:
        """Feed one labeled prediction; returns the detectors that saw an increase now
        (``"adwin"``, ``"page_hinkley"``), usually none."""
        fired = self.update_many([score], [label])
        return fired[0].detectors if fired else []

    def update_many(self, scores: Sequence[float], labels: Sequence[int]) -> list[Detection]:
        """Feed labeled predictions in order, each as :meth:`update` would; returns a
        :class:`Detection` for each one at which a detector saw an increase."""
        adwin, ph = self._adwin, self._ph
        adwin_update, ph_update = adwin.update, ph.update
        threshold, clip, high = self.threshold, self.loss_clip, 1.0 - self.loss_clip
        warmup, log = self.warmup, math.log
        n = self._n
        out: list[Detection] = []
        for i, (score, label) in enumerate(zip(scores, labels, strict=True)):
            n += 1
            error = int((score >= threshold) != bool(label))
            p = clip if score < clip else (high if score > high else score)
            loss = -log(p if label else 1.0 - p)
            if n > warmup:
                before = adwin.estimation
                adwin_update(error)
                ph_update(loss)
                fired = []
                if adwin.drift_detected and adwin.estimation > before:
                    fired.append("adwin")
                if ph.drift_detected:
                    fired.append("page_hinkley")
                if fired:
                    for name in fired:
                        self._detections[name] += 1
                    out.append(Detection(i, fired, float(adwin.estimation)))
            else:
                adwin_update(error)
                ph_update(loss)
        self._n = n
        return out


class ConceptDetectors:
    """One :class:`ConceptDriftDetector` per (model name, version), created on first use.

    >>> dets = ConceptDetectors(warmup=10)
    >>> dets.update("credit-risk", "3", 0.9, 1)
    []
    >>> dets.get("credit-risk", "3").n
    1
    """

    def __init__(self, **params: float) -> None:
        self.params = params
        self._detectors: dict[tuple[str, str], ConceptDriftDetector] = {}

    def get(self, model_name: str, model_version: str) -> ConceptDriftDetector:
        key = (model_name, model_version)
        found = self._detectors.get(key)
        if found is None:
            found = self._detectors[key] = ConceptDriftDetector(**self.params)  # type: ignore[arg-type]
        return found

    def update(self, model_name: str, model_version: str, score: float, label: int) -> list[str]:
        """Feed one labeled prediction to its version's detector."""
        return self.get(model_name, model_version).update(score, label)

    def update_many(
        self, model_name: str, model_version: str, scores: Sequence[float],
        labels: Sequence[int],
    ) -> list[Detection]:
        """Feed labeled predictions of one version in order (see
        :meth:`ConceptDriftDetector.update_many`)."""
        return self.get(model_name, model_version).update_many(scores, labels)

    def versions(self) -> list[tuple[str, str]]:
        return sorted(self._detectors)
