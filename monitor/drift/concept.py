"""Concept drift detectors on the labeled stream, per model version (ADWIN and Page-Hinkley).

A :class:`ConceptDriftDetector` watches one model version: ADWIN on the 0/1 error stream (a
prediction is wrong when ``(score >= threshold) != label``) and Page-Hinkley on the per-event
log loss, both from :mod:`monitor.drift.detectors` (deciding exactly as river's, with state
that is plain data). It reports only *increases*: ADWIN also fires when the error rate
falls, which is no reason to alert, so a detection counts when the error estimate after
ADWIN drops its old buckets is above the one before; PageHinkley runs in ``mode="up"``. No
alarm is raised during the first ``warmup`` labeled events, while both estimates settle.

:class:`ConceptDetectors` keeps one detector per model version. Its :meth:`~ConceptDetectors.state`
is plain data (:class:`ConceptState` per version: the count of labeled events, the detections
and both detectors' windows and sums), checkpointed with the partition state that feeds it,
so a restarted worker's detectors go on exactly where the checkpoint left them.

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

import msgspec

from monitor.drift.detectors import Adwin, AdwinState, PageHinkley, PageHinkleyState

__all__ = ["ConceptDetectors", "ConceptDriftDetector", "ConceptState", "Detection"]


class ConceptState(msgspec.Struct, kw_only=True):
    """One :class:`ConceptDriftDetector`'s state: labeled events seen, detections per
    detector, and both detectors' own state."""

    n: int = 0
    detections: dict[str, int] = {}
    adwin: AdwinState | None = None
    page_hinkley: PageHinkleyState | None = None


class Detection(NamedTuple):
    """A labeled prediction at which detectors saw an increase: its index in what was fed,
    the detectors, and ADWIN's error-rate estimate right after it and right before it (the
    level the error rate rose from)."""

    index: int
    detectors: list[str]
    error_rate: float
    error_rate_before: float


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
        self._adwin = Adwin(delta=adwin_delta)
        self._ph = PageHinkley(**self._ph_params())
        self._n = 0
        self._detections = {"adwin": 0, "page_hinkley": 0}

    def _ph_params(self) -> dict[str, float | str]:
        return {"min_instances": 30, "delta": self.ph_delta, "threshold": self.ph_threshold,
                "alpha": self.ph_alpha, "mode": "up"}

    def state(self) -> ConceptState:
        """Everything it has learnt, as plain data."""
        return ConceptState(n=self._n, detections=dict(self._detections),
                            adwin=self._adwin.state(), page_hinkley=self._ph.state())

    def restore(self, state: ConceptState) -> None:
        """Go on from ``state`` (taken from a detector with the same parameters)."""
        self._n = state.n
        self._detections = {"adwin": 0, "page_hinkley": 0, **state.detections}
        if state.adwin is not None:
            self._adwin = Adwin.from_state(state.adwin, delta=self.adwin_delta)
        if state.page_hinkley is not None:
            self._ph = PageHinkley.from_state(state.page_hinkley, **self._ph_params())

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
        estimation = type(adwin).estimation.fget
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
                before = estimation(adwin)
                adwin_fired = adwin_update(error)
                ph_fired = ph_update(loss)
                fired = []
                if adwin_fired and estimation(adwin) > before:
                    fired.append("adwin")
                if ph_fired:
                    fired.append("page_hinkley")
                if fired:
                    for name in fired:
                        self._detections[name] += 1
                    out.append(Detection(i, fired, float(adwin.estimation), float(before)))
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

    def state(self) -> dict[str, ConceptState]:
        """Every version's detector state, keyed ``"<model name>\\t<version>"``."""
        return {f"{name}\t{version}": det.state()
                for (name, version), det in self._detectors.items()}

    def restore(self, states: dict[str, ConceptState]) -> None:
        """Go on from what :meth:`state` gave (detectors of versions not in it are kept)."""
        for key, state in states.items():
            name, _, version = key.partition("\t")
            self.get(name, version).restore(state)
