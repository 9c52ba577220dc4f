"""Judging one window against the reference: which statistic decides, and the verdicts.

:func:`judge_numeric` and :func:`judge_categorical` compute every statistic of
:mod:`driftline.drift_statistics` for one feature and let one of them, the *headline*, decide
the verdict (:class:`FeatureJudgement`); :class:`DriftConfig` holds the thresholds and the
false-alarm contract that sets the tests' level:

======================  =====================================================
feature                 headline, drifted when
======================  =====================================================
numeric (and score)     binned KS, p < the contract's level per test
categorical             chi-square, p < the contract's level per test
categorical             or share of unseen categories >= 0.05
window                  no verdict below 30 values
dataset                 share of drifted features >= 0.5
======================  =====================================================

The level per test comes from the model's contract (:mod:`monitor.drift.contract`): the
expected number of false alarms per 30 days split over the windows judged in 30 days and
over the window's tests (:meth:`DriftConfig.contracted`), so that the decision is a
calibrated test at every window size. The effect sizes (PSI, Jensen-Shannon, Wasserstein)
stay in every judgement's statistics and set its *effect*, how far past its threshold the
effect size is (PSI / 0.2 for numbers, Jensen-Shannon / 0.1 for categories), which
:func:`severity` turns into low, medium or high (:meth:`FeatureJudgement.level`).

A policy file (:mod:`monitor.merging.policy_file`) can set another method and threshold per
feature (:class:`FeatureRule`, applied by :meth:`DriftConfig.for_feature`; such a feature is
decided by its own rule, outside the contract) and leave features out of judging
(``ignored``: neither judged nor counted in the dataset share).

Each verdict carries a *ratio*, how far past its threshold the deciding statistic is
(``value / threshold`` for distances, ``log(p) / log(alpha)`` for p-values), by which the
policy's hysteresis clears. Why these choices, and how they differ from Evidently's
defaults: ``docs/monitoring-internals.md``, "Verdicts" and "The false-alarm contract".

>>> severity(0.5), severity(1.0), severity(2.5), severity(9.0)
(None, 'low', 'medium', 'high')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np

from driftline import drift_statistics as st
from driftline.events import FeatureStatistic, OffsetRange, Severity
from driftline.profile import CategoricalProfile, NumericProfile
from monitor.drift.contract import (
    POOLED_SHARE,
    SEQUENTIAL_KAPPA,
    SEQUENTIAL_SHARE,
    family_budget,
    per_test_alpha,
    window_alpha,
)

__all__ = [
    "THRESHOLD_FIELDS",
    "DriftConfig",
    "FeatureJudgement",
    "FeatureRule",
    "WindowReport",
    "categorical_p_values",
    "judge_categorical",
    "judge_numeric",
    "numeric_p_values",
    "p_ratio",
    "severity",
]

NumericMethod = str  # "psi" | "ks" | "wasserstein"
CategoricalMethod = str  # "chi_square" | "jensen_shannon"
_NUMERIC_METHODS = ("psi", "ks", "wasserstein")
_CATEGORICAL_METHODS = ("chi_square", "jensen_shannon")
# the DriftConfig field holding each method's threshold (an alpha for the p-value tests)
THRESHOLD_FIELDS = {
    "psi": "psi_threshold",
    "ks": "ks_p_value",
    "wasserstein": "wasserstein_threshold",
    "chi_square": "chi_square_p_value",
    "jensen_shannon": "jensen_shannon_threshold",
}


class FeatureRule(msgspec.Struct, kw_only=True, frozen=True):
    """How one feature is judged instead of by the defaults: its deciding test (``method``)
    and that test's threshold (an alpha for ``ks`` and ``chi_square``)."""

    method: str | None = None
    threshold: float | None = None


DEFAULT_LOOK_EVERY = 300.0  # seconds between judged windows when the config does not say


