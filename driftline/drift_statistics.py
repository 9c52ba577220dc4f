"""Drift statistics computed from counts, never from raw rows.

Each function compares a window with the reference through the counts both keep on the same
bins (numeric features: the profile's fixed cut points; categorical features: the categories),
so judging a window costs O(bins) however many events it holds, and windows merge by adding
counts.

Numeric features

- :func:`psi`: population stability index on the profile's bins, with a floor of ``epsilon``
  on empty bins so that a bin empty on one side gives a large but finite term.
- :func:`binned_ks`: the Kolmogorov-Smirnov statistic taken at the profile's cut points only.
  The exact KS statistic is the largest CDF gap over every value; between two cut points the
  binned CDFs cannot see where the values fall, so the binned statistic is a lower bound of
  the exact one (the gap of 20 quantile bins is at most one bin's mass, 0.05, away from it).
  That makes the test slightly conservative, and it is what makes it mergeable: no raw values
  are kept. Its p-value is Kolmogorov's limit distribution (``scipy.special.kolmogorov``)
  at the effective size ``n * m / (n + m)`` with Stephens' (1970) finite-size correction.
  Down to p = 1e-9 it is never more than 5% under the exact tail (``scipy.stats.kstwo``),
  within 5% of it from 500 effective rows, and above it (conservative) for small sizes. It
  costs about a microsecond, where the exact tail takes 0.1 to 6 ms at the sizes a window
  or a pool of windows has.
- :func:`binned_chi_square`: the two-sample chi-square test of homogeneity on the profile's
  bins, which sees a change of spread the binned KS statistic barely registers; the
  sequential evidence (:mod:`monitor.drift.sequential`) combines it with the KS p-value.
- :func:`binned_rank_sum`: the Wilcoxon-Mann-Whitney rank-sum test on the bins (the values
  of one bin tied, each at its bin's mid-rank; the normal approximation with the tie
  correction). For a shift of location it is the more powerful test (its asymptotic
  efficiency against the t-test on normal data is 0.95; the KS test's is lower), and the
  evidence over windows combines it with the other two.
- :func:`binned_wasserstein`: the first Wasserstein distance between the two histograms with
  each bin's mass placed at the mean of the values in it (the profile keeps the training bin
  means, the window keeps a sum per bin), so the open-ended outer bins carry their real
  location (the distance ``scipy.stats.wasserstein_distance`` gives with the counts as
  weights, computed here without its argument checks). Divided by the
  reference standard deviation to be unit-free, as Evidently's "Wasserstein distance
  (normed)".

Categorical features

- :func:`chi_square`: Pearson's test of homogeneity between the reference's and the
  window's counts of the reference categories (``scipy.stats.chi2_contingency``: both are
  samples).
  Categories unseen in training are left to :func:`unseen_share`, so that one new category
  cannot by itself make the p-value zero.
- :func:`jensen_shannon`: Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``,
  natural logarithm, as Evidently; the largest possible value is ``sqrt(ln 2)``, about
  0.833) over the union of categories.
- :func:`unseen_share`: the share of the window's values that the reference never saw.

>>> ref = [250, 250, 250, 250]
>>> round(psi(ref, [250, 250, 250, 250]), 6)
0.0
>>> round(psi(ref, [100, 200, 300, 400]), 4)
0.2282
>>> d, p = binned_ks(ref, [100, 200, 300, 400])
>>> round(d, 3), p < 0.001
(0.2, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import special
from scipy.spatial.distance import jensenshannon

__all__ = [
    "PSI_EPSILON",
    "binned_chi_square",
    "binned_ks",
    "binned_rank_sum",
    "binned_wasserstein",
    "chi_square",
    "jensen_shannon",
    "psi",
    "unseen_share",
]

PSI_EPSILON = 1e-4


def _homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square test of homogeneity of a two-row table (no continuity
    correction): the statistic and p-value ``scipy.stats.chi2_contingency`` gives, by the
    same operations, without its checks and wrappers (every column and row here has a
    positive sum).

    >>> ref, cur = np.array([250.0, 250.0]), np.array([40.0, 10.0])
    >>> from scipy import stats
    >>> result = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    >>> _homogeneity(ref, cur) == (float(result.statistic), float(result.pvalue))
    True
    """
    table = np.vstack([reference, current])
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True)
    expected = expected / table.sum()
    dof = table.shape[1] - 1
    if dof == 0:
        return 0.0, 1.0
    statistic = ((table - expected) ** 2 / expected).sum()
    return float(statistic), float(special.chdtrc(float(dof), statistic))


