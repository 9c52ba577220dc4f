"""Concept drift detection on the labeled stream, per model version: a one-sided Bernoulli
GLR scan on the 0/1 error stream, its threshold set by the false-alarm contract.

A :class:`ConceptDriftDetector` watches one model version. A prediction is wrong when
``(score >= threshold) != label``; the detector feeds that 0/1 error stream to a
:class:`~monitor.drift.glr.BernoulliGlr`, which alarms at the first labeled event where the
log generalized likelihood ratio of "the error rate rose at some cut" reaches the threshold
of that cut.
Only increases count: a model that gets better raises nothing. No alarm is raised during the
first ``warmup`` labeled events of a version.

The threshold comes from the contract (:func:`glr_threshold`): the concept family's share of
``false_alarms`` (:func:`monitor.drift.contract.family_budget`, the ``budget``) over the ``N``
labeled events of 30 days (``label_rate`` per second, all partitions of the version
together), spent evenly over the ``L`` scales of the newer part (``n1`` in ``[2**j,
2**(j+1))``, ``L`` the bit length of ``N``). A newer part of ``n1`` events renews every
``n1`` events, so scale ``j`` holds about ``N / 2**j`` nearly independent tests per cut, at
``cuts / 2`` cuts per scale; with the Chernoff bound ``P(n KL(p_hat || p) >= c) <= exp(-c)``
per test its expected false alarms are at most about ``N * (cuts / 2) * exp(-c_j) / 2**j``.
Its share ``budget / L`` gives

    c_j = ln(N * (cuts / 2) * L / budget) - j * ln(2),

the threshold of a newer part of one event less ``ln 2`` per doubling of its length: short
newer parts, whose tests are many and nearly independent, need more evidence (as ADWIN's
Bernstein term asks), long ones less. The expected false alarms add over scales and checks
whatever their dependence. One detector watches a version's pairs of every partition
(:mod:`monitor.merging.concept` pools them), so ``N`` counts each label once. Where a cut's
newer part is long (``n1 p (1 - p) >= 25``, :data:`NORMAL_FROM`), the threshold is that of
the statistic's normal tail at a quarter of the level instead of the Chernoff bound
(:func:`~monitor.drift.glr.normal_threshold`: about 1.2 nats less at 512 events; the quarter
pays for the scan looking at each cut at every event). Measured on stable Bernoulli error
streams of 30 days at two labels a second at the default contract (budget 0.25): 0.05 to
0.16 false alarms per 30 days at error rates 0.02 to 0.5 (40 to 100 streams a rate).

:meth:`ConceptDriftDetector.state` is plain data (:class:`ConceptState`: the count of
labeled events, the detections and the scan's counts), kept by its owner
(:class:`monitor.merging.concept.ConceptPool`) so that a restarted one goes on exactly where
it left off.

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
import numpy as np

from monitor.drift.contract import HORIZON, family_budget
from monitor.drift.glr import BernoulliGlr, GlrState

__all__ = ["ConceptDriftDetector", "ConceptState", "Detection", "glr_threshold"]

DETECTOR = "glr"  # the detector's name in a Detection and in the concept event's evidence
# the newer part's variance (n1 p (1 - p)) from which the statistic's normal tail sets the
# threshold: the binomial's skew makes the normal tail of the signed root too light below
NORMAL_FROM = 25.0


def glr_threshold(false_alarms: float = 1.0, label_rate: float = 1.0, cuts: int = 8) -> float:
    """The GLR threshold of a newer part of one event, ``c0``, that spends the concept
    family's budget of a contract of ``false_alarms`` per 30 days at ``label_rate`` labeled
    events per second; a newer part of ``n1`` events needs ``c0 - ln(2) * floor(log2(n1))``
    (see the module docstring):

        c0 = ln(N * (cuts / 2) * L / budget),  N labels in 30 days, L = N's bit length

    >>> round(glr_threshold(1.0, 1.0), 2)   # 2,592,000 labels in 30 days, budget 0.25
    20.63
    >>> round(glr_threshold(1.0, 1.0) - 9 * math.log(2), 2)   # a newer part of 512 events
    14.39
    >>> round(glr_threshold(4.0, 1.0), 2)   # a looser contract: budget 1
    19.25
    """
    if not label_rate > 0:
        raise ValueError("label_rate must be > 0")
    budget = family_budget(false_alarms, "concept")
    labels = label_rate * HORIZON
    levels = max(int(labels).bit_length(), 1)
    return max(math.log(labels * (cuts // 2) * levels / budget), 1.0)


class ConceptState(msgspec.Struct, kw_only=True):
    """One :class:`ConceptDriftDetector`'s state: labeled events seen, detections, and the
    GLR scan's state."""

    n: int = 0
    detections: dict[str, int] = {}
    glr: GlrState | None = None