class DriftConfig(msgspec.Struct, kw_only=True, frozen=True):
    """Thresholds, test choice and the false-alarm contract for judging windows.

    ``false_alarms`` is the contract: the expected number of false drift events per 30 days
    of stable traffic, of which the p-value tests spend half (:attr:`distribution_budget`),
    split between the window-by-window tests (:attr:`window_budget`) and the sequential
    evidence over windows (:attr:`sequential_budget`, ``sequential_share`` of it; 0 turns
    the sequential evidence off; ``sequential_kappa`` the calibrator that turns each
    window's p-value into an e-value, :func:`~monitor.drift.sequential.p_to_e`);
    ``look_every`` the event-time seconds between two judged windows (the window step;
    None: the window's length). ``ks_p_value`` and ``chi_square_p_value`` are
    the tests' levels: None (the default) takes them from the contract
    (:meth:`contracted`); a number fixes them outside it.
    """

    false_alarms: float = 1.0
    look_every: float | None = None
    sequential_share: float = SEQUENTIAL_SHARE
    sequential_kappa: float = SEQUENTIAL_KAPPA
    pooled_share: float = POOLED_SHARE
    psi_threshold: float = 0.2
    ks_p_value: float | None = None
    wasserstein_threshold: float = 0.1
    chi_square_p_value: float | None = None
    jensen_shannon_threshold: float = 0.1
    unseen_threshold: float = 0.05
    missing_tolerance: float = 0.05
    min_rows: int = 30
    dataset_share: float = 0.5
    psi_epsilon: float = st.PSI_EPSILON
    numeric_method: NumericMethod | None = None
    categorical_method: CategoricalMethod | None = None
    ignored: frozenset[str] = frozenset()
    features: dict[str, FeatureRule] = {}

    def __post_init__(self) -> None:
        if self.numeric_method not in (None, *_NUMERIC_METHODS):
            raise ValueError(f"numeric_method must be one of {_NUMERIC_METHODS} or None")
        if self.categorical_method not in (None, *_CATEGORICAL_METHODS):
            raise ValueError(f"categorical_method must be one of {_CATEGORICAL_METHODS} or None")
        for name in ("ks_p_value", "chi_square_p_value"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be strictly between 0 and 1")
        if not self.false_alarms > 0:
            raise ValueError("false_alarms must be > 0")
        if not 0.0 <= self.sequential_share < 1.0:
            raise ValueError("sequential_share must be in [0, 1)")
        if not 0.0 <= self.pooled_share <= 1.0:
            raise ValueError("pooled_share must be in [0, 1]")
        if not 0.0 < self.sequential_kappa < 1.0:
            raise ValueError("sequential_kappa must be strictly between 0 and 1")
        if self.look_every is not None and not self.look_every > 0:
            raise ValueError("look_every must be > 0 seconds")
        if not 0.0 < self.dataset_share <= 1.0:
            raise ValueError("dataset_share must be in (0, 1]")
        for name, rule in self.features.items():
            if rule.method not in (None, *THRESHOLD_FIELDS):
                raise ValueError(f"features.{name}.method must be one of {tuple(THRESHOLD_FIELDS)}")
            if rule.threshold is not None and rule.method is None:
                raise ValueError(f"features.{name}.threshold needs a method")

    def contracted(self, window_seconds: float, tests: int) -> DriftConfig:
        """This config with the p-value tests' levels that hold the contract when a window
        of ``window_seconds`` judges ``tests`` p-values (levels set explicitly stay).

        >>> c = DriftConfig().contracted(300.0, tests=8)
        >>> round(c.ks_p_value * 8 * 30 * 86400 / 300, 6), c.ks_p_value == c.chi_square_p_value
        (0.25, True)
        >>> DriftConfig(ks_p_value=0.05).contracted(300.0, tests=8).ks_p_value
        0.05
        """
        alpha = per_test_alpha(self.window_budget, self.look_every or window_seconds, tests)
        changes = {name: alpha for name in ("ks_p_value", "chi_square_p_value")
                   if getattr(self, name) is None}
        return msgspec.structs.replace(self, **changes) if changes else self

    def alpha(self, name: str) -> float:
        """The level of the p-value test ``name`` (``"ks_p_value"`` or
        ``"chi_square_p_value"``): its own, else the whole contract of one look spent on it
        alone (what a single test judged outside a window gets)."""
        value = getattr(self, name)
        if value is not None:
            return float(value)
        return per_test_alpha(self.window_budget, self.look_every or DEFAULT_LOOK_EVERY, 1)

    def performance_alpha(self, window_seconds: float) -> float:
        """The level at which one window's realized metrics together, and again its
        estimated metrics together, are judged: the performance family's share of the
        contract spread over the looks of 30 days, halved between the two.

        >>> round(DriftConfig().performance_alpha(300.0) * 2 * 30 * 86400 / 300, 6)
        0.25
        """
        budget = family_budget(self.false_alarms, "performance")
        return window_alpha(budget, self.look_every or window_seconds) / 2.0

    @property
    def distribution_budget(self) -> float:
        """The distribution tests' share of the contract (:func:`~monitor.drift.contract.
        family_budget`): the expected false covariate, prediction and dataset events per 30
        days."""
        return family_budget(self.false_alarms, "distribution")

    @property
    def window_budget(self) -> float:
        """The expected false alarms per 30 days the window-by-window tests spend: the
        distribution budget less the sequential evidence's share.

        >>> DriftConfig().window_budget, DriftConfig(sequential_share=0.0).window_budget
        (0.25, 0.5)
        """
        return self.distribution_budget * (1.0 - self.sequential_share)

    @property
    def sequential_budget(self) -> float:
        """The expected false alarms per 30 days the evidence over windows spends: the
        pooled windows' tests (:attr:`pooled_budget`) and the e-CUSUMs (:attr:`cusum_budget`)
        together."""
        return self.distribution_budget * self.sequential_share

    @property
    def pooled_budget(self) -> float:
        """The pooled windows' share of :attr:`sequential_budget`
        (:mod:`monitor.drift.pooled`)."""
        return self.sequential_budget * self.pooled_share

    @property
    def cusum_budget(self) -> float:
        """The e-CUSUMs' share of :attr:`sequential_budget` (:mod:`monitor.drift.sequential`).

        >>> DriftConfig().cusum_budget, DriftConfig(pooled_share=0.0).cusum_budget
        (0.125, 0.25)
        """
        return self.sequential_budget - self.pooled_budget

    def for_feature(self, name: str) -> DriftConfig:
        """The config that judges feature ``name``: this one with the feature's own method
        and threshold when it has a rule (a numeric method decides only numeric features,
        a categorical one only categorical features).

        >>> c = DriftConfig(features={"x": FeatureRule(method="psi", threshold=0.1)})
        >>> c.for_feature("x").numeric_headline(), c.for_feature("x").psi_threshold
        ('psi', 0.1)
        >>> c.for_feature("y") is c
        True
        """
        rule = self.features.get(name)
        if rule is None or rule.method is None:
            return self
        changes: dict[str, object] = {"features": {}}
        if rule.method in _NUMERIC_METHODS:
            changes["numeric_method"] = rule.method
        else:
            changes["categorical_method"] = rule.method
        if rule.threshold is not None:
            changes[THRESHOLD_FIELDS[rule.method]] = rule.threshold
        return msgspec.structs.replace(self, **changes)

    def numeric_headline(self) -> str:
        """The statistic that decides a numeric feature's verdict."""
        return self.numeric_method or "ks"

    def categorical_headline(self) -> str:
        """The statistic that decides a categorical feature's verdict."""
        return self.categorical_method or "chi_square"


class FeatureJudgement(msgspec.Struct, kw_only=True, frozen=True):
    """One feature's verdict in one window: the deciding statistic first, then all of them."""

    feature: str
    feature_type: str
    method: str
    value: float
    threshold: float
    ratio: float
    drifted: bool
    rows: int
    statistics: list[FeatureStatistic]
    # the window's own distribution, for a person to see it beside the reference: rows per
    # bin of the reference's cuts (a number, the score), or per category (the most frequent
    # MAX_CATEGORIES, the rest summed under OTHER)
    counts: list[int] | dict[str, int] | None = None
    # how far past its threshold the effect size is (PSI / threshold, Jensen-Shannon /
    # threshold, unseen share / threshold): what the severity says (None: the ratio does)
    effect: float | None = None

    def level(self) -> Severity | None:
        """The finding's severity: None when not drifted, else from the effect (the ratio
        when there is none), at least low: a calibrated rejection of a small effect is a
        low finding.

        >>> j = FeatureJudgement(feature="x", feature_type="numeric", method="ks_p_value",
        ...     value=1e-9, threshold=1e-5, ratio=1.8, drifted=True, rows=5000,
        ...     statistics=[], effect=0.3)
        >>> j.level(), msgspec.structs.replace(j, effect=5.0).level()
        ('low', 'high')
        """
        if not self.drifted:
            return None
        return severity(max(1.0, self.ratio if self.effect is None else self.effect))


MAX_CATEGORIES = 50
OTHER = "(other)"


def _top_categories(counts: Mapping[str, int], limit: int = MAX_CATEGORIES) -> dict[str, int]:
    """The ``limit`` most frequent categories, the rest summed under :data:`OTHER`.

    >>> _top_categories({"a": 5, "b": 3, "c": 1, "d": 1}, limit=2)
    {'a': 5, 'b': 3, '(other)': 2}
    """
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    top = {k: int(v) for k, v in ranked[:limit]}
    rest = sum(int(v) for _, v in ranked[limit:])
    if rest:
        top[OTHER] = top.get(OTHER, 0) + rest
    return top


class WindowReport(msgspec.Struct, kw_only=True, frozen=True):
    """Everything judged in one window for one model version."""

    model_name: str
    model_version: str
    window_start: float
    window_end: float
    rows: int
    judged: bool
    features: list[FeatureJudgement]
    score: FeatureJudgement | None
    drifted_features: list[str]
    share_drifted: float
    dataset_drifted: bool
    dataset_threshold: float
    evidence: list[OffsetRange] = []
    # the model version's feature-importance shares (from its profile; None without), by
    # which the policy weighs covariate and dataset severities
    importance: dict[str, float] | None = None

    def feature(self, name: str) -> FeatureJudgement:
        """The judgement of one feature by name (``"score"`` for the score)."""
        if name == "score" and self.score is not None:
            return self.score
        for judgement in self.features:
            if judgement.feature == name:
                return judgement
        raise KeyError(name)

    def rejudged(self, features: list[FeatureJudgement],
                 score: FeatureJudgement | None) -> WindowReport:
        """This report with its features' and score's judgements replaced, and the drifted
        features, their share and the dataset verdict taken again from them."""
        drifted = [j.feature for j in features if j.drifted]
        share = len(drifted) / len(features) if features else 0.0
        return msgspec.structs.replace(
            self, features=features, score=score, drifted_features=drifted,
            share_drifted=share,
            dataset_drifted=bool(features) and share >= self.dataset_threshold,
        )


def severity(ratio: float) -> Severity | None:
    """Severity of a finding from its ratio: below 1 none, then low (< 2), medium (< 4), high."""
    if not ratio >= 1.0:
        return None
    if ratio < 2.0:
        return "low"
    return "medium" if ratio < 4.0 else "high"


def p_ratio(p: float, alpha: float) -> float:
    """How far a p-value is past its level, as a ratio like an effect's: ``log p / log
    alpha`` (1 at the level, 2 at its square; p clipped at 1e-300).

    >>> round(p_ratio(0.0025, 0.05), 3), p_ratio(0.0, 0.05) > 200
    (2.0, True)
    """
    return math.log(max(p, 1e-300)) / math.log(alpha)


def _stat(
    feature: str, name: str, value: float, threshold: float, drifted: bool, kind: str
) -> FeatureStatistic:
    return FeatureStatistic(
        feature=feature,
        statistic=name,
        value=float(value),
        threshold=float(threshold),
        drifted=bool(drifted),
        feature_type=kind,  # type: ignore[arg-type]
    )


def _missing(
    name: str, kind: str, missing: int, n: int, reference_missing: int, reference_count: int,
    config: DriftConfig,
) -> FeatureStatistic:
    window_share = missing / (missing + n) if missing + n else 0.0
    ref_total = reference_missing + reference_count
    limit = (reference_missing / ref_total if ref_total else 0.0) + config.missing_tolerance
    return _stat(name, "missing_share", window_share, limit, window_share > limit, kind)


def _decide(
    name: str, kind: str, n: int, judged: bool, candidates: list[tuple[str, float, float, float]],
    statistics: list[FeatureStatistic], counts: list[int] | dict[str, int] | None = None,
    effect: float | None = None,
) -> FeatureJudgement:
    # candidates: (method, value, threshold, ratio); the first is the headline, the others
    # (unseen share) may decide instead when they are further past their threshold.
    method, value, threshold, ratio = max(candidates, key=lambda c: c[3])  # ties: headline
    return FeatureJudgement(
        feature=name,
        feature_type=kind,
        method=method,
        value=value,
        threshold=threshold,
        ratio=ratio,
        drifted=judged and ratio >= 1.0,
        rows=n,
        statistics=statistics,
        counts=counts,
        effect=effect,
    )


def judge_numeric(
    reference: NumericProfile,
    counts: Sequence[int],
    sums: Sequence[float],
    missing: int,
    config: DriftConfig,
    *,
    feature_type: str = "numeric",
) -> FeatureJudgement:
    """Judge one numeric feature (or the score) from its window counts and per-bin sums.

    >>> from driftline.profile import NumericProfile
    >>> ref = NumericProfile(name="x", cuts=[1.0, 2.0, 3.0], counts=[250, 250, 250, 250],
    ...     quantiles={}, mean=2.0, std=1.15, minimum=0.0, maximum=4.0, count=1000,
    ...     bin_means=[0.5, 1.5, 2.5, 3.5])
    >>> j = judge_numeric(ref, [0, 0, 500, 1500], [0.0, 0.0, 1250.0, 6000.0], 0, DriftConfig())
    >>> j.method, round(j.value, 3), j.drifted, round(j.effect, 1), j.level()
    ('ks_p_value', 0.0, True, 22.3, 'high')
    >>> for s in j.statistics:
    ...     print(s.statistic, round(s.value, 3), s.drifted)
    ks_p_value 0.0 True
    psi 4.46 True
    ks_statistic 0.5 True
    wasserstein_normed 1.413 True
    missing_share 0.0 False
    rank_sum_p_value 0.0 True
    bins_chi_square_p_value 0.0 True
    """
    name = reference.name
    n = int(sum(counts))
    judged = n >= config.min_rows
    ref_counts = np.asarray(reference.counts, dtype=float)
    cur_counts = np.asarray(counts, dtype=float)
    psi_value = st.psi(ref_counts, cur_counts, config.psi_epsilon)
    d, p_values = _numeric_tests(ref_counts, cur_counts)
    p = p_values["ks_p_value"]
    ref_points = _reference_points(reference)
    cur_points = np.where(cur_counts > 0, np.asarray(sums, float) / np.maximum(cur_counts, 1), 0.0)
    scale = reference.std if reference.std > 0 else 1.0
    w = st.binned_wasserstein(ref_counts, ref_points, cur_counts, cur_points, scale)
    m = ref_counts.sum()
    alpha = config.alpha("ks_p_value")
    # the first-term asymptotic critical value, not scipy's exact kstwobign.isf (2e-6 apart)
    critical = (
        math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))
        if n > 0 and m > 0
        else 1.0
    )
    statistics = [
        _stat(name, "psi", psi_value, config.psi_threshold,
              psi_value >= config.psi_threshold, feature_type),
        _stat(name, "ks_p_value", p, alpha, p < alpha, feature_type),
        _stat(name, "ks_statistic", d, critical, d > critical, feature_type),
        _stat(name, "wasserstein_normed", w, config.wasserstein_threshold,
              w >= config.wasserstein_threshold, feature_type),
        _missing(name, feature_type, missing, n, reference.missing, reference.count, config),
    ]
    for statistic in ("rank_sum_p_value", "bins_chi_square_p_value"):
        if statistic in p_values:
            value = p_values[statistic]
            statistics.append(_stat(name, statistic, value, alpha, value < alpha,
                                    feature_type))
    method = config.numeric_headline()
    effect = psi_value / config.psi_threshold
    if method == "ks":
        headline = ("ks_p_value", p, alpha, p_ratio(p, alpha))
        statistics.insert(0, statistics.pop(1))
    elif method == "wasserstein":
        headline = ("wasserstein_normed", w, config.wasserstein_threshold,
                    w / config.wasserstein_threshold)
        statistics.insert(0, statistics.pop(3))
    else:
        headline = ("psi", psi_value, config.psi_threshold, psi_value / config.psi_threshold)
    if method == "wasserstein":
        effect = headline[3]
    return _decide(name, feature_type, n, judged, [headline], statistics,
                   [int(c) for c in counts], effect)