def _two_samples(reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Both count vectors as float arrays, with their totals."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    return ref, cur, float(ref.sum()), float(cur.sum())


def _shares(counts: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(counts, dtype=float)
    total = arr.sum()
    return arr / total if total > 0 else arr


def psi(
    reference: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    epsilon: float = PSI_EPSILON,
) -> float:
    """Population stability index between two count vectors on the same bins.

    ``sum((q - p) * ln(q / p))`` over bins, with both shares floored at ``epsilon``.

    >>> round(psi([10, 10], [0, 20]), 3)
    4.604
    """
    # scipy.stats.entropy would renormalise the floored shares: PSI keeps them as they are
    p = np.maximum(_shares(reference), epsilon)
    q = np.maximum(_shares(current), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def binned_ks(
    reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """The KS statistic at the bin edges and its two-sample p-value: ``(statistic, p_value)``.

    A window with no values gives ``(0.0, 1.0)``.

    >>> binned_ks([50, 50], [0, 0])
    (0.0, 1.0)
    >>> d, p = binned_ks([500, 500], [60, 40])
    >>> round(d, 2), round(p, 3)
    (0.1, 0.308)
    """
    ref, cur, n, m = _two_samples(reference, current)
    if n <= 0 or m <= 0:
        return 0.0, 1.0
    # scipy's ks_2samp needs raw values; the statistic here is taken at the bin edges only
    gaps = np.abs(np.cumsum(ref)[:-1] / n - np.cumsum(cur)[:-1] / m)
    d = float(gaps.max()) if gaps.size else 0.0
    root = math.sqrt(n * m / (n + m))
    return d, float(special.kolmogorov((root + 0.12 + 0.11 / root) * d))


def binned_chi_square(
    reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Pearson's two-sample chi-square test of homogeneity on the same bins:
    ``(statistic, p_value)``. It compares every bin's share, so it sees a change of spread
    that moves mass into both tails, where the KS statistic at the bin edges barely moves.
    Bins empty on both sides are left out; fewer than two bins, or an empty window, give
    ``(0.0, 1.0)``. The p-value is asymptotic: it needs a few expected counts per bin.

    >>> stat, p = binned_chi_square([250, 250, 250, 250], [40, 10, 10, 40])
    >>> round(stat, 1), p < 1e-6
    (32.8, True)
    >>> binned_chi_square([5, 5], [0, 0])
    (0.0, 1.0)
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    keep = (ref + cur) > 0
    if keep.sum() < 2 or cur.sum() <= 0 or ref.sum() <= 0:
        return 0.0, 1.0
    return _homogeneity(ref[keep], cur[keep])


def binned_rank_sum(
    reference: Sequence[float] | np.ndarray, current: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """The Wilcoxon-Mann-Whitney rank-sum test of two samples counted on the same ordered
    bins, the values of a bin tied: ``(z, p_value)``, the standardised rank sum of the
    current sample (positive: it sits higher) and its two-sided p-value by the normal
    approximation with the tie correction (scipy's ``mannwhitneyu(..., method="asymptotic",
    use_continuity=False)`` on the values the bins stand for). An empty side, or every
    value in one bin, gives ``(0.0, 1.0)``.

    >>> z, p = binned_rank_sum([100, 200, 300, 400], [400, 300, 200, 100])
    >>> round(z, 2), p < 1e-6
    (-19.99, True)
    >>> binned_rank_sum([5, 0], [7, 0])
    (0.0, 1.0)
    """
    ref, cur, n, m = _two_samples(reference, current)
    if n <= 0 or m <= 0:
        return 0.0, 1.0
    ties = ref + cur
    total = n + m
    mid_ranks = np.cumsum(ties) - (ties - 1.0) / 2.0
    excess = float(np.sum(cur * mid_ranks)) - m * (total + 1.0) / 2.0
    variance = n * m / 12.0 * ((total + 1.0) - float(np.sum(ties ** 3 - ties))
                                / (total * (total - 1.0)))
    if variance <= 0:
        return 0.0, 1.0
    z = excess / math.sqrt(variance)
    return float(z), float(math.erfc(abs(z) / math.sqrt(2.0)))


def binned_wasserstein(
    reference: Sequence[float] | np.ndarray,
    reference_points: Sequence[float] | np.ndarray,
    current: Sequence[float] | np.ndarray,
    current_points: Sequence[float] | np.ndarray,
    scale: float = 1.0,
) -> float:
    """First Wasserstein distance between two weighted point sets, divided by ``scale``.

    ``reference`` and ``current`` are counts; ``*_points`` where each count sits (the bin
    means). An empty side gives 0.0.

    >>> binned_wasserstein([1, 1], [0.0, 1.0], [1, 1], [1.0, 2.0])
    1.0
    >>> binned_wasserstein([1, 1], [0.0, 1.0], [1, 1], [1.0, 2.0], scale=0.5)
    2.0
    """
    p = _shares(reference)
    q = _shares(current)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    # The area between the two weighted CDFs (what scipy.stats.wasserstein_distance
    # computes), without its argument checks: it runs for every column of every window.
    points = np.concatenate([np.asarray(reference_points, dtype=float),
                             np.asarray(current_points, dtype=float)])
    order = np.argsort(points, kind="stable")
    gap = np.cumsum(np.concatenate([p, -q])[order])
    distance = float(np.abs(gap[:-1]) @ np.diff(points[order]))
    return distance / scale if scale > 0 else distance


def chi_square(reference: Mapping[str, int], current: Mapping[str, int]) -> tuple[float, float]:
    """Pearson's chi-square test of homogeneity between the reference's and the window's
    counts of the reference categories: ``(statistic, p_value)``.

    Both sides are samples (``scipy.stats.chi2_contingency`` on the two-row table, without
    continuity correction), so the reference's own sampling noise is in the test: a
    goodness-of-fit test against the reference proportions would treat them as exact and
    reject too often once the window is not small beside the reference. Categories the
    reference never saw are ignored here (see :func:`unseen_share`). Fewer than two
    categories, or no known values, give ``(0.0, 1.0)``.

    >>> stat, p = chi_square({"a": 500, "b": 500}, {"a": 60, "b": 40, "new": 7})
    >>> round(stat, 2), round(p, 4)
    (3.64, 0.0565)
    """
    names = [name for name, count in reference.items() if count > 0]
    if len(names) < 2:
        return 0.0, 1.0
    ref = np.array([reference[name] for name in names], dtype=float)
    obs = np.array([current.get(name, 0) for name in names], dtype=float)
    if obs.sum() <= 0:
        return 0.0, 1.0
    return _homogeneity(ref, obs)


def jensen_shannon(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """Jensen-Shannon distance (natural log) between two category count maps.

    >>> jensen_shannon({"a": 1}, {"a": 5})
    0.0
    >>> round(jensen_shannon({"a": 1}, {"b": 1}), 4)
    0.8326
    """
    names = sorted(set(reference) | set(current))
    p = _shares([reference.get(name, 0) for name in names])
    q = _shares([current.get(name, 0) for name in names])
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    d = float(jensenshannon(p, q))  # natural log by default
    return 0.0 if math.isnan(d) else d  # (nan: rounding below zero on equal shares)


def unseen_share(reference: Mapping[str, int], current: Mapping[str, int]) -> float:
    """Share of the window's values whose category the reference never saw.

    >>> unseen_share({"a": 10, "b": 5}, {"a": 3, "c": 1})
    0.25
    """
    total = sum(current.values())
    if total <= 0:
        return 0.0
    unseen = sum(count for name, count in current.items() if reference.get(name, 0) <= 0)
    return unseen / total
