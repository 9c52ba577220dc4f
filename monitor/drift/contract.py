"""The false-alarm contract: from "at most N false alarms per 30 days" to each test's level.

A model's contract is the expected number of false drift events per 30 days of stable
traffic (traffic drawn from the reference distribution), ``false_alarms`` (default 1). The
monitor judges one window every ``look_every`` seconds (the window step), so 30 days hold
``30 * 86400 / look_every`` looks. Two steps spend the budget:

Over time (union bound)
    Each look gets ``alpha_w = false_alarms * look_every / (30 * 86400)``
    (:func:`window_alpha`). The expected number of looks that reject is the sum of their
    rejection probabilities, ``looks * alpha_w = false_alarms``, whatever the dependence
    between windows (hopping windows share rows; every window shares the reference).
Within a window (Bonferroni)
    The window's ``tests`` p-values (every judged feature and the score) are each compared
    with ``alpha_w / tests`` (:func:`per_test_alpha`, :func:`bonferroni`). The expected number of
    rejections in the window is at most ``alpha_w``, again under any dependence between the
    tests (the score is a function of the features). A covariate event needs one rejected
    feature, a prediction event the rejected score, and a dataset event needs at least two
    rejected features besides, so the expected number of drift events a window raises is at
    most its expected number of rejections, ``alpha_w``.

Across families (:func:`family_budget`)
    The contract covers everything the monitor judges, split into three families whose
    budgets add up to ``false_alarms``: the distribution tests above (covariate, prediction
    and dataset events) get half, the performance judge a quarter and the concept
    detector a quarter (:data:`SHARES`). The expected numbers add, so the bound on the
    whole is the sum of the families' bounds, under any dependence between them.

Within the distribution family (:data:`SEQUENTIAL_SHARE`, :data:`POOLED_SHARE`)
    The distribution budget is split between the window-by-window tests above and the
    evidence over windows, half each by default (``DriftConfig.sequential_share``), and that
    half again between pooled windows and e-CUSUMs (``DriftConfig.pooled_share``). A pooled
    test (:mod:`monitor.drift.pooled`) judges the last few windows' counts together at each
    look, each scale at :func:`per_test_alpha` of its share: the windows' union bound. Each
    judged p-value also becomes an e-value, and an e-CUSUM per test (feature or score,
    :mod:`monitor.drift.sequential`) raises an alarm when its statistic reaches
    :func:`cusum_threshold`, ``looks * tests / budget``. Under the null (stable traffic, the
    e-values valid given the past), one e-CUSUM that starts afresh after each alarm raises
    at most ``looks / threshold`` alarms in expectation over ``looks`` looks, so the
    ``tests`` detectors raise at most ``budget``: the same union bound as the windows'.

So on stable traffic the expected number of covariate, prediction and dataset events per
30 days is at most ``false_alarms / 2``, and of all drift events at most ``false_alarms``.
Hysteresis (``raise_after``) and cooldown only remove events: they keep the bound.

>>> round(window_alpha(1.0, 300.0), 8)        # 5-minute windows: 8,640 looks in 30 days
0.00011574
>>> round(per_test_alpha(1.0, 300.0, tests=8), 9)  # 7 features and the score
1.4468e-05
>>> bonferroni([0.01, 1e-6, 0.3], alpha=0.03)  # each p against 0.03 / 3
[False, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "HORIZON",
    "POOLED_SHARE",
    "SEQUENTIAL_KAPPA",
    "SEQUENTIAL_SHARE",
    "SHARES",
    "bonferroni",
    "cusum_threshold",
    "family_budget",
    "per_test_alpha",
    "window_alpha",
]

HORIZON = 30 * 86_400.0  # the contract's period: 30 days, in seconds
# each family's share of the contract (they add up to one)
SHARES: dict[str, float] = {"distribution": 0.5, "performance": 0.25, "concept": 0.25}
# the share of the distribution budget that the sequential evidence over windows spends
SEQUENTIAL_SHARE = 0.5
# the share of that evidence's budget that the pooled windows spend (the rest: the e-CUSUMs)
POOLED_SHARE = 0.5
# the p-to-e calibrator's kappa of the sequential evidence (monitor.drift.sequential.p_to_e)
SEQUENTIAL_KAPPA = 0.1


def family_budget(false_alarms: float, family: str) -> float:
    """The expected false alarms per 30 days that ``family`` (a key of :data:`SHARES`) may
    spend of a contract of ``false_alarms``.

    >>> family_budget(1.0, "distribution"), family_budget(2.0, "concept")
    (0.5, 0.5)
    >>> sum(family_budget(1.0, f) for f in SHARES)
    1.0
    """
    if family not in SHARES:
        raise ValueError(f"family must be one of {sorted(SHARES)}, not {family!r}")
    return false_alarms * SHARES[family]


def window_alpha(false_alarms: float, look_every: float, horizon: float = HORIZON) -> float:
    """The level of one look (one judged window): ``false_alarms * look_every / horizon``,
    at most 0.5.

    >>> window_alpha(1.0, 3600.0) * 720           # hourly windows: 720 looks in 30 days
    1.0
    >>> window_alpha(2.0, 3600.0, horizon=7200.0)  # a contract looser than the looks: 0.5
    0.5
    """
    if false_alarms <= 0:
        raise ValueError("false_alarms must be > 0")
    if look_every <= 0:
        raise ValueError("look_every must be > 0 seconds")
    return min(false_alarms * look_every / horizon, 0.5)


def per_test_alpha(false_alarms: float, look_every: float, tests: int,
               horizon: float = HORIZON) -> float:
    """The level of each of a window's ``tests`` p-values: the window's level split evenly
    (Bonferroni).

    >>> per_test_alpha(1.0, 3600.0, tests=4) * 4 * 720
    1.0
    """
    return window_alpha(false_alarms, look_every, horizon) / max(tests, 1)


def bonferroni(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Which of ``p_values`` are rejected when their family is held to ``alpha``: each
    ``p < alpha / len(p_values)`` (the rule :mod:`monitor.drift.judge` applies to each
    feature with the level from :func:`per_test_alpha`).

    >>> bonferroni([0.004, 0.006, 0.02, 0.5], alpha=0.02)
    [True, False, False, False]
    >>> bonferroni([], alpha=0.05)
    []
    """
    if not p_values:
        return []
    level = alpha / len(p_values)
    return [p < level for p in p_values]


def cusum_threshold(budget: float, look_every: float, tests: int,
                    horizon: float = HORIZON) -> float:
    """The alarm threshold of each of ``tests`` e-CUSUMs that look every ``look_every``
    seconds so that together they raise at most ``budget`` false alarms per ``horizon`` in
    expectation: ``looks * tests / budget`` (each detector at most ``looks / threshold``),
    at least 2.

    >>> cusum_threshold(0.25, 300.0, tests=8)    # 8,640 looks, 8 tests, a quarter alarm
    276480.0
    >>> cusum_threshold(100.0, 3600.0, tests=1, horizon=7200.0)
    2.0
    """
    if budget <= 0:
        raise ValueError("budget must be > 0")
    if look_every <= 0:
        raise ValueError("look_every must be > 0 seconds")
    return max(horizon / look_every * max(tests, 1) / budget, 2.0)