# expected window rows per bin before the binned chi-square's p-value is reported
_CHI_SQUARE_PER_BIN = 5


def numeric_p_values(reference: NumericProfile, counts: Sequence[int]) -> dict[str, float]:
    """The p-values :func:`judge_numeric` reports for a number's window counts, by statistic
    name, and nothing else (the pooled windows need only these): the binned KS, the rank
    sum and, when the window is large enough, the chi-square over the bins.

    >>> from driftline.profile import NumericProfile
    >>> ref = NumericProfile(name="x", cuts=[1.0, 2.0, 3.0], counts=[250, 250, 250, 250],
    ...     quantiles={}, mean=2.0, std=1.15, minimum=0.0, maximum=4.0, count=1000)
    >>> sorted(numeric_p_values(ref, [2, 2, 2, 2]))  # 8 rows: too few for the chi-square
    ['ks_p_value', 'rank_sum_p_value']
    """
    return _numeric_tests(np.asarray(reference.counts, dtype=float),
                          np.asarray(counts, dtype=float))[1]


def _numeric_tests(ref_counts: np.ndarray, cur_counts: np.ndarray
                   ) -> tuple[float, dict[str, float]]:
    """The binned KS statistic and the p-values of a number's window counts against the
    reference's, by statistic name: the KS, the rank sum and, when the window is large
    enough, the chi-square over the bins."""
    d, p = st.binned_ks(ref_counts, cur_counts)
    found = {"ks_p_value": p, "rank_sum_p_value": st.binned_rank_sum(ref_counts, cur_counts)[1]}
    if cur_counts.sum() >= _CHI_SQUARE_PER_BIN * len(cur_counts):  # its asymptotic p-value
        found["bins_chi_square_p_value"] = st.binned_chi_square(ref_counts, cur_counts)[1]
    return d, found