class Detection(NamedTuple):
    """A labeled prediction at which the error rate rose: its index in what was fed, the
    detectors, the error rate after the change and before it (the newer and the older part
    of the best cut)."""

    index: int
    detectors: list[str]
    error_rate: float
    error_rate_before: float


class ConceptDriftDetector:
    """The Bernoulli GLR scan on the error stream of one model version.

    Parameters
    ----------
    threshold
        Score at or above which a prediction is positive (for the 0/1 error).
    false_alarms
        The model's false-alarm contract (expected false drift events per 30 days); the
        detector spends the concept family's share.
    label_rate
        Expected labeled events per second of the version, all partitions together.
    cuts
        Cuts per level of the scan (:class:`~monitor.drift.glr.BernoulliGlr`).
    warmup
        Labeled events before any alarm may be raised.
    normal_from
        A cut whose newer part holds this much variance (``n1 p (1 - p)``) or more takes the
        threshold of the statistic's normal tail (:func:`~monitor.drift.glr.normal_threshold`);
        None keeps the Chernoff bound everywhere.
    """

    def __init__(self, threshold: float = 0.5, false_alarms: float = 1.0,
                 label_rate: float = 1.0, cuts: int = 8, warmup: int = 1000,
                 normal_from: float | None = NORMAL_FROM) -> None:
        self.threshold = threshold
        self.false_alarms = false_alarms
        self.label_rate = label_rate
        self.warmup = warmup
        self.glr_threshold = glr_threshold(false_alarms, label_rate, cuts)
        self._glr = BernoulliGlr(self.glr_threshold, cuts=cuts, discount=math.log(2.0),
                                 normal_from=normal_from)
        self._n = 0
        self._detections = {DETECTOR: 0}

    def state(self) -> ConceptState:
        """Everything it has learnt, as plain data."""
        return ConceptState(n=self._n, detections=dict(self._detections),
                            glr=self._glr.state())

    def restore(self, state: ConceptState) -> None:
        """Go on from ``state`` (taken from a detector with the same parameters)."""
        self._n = state.n
        self._detections = {DETECTOR: 0, **state.detections}
        if state.glr is not None:
            self._glr.restore(state.glr)

    @property
    def n(self) -> int:
        """Labeled events seen."""
        return self._n

    @property
    def error_rate(self) -> float:
        """The error rate since the last detection (after one: of the newer part of its cut
        and what followed)."""
        return self._glr.rate

    @property
    def detections(self) -> dict[str, int]:
        """Upward detections reported so far, per detector."""
        return dict(self._detections)

    def update(self, score: float, label: int) -> list[str]:
        """Feed one labeled prediction; returns the detectors that saw an increase now
        (``"glr"``), usually none."""
        fired = self.update_many([score], [label])
        return fired[0].detectors if fired else []

    def update_many(self, scores: Sequence[float] | np.ndarray,
                    labels: Sequence[int] | np.ndarray) -> list[Detection]:
        """Feed labeled predictions in order, each as :meth:`update` would; returns a
        :class:`Detection` for each one at which the error rate rose."""
        s = np.asarray(scores, dtype=float)
        y = np.asarray(labels)
        if s.shape != y.shape:
            raise ValueError(f"{len(s)} scores but {len(y)} labels")
        return self.update_errors((s >= self.threshold) != y.astype(bool))

    def update_errors(self, errors: Sequence[int] | np.ndarray) -> list[Detection]:
        """Feed the 0/1 errors of labeled predictions in order (1: the prediction was
        wrong), as :meth:`update_many` does from their scores and labels."""
        x = np.asarray(errors)
        armed_from = max(self.warmup - self._n, 0)
        alarms = self._glr.update_many(x, armed_from=armed_from)
        self._n += len(x)
        self._detections[DETECTOR] += len(alarms)
        return [Detection(a.index, [DETECTOR], a.rate, a.rate_before) for a in alarms]
