"""Sequential evidence over windows: an e-CUSUM per feature and the score.

A window's test sees only its own rows, so a shift too small for one window's level is
missed however long it lasts. Here each judged window's p-value (binned KS for a number and
the score, chi-square for a category) becomes an e-value, and an e-detector accumulates
them over windows (Shin, Ramdas and Rinaldo, 2023, "E-detectors: a nonparametric framework
for sequential change detection"):

p to e
    A category gives its chi-square p-value; a number and the score give the smallest of the
    binned KS, rank-sum and chi-square p-values, tripled (a Bonferroni p-value over the
    three: the rank sum sees a shift of location best, chi-square on the bins one of spread,
    KS any change of shape), or of KS and the rank sum, doubled, when the window holds fewer
    than 5 rows per bin (:func:`window_p_value`).
    :func:`p_to_e` is the calibrator ``e = kappa * p ** (kappa - 1)`` (Vovk and Wang, 2021,
    "E-values: calibration, combination and applications"): for a p-value uniform (or
    stochastically larger, as the conservative binned KS) under the null, ``E[e] <= 1``.
    A window adds evidence (``e > 1``) when ``p < kappa ** (1 / (1 - kappa))``, 0.077 for
    ``kappa = 0.1``; on stable traffic ``E[log e] = log(kappa) + 1 - kappa``, about -1.4 a
    window, so the statistic falls back quickly, and that margin absorbs the slight tilt a
    fixed reference gives every window's p-value (below). A larger kappa gathers more from
    p-values near 0.05 but leaves less margin (-0.64 a window at 0.25).
e-CUSUM
    :class:`Cusum` keeps ``M_t = min(max(M_{t-1}, 1) * e_t, threshold)`` (the largest
    product of e-values over the windows ending now, capped at the threshold) and alarms
    when ``M_t`` reaches the threshold while *armed*; after an alarm it is disarmed until
    ``M`` falls below 1. An armed alarm is always an alarm of the e-CUSUM that restarts
    after each alarm (both agree from the time ``M < 1``), and that one raises at most
    ``looks / threshold`` alarms in expectation over ``looks`` looks when each e-value is
    valid given the ones before it (its Shiryaev-Roberts bound, ``R_t - t`` a
    supermartingale). :func:`~monitor.drift.contract.cusum_threshold` sets the threshold
    from the sequential share of the contract.

Assumptions. The e-values are valid given the past when the windows fed are disjoint and
the reference is fixed: rows of one window do not recur in the next, and the test's null
distribution already counts the reference's sampling noise (a two-sample test). A reference
shared by every window makes the windows' p-values slightly dependent through it; the null
drift of ``log e`` (-1.4 a window) is the margin against that, and the false-alarm
benchmark measures what remains. Hopping windows (step shorter than the window) share rows,
so the p-values of overlapping windows are positively dependent and the bound would not
hold: :class:`SequentialEvidence` feeds only windows that start at or after the end of the
last window fed (every window when they tumble; one in ``ceil(size / step)`` when they hop)
and counts looks at the window's length.

How it decides. A test whose e-CUSUM alarms counts as drifted in that window
(method ``"e_cusum"`` in its judgement when the window's own test did not reject; either
way its statistics carry an ``e_cusum`` statistic: the value ``M``, the threshold, whether
it alarmed). Its ratio is at least ``log M / log threshold`` (below 1 unless it alarms),
and just under 1 from an alarm until the e-CUSUM is armed again, so that the drift policy
does not clear the finding while the evidence holds: one shift, one event. Features decided
by their own rule (a policy file's method) are outside the contract and get no sequential
evidence.

The state is plain data per model version (:class:`SequentialState`) in any
``MutableMapping[str, bytes]`` (a faust table in the app), updated in the order the windows
are judged.

>>> round(p_to_e(0.02), 3), round(p_to_e(1.0), 3)
(3.381, 0.1)
>>> c = Cusum()
>>> [c.advance(p_to_e(p), threshold=100.0) for p in (0.01, 0.02, 0.01)]
[False, False, True]
>>> c.statistic, c.armed, c.alarms
(100.0, False, 1)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping

import msgspec

from driftline.events import FeatureStatistic
from monitor.drift.contract import SEQUENTIAL_KAPPA, cusum_threshold
from monitor.drift.judge import DriftConfig, FeatureJudgement, WindowReport

__all__ = [
    "SEQUENTIAL_METHOD",
    "Cusum",
    "SequentialEvidence",
    "SequentialState",
    "combined_p_value",
    "p_to_e",
    "window_p_value",
]

SEQUENTIAL_METHOD = "e_cusum"
_NUMERIC_TESTS = ("ks_p_value", "rank_sum_p_value", "bins_chi_square_p_value")
_P_STATISTICS = (*_NUMERIC_TESTS, "chi_square_p_value")
_SMALLEST_P = 1e-300
_HELD = 0.999  # the ratio of a test whose evidence holds after its alarm


def window_p_value(j: FeatureJudgement) -> float | None:
    """The p-value the evidence over windows takes from a judgement: the chi-square's for a
    category; for a number or the score the smallest of the binned KS, rank-sum and
    chi-square p-values times their number (Bonferroni over them: the rank sum sees a shift
    of location best, the chi-square one of spread, KS any change of shape), leaving out
    the chi-square when the window is too small for its p-value."""
    return combined_p_value({s.statistic: s.value for s in j.statistics
                             if s.statistic in _P_STATISTICS})


def combined_p_value(found: Mapping[str, float]) -> float | None:
    """:func:`window_p_value` from a column's test p-values by statistic name (those of
    :func:`~monitor.drift.judge.numeric_p_values` or
    :func:`~monitor.drift.judge.categorical_p_values`).

    >>> combined_p_value({"ks_p_value": 0.2, "rank_sum_p_value": 0.01})
    0.02
    """
    numeric = [found[name] for name in _NUMERIC_TESTS if name in found]
    if numeric:
        return min(1.0, len(numeric) * min(numeric))
    return found.get("chi_square_p_value")


def p_to_e(p: float, kappa: float = SEQUENTIAL_KAPPA) -> float:
    """The e-value ``kappa * p ** (kappa - 1)`` of a p-value (clipped to [1e-300, 1]).

    >>> p_to_e(1.0, kappa=0.5), p_to_e(0.04, kappa=0.5)
    (0.5, 2.5)
    """
    if not 0.0 < kappa < 1.0:
        raise ValueError("kappa must be strictly between 0 and 1")
    p = min(max(float(p), _SMALLEST_P), 1.0)
    return kappa * p ** (kappa - 1.0)


class Cusum(msgspec.Struct, kw_only=True):
    """One test's e-CUSUM: the statistic ``M`` (0 before the first window), whether an alarm
    may fire (``armed``), and how many fired."""

    statistic: float = 0.0
    armed: bool = True
    alarms: int = 0

    def advance(self, e: float, threshold: float) -> bool:
        """Fold in one window's e-value; True when it alarms in this window.

        >>> c = Cusum()
        >>> [c.advance(e, threshold=8.0) for e in (0.5, 4.0, 3.0, 2.0, 0.1, 0.5, 9.0)]
        [False, False, True, False, False, False, True]
        """
        m = min(max(self.statistic, 1.0) * e, threshold)
        alarm = self.armed and m >= threshold
        if alarm:
            self.armed = False
            self.alarms += 1
        elif m < 1.0:
            self.armed = True
        self.statistic = m
        return alarm


class SequentialState(msgspec.Struct, kw_only=True):
    """The e-CUSUMs of one model version, per ``"<feature type>:<name>"``, and the end of the
    last window fed."""

    window_end: float | None = None
    tests: dict[str, Cusum] = {}


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SequentialState)


class SequentialEvidence:
    """Feed judged windows to each test's e-CUSUM and mark the tests it finds drifted.

    ``store`` holds one :class:`SequentialState` per model version (default: a dict). The
    calibrator's kappa (:func:`p_to_e`) is the judged config's ``sequential_kappa``.
    """

    def __init__(self, store: MutableMapping[str, bytes] | None = None) -> None:
        self.store: MutableMapping[str, bytes] = {} if store is None else store

    def state(self, model_name: str, model_version: str) -> SequentialState:
        """The e-CUSUMs of one model version."""
        data = self.store.get(f"{model_name}\t{model_version}")
        return SequentialState() if data is None else _decoder.decode(data)

    def observe(self, report: WindowReport, config: DriftConfig) -> WindowReport:
        """``report`` with each p-value test's e-CUSUM folded in (windows in order of their
        end): a test whose e-CUSUM alarms is drifted, and the dataset share counts it.
        Unjudged windows, windows overlapping the last one fed, and a config without a
        sequential share leave the report and the state as they are."""
        if not report.judged or config.cusum_budget <= 0.0:
            return report
        state = self.state(report.model_name, report.model_version)
        if state.window_end is not None and report.window_start < state.window_end:
            return report
        length = report.window_end - report.window_start
        look = max(config.look_every or length, length)
        if look <= 0:
            return report
        tests = len(report.features) + (report.score is not None)
        threshold = cusum_threshold(config.cusum_budget, look, tests)
        state.window_end = report.window_end
        features = [self._fold(state, j, config, threshold) for j in report.features]
        score = (None if report.score is None
                 else self._fold(state, report.score, config, threshold))
        self.store[f"{report.model_name}\t{report.model_version}"] = _encoder.encode(state)
        return report.rejudged(features, score)

    def _fold(self, state: SequentialState, j: FeatureJudgement, config: DriftConfig,
              threshold: float) -> FeatureJudgement:
        if config.for_feature(j.feature) is not config:
            return j  # decided by its own rule, outside the contract
        p = window_p_value(j)
        if p is None:
            return j
        cusum = state.tests.setdefault(f"{j.feature_type}:{j.feature}", Cusum())
        alarm = cusum.advance(p_to_e(p, config.sequential_kappa), threshold)
        m = cusum.statistic
        stat = FeatureStatistic(feature=j.feature, statistic=SEQUENTIAL_METHOD, value=m,
                                threshold=threshold, drifted=alarm,
                                feature_type=j.feature_type)  # type: ignore[arg-type]
        held = math.log(m) / math.log(threshold) if m > 1.0 else 0.0
        if not cusum.armed and not alarm:
            held = max(held, _HELD)
        if alarm and not j.drifted:
            return msgspec.structs.replace(
                j, method=SEQUENTIAL_METHOD, value=m, threshold=threshold,
                ratio=max(1.0, held), drifted=True, statistics=[stat, *j.statistics],
            )
        return msgspec.structs.replace(j, ratio=max(j.ratio, min(held, _HELD)),
                                       statistics=[*j.statistics, stat])