def categorical_p_values(reference: CategoricalProfile,
                         counts: Mapping[str, int]) -> dict[str, float]:
    """The p-value :func:`judge_categorical` reports for a category's window counts: the
    chi-square's."""
    return {"chi_square_p_value": st.chi_square(reference.counts, counts)[1]}


def _reference_points(reference: NumericProfile) -> np.ndarray:
    if reference.bin_means is not None:
        return np.asarray(reference.bin_means, dtype=float)
    # A profile without bin means: middle of each bin, outer bins halfway to the training
    # min and max.
    cuts = np.asarray(reference.cuts, dtype=float)
    lower = np.concatenate([[reference.minimum], cuts])
    upper = np.concatenate([cuts, [reference.maximum]])
    return (lower + upper) / 2.0


def judge_categorical(
    reference: CategoricalProfile,
    counts: Mapping[str, int],
    missing: int,
    config: DriftConfig,
) -> FeatureJudgement:
    """Judge one categorical feature from its window category counts.

    >>> from driftline.profile import CategoricalProfile
    >>> ref = CategoricalProfile(name="c", counts={"a": 600, "b": 400}, count=1000)
    >>> j = judge_categorical(ref, {"a": 55, "b": 35, "z": 10}, 0, DriftConfig())
    >>> j.method, j.value, j.drifted, j.ratio
    ('unseen_share', 0.1, True, 2.0)
    >>> for s in j.statistics:
    ...     print(s.statistic, round(s.value, 3), s.drifted)
    chi_square_p_value 0.837 False
    jensen_shannon 0.19 True
    unseen_share 0.1 True
    missing_share 0.0 False
    """
    name = reference.name
    n = int(sum(counts.values()))
    judged = n >= config.min_rows
    _, p = st.chi_square(reference.counts, counts)
    js = st.jensen_shannon(reference.counts, counts)
    unseen = st.unseen_share(reference.counts, counts)
    kind = "categorical"
    alpha = config.alpha("chi_square_p_value")
    statistics = [
        _stat(name, "chi_square_p_value", p, alpha, p < alpha, kind),
        _stat(name, "jensen_shannon", js, config.jensen_shannon_threshold,
              js >= config.jensen_shannon_threshold, kind),
        _stat(name, "unseen_share", unseen, config.unseen_threshold,
              unseen >= config.unseen_threshold, kind),
        _missing(name, kind, missing, n, reference.missing, reference.count, config),
    ]
    if config.categorical_headline() == "chi_square":
        headline = ("chi_square_p_value", p, alpha, p_ratio(p, alpha))
    else:
        headline = ("jensen_shannon", js, config.jensen_shannon_threshold,
                    js / config.jensen_shannon_threshold)
        statistics.insert(0, statistics.pop(1))
    unseen_candidate = ("unseen_share", unseen, config.unseen_threshold,
                        unseen / config.unseen_threshold)
    effect = max(js / config.jensen_shannon_threshold, unseen_candidate[3])
    return _decide(name, kind, n, judged, [headline, unseen_candidate], statistics,
                   _top_categories(counts), effect)
