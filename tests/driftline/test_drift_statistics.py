"""Binned statistics against their exact counterparts on raw values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from driftline import drift_statistics as st
from driftline.profile import bin_counts, build_profile


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(2)
    reference = rng.lognormal(12, 0.5, 20_000)
    current = rng.lognormal(12.2, 0.6, 3_000)
    profile = build_profile({"x": reference}, None, numeric=["x"], categorical=[], bins=20)
    return reference, current, profile.numeric[0]


def test_binned_ks_is_a_lower_bound_close_to_the_exact_statistic(samples):
    reference, current, prof = samples
    d, p = st.binned_ks(prof.counts, bin_counts(current, prof.cuts))
    exact = stats.ks_2samp(reference, current)
    assert d <= exact.statistic + 1e-12
    assert exact.statistic - d < 0.05  # at most about one reference bin's mass
    assert p < 1e-10 and exact.pvalue < 1e-10


def test_binned_ks_keeps_its_false_alarm_rate_near_alpha_with_no_drift():
    rng = np.random.default_rng(4)
    prof = build_profile({"x": rng.normal(size=20_000)}, None, numeric=["x"], categorical=[],
                         bins=20).numeric[0]
    alarms = sum(
        st.binned_ks(prof.counts, bin_counts(rng.normal(size=500), prof.cuts))[1] < 0.05
        for _ in range(400)
    )
    assert alarms / 400 < 0.07  # binned is conservative: not above the nominal 5%


def test_binned_wasserstein_is_close_to_the_exact_distance(samples):
    reference, current, prof = samples
    idx = np.searchsorted(prof.cuts, current, side="right")
    counts = np.bincount(idx, minlength=len(prof.cuts) + 1)
    sums = np.bincount(idx, weights=current, minlength=len(prof.cuts) + 1)
    points = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    binned = st.binned_wasserstein(prof.counts, prof.bin_means, counts, points, prof.std)
    exact = stats.wasserstein_distance(reference, current) / reference.std()
    assert binned == pytest.approx(exact, rel=0.1)


def test_psi_is_small_without_drift_and_large_with_it(samples):
    reference, current, prof = samples
    rng = np.random.default_rng(9)
    same = bin_counts(rng.choice(reference, 5000), prof.cuts)
    assert st.psi(prof.counts, same) < 0.02
    assert st.psi(prof.counts, bin_counts(current, prof.cuts)) > 0.15


def test_chi_square_matches_scipys_homogeneity_test_on_the_reference_categories():
    ref = {"web": 400, "mobile": 300, "branch": 200, "partner": 100}
    cur = {"web": 120, "mobile": 80, "branch": 60, "partner": 40, "kiosk": 15}
    statistic, p = st.chi_square(ref, cur)
    exact = stats.chi2_contingency([[400, 300, 200, 100], [120, 80, 60, 40]],
                                   correction=False)
    assert (statistic, p) == pytest.approx((exact.statistic, exact.pvalue))
    assert st.unseen_share(ref, cur) == pytest.approx(15 / 315)


def test_chi_square_holds_its_level_when_the_window_is_as_large_as_the_reference():
    # both sides drawn from the same proportions: a test that took the reference's shares as
    # exact would reject about a quarter of these at 0.05
    rng = np.random.default_rng(5)
    shares, names = [0.4, 0.3, 0.2, 0.1], ["web", "mobile", "branch", "partner"]
    rejected = 0
    for _ in range(400):
        ref, cur = (dict(zip(names, rng.multinomial(2000, shares).tolist(), strict=True))
                    for _ in range(2))
        rejected += st.chi_square(ref, cur)[1] < 0.05
    assert rejected <= 400 * 0.05 + 3 * (400 * 0.05) ** 0.5


def test_jensen_shannon_matches_scipy_with_unseen_categories():
    ref = {"a": 5, "b": 3, "c": 2}
    cur = {"a": 1, "b": 1, "d": 2}
    names = ["a", "b", "c", "d"]
    p = [ref.get(n, 0) for n in names]
    q = [cur.get(n, 0) for n in names]
    assert st.jensen_shannon(ref, cur) == pytest.approx(distance.jensenshannon(p, q))


def test_empty_windows_give_neutral_values():
    assert st.binned_ks([5, 5], [0, 0]) == (0.0, 1.0)
    assert st.chi_square({"a": 3, "b": 1}, {}) == (0.0, 1.0)
    assert st.chi_square({"a": 3}, {"a": 1}) == (0.0, 1.0)
    assert st.jensen_shannon({"a": 1}, {}) == 0.0
    assert st.unseen_share({"a": 1}, {}) == 0.0
    assert st.binned_wasserstein([1, 1], [0, 1], [0, 0], [0, 0]) == 0.0


def test_binned_wasserstein_is_scipys_distance_of_the_weighted_points() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        k = int(rng.integers(1, 20))
        reference = rng.integers(0, 40, k).astype(float)
        current = rng.integers(0, 40, k).astype(float)
        reference[0] += 1  # (neither side empty)
        current[-1] += 1
        ref_points = np.sort(rng.normal(size=k))
        cur_points = rng.permutation(ref_points + rng.normal(scale=0.2, size=k))
        expected = stats.wasserstein_distance(ref_points, cur_points, reference, current)
        got = st.binned_wasserstein(reference, ref_points, current, cur_points, 0.5)
        assert got == pytest.approx(expected / 0.5, rel=1e-9, abs=1e-12)
