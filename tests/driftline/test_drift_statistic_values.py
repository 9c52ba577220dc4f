"""Every drift statistic pinned to its value on fixed inputs (to a relative 1e-12), whatever
computes it."""

from __future__ import annotations

import math

import pytest

from driftline import drift_statistics as st
from driftline.profile import NumericProfile
from monitor.drift.judge import DriftConfig, judge_numeric

REF = [120, 340, 410, 95, 35]
CUR = [80, 260, 390, 170, 100]
REF_POINTS = [-1.7, -0.4, 0.3, 1.1, 2.6]
CUR_POINTS = [-1.5, -0.35, 0.4, 1.25, 2.9]
CAT_REF = {"a": 500, "b": 300, "c": 150, "d": 50}
CAT_CUR = {"a": 410, "b": 330, "c": 190, "e": 70}


def close(value: float, expected: float) -> bool:
    return value == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_psi() -> None:
    assert close(st.psi(REF, CUR), 0.15056248566453728)


def test_binned_ks() -> None:
    d, p = st.binned_ks(REF, CUR)
    assert close(d, 0.14) and close(p, 4.937247710442861e-09)


@pytest.mark.parametrize("effective", [30, 100, 582, 2000, 10000, 30000])
def test_the_ks_tail_is_at_most_five_percent_under_the_exact_one(effective: int):
    from scipy import stats

    # two samples of 2 * effective rows each: n * m / (n + m) = effective
    for target in (0.05, 1e-3, 1e-6, 1e-9):
        d = float(stats.kstwo.isf(target, effective))
        gaps = round(d * 2 * effective)  # a statistic the bins can give: a whole count
        d = gaps / (2 * effective)
        exact = float(stats.kstwo.sf(d, effective))
        _, p = st.binned_ks([2 * effective, 0], [2 * effective - gaps, gaps])
        assert p >= 0.95 * exact  # at worst 5% anti-conservative
        if effective >= 500:
            assert p == pytest.approx(exact, rel=0.05)


def test_binned_wasserstein() -> None:
    assert close(st.binned_wasserstein(REF, REF_POINTS, CUR, CUR_POINTS, 0.9),
                 0.5211111111111111)
    # unsorted points, empty bins on both sides
    assert close(st.binned_wasserstein([3, 0, 1], [0.0, 5.0, 1.0], [0, 2, 2], [0.0, 4.0, -1.0]),
                 2.25)


def test_chi_square() -> None:
    stat, p = st.chi_square(CAT_REF, CAT_CUR)
    assert close(stat, 62.579013491252574) and close(p, 1.6522473263577656e-13)
    stat, p = st.chi_square({"a": 1, "b": 2, "c": 3}, {"a": 4, "b": 5, "c": 6})
    assert close(stat, 0.2799999999999999) and close(p, 0.8693582353988059)


def test_jensen_shannon() -> None:
    assert close(st.jensen_shannon(CAT_REF, CAT_CUR), 0.21296531436571567)
    assert close(st.jensen_shannon({"a": 1, "b": 1}, {"b": 3, "c": 1}), 0.5220295860189919)
    assert close(st.jensen_shannon({"a": 1}, {"b": 1}), math.sqrt(math.log(2)))


def test_unseen_share() -> None:
    assert close(st.unseen_share(CAT_REF, CAT_CUR), 0.07)


def test_ks_critical_value() -> None:
    """The KS statistic's threshold in a verdict: the asymptotic critical value at alpha."""
    ref = NumericProfile(name="x", cuts=[0.0], counts=[10_000, 10_000], quantiles={},
                         mean=0.0, std=1.0, minimum=-1.0, maximum=1.0, count=20_000,
                         bin_means=[-0.5, 0.5])
    j = judge_numeric(ref, [250, 250], [-125.0, 125.0], 0, DriftConfig(ks_p_value=0.05))
    critical = next(s.threshold for s in j.statistics if s.statistic == "ks_statistic")
    assert close(critical, 0.06149066140859753)


def test_empty_sides() -> None:
    assert st.binned_ks([5, 5], [0, 0]) == (0.0, 1.0)
    assert st.binned_wasserstein([0, 0], [0.0, 1.0], [1, 1], [0.0, 1.0]) == 0.0
    assert st.chi_square({"a": 5, "b": 5}, {}) == (0.0, 1.0)
    assert st.jensen_shannon({"a": 1}, {}) == 0.0
    assert st.jensen_shannon({"a": 2, "b": 1}, {"a": 4, "b": 2}) == 0.0
