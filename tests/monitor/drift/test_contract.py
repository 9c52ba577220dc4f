"""The false-alarm contract: each window's level, the split over its tests, and what seeded
streams give under it."""

from __future__ import annotations

import math

import pytest

from driftline.events import DriftEvent
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.contract import HORIZON, bonferroni, per_test_alpha, window_alpha
from monitor.drift.judge import DriftConfig
from monitor.drift.windows import Window
from monitor.merging.policy import DriftPolicy
from producers.generator import LAKH, GeneratorParams, LoanGenerator, default_probability

TESTS = 8  # the loan profile: 5 numeric and 2 categorical features, and the score


def windows(profile, seed: int, count: int, rows: int, length: float = 300.0, **params):
    """``count`` consecutive windows of ``rows`` generated applications each."""
    gen = LoanGenerator(seed=seed, params=GeneratorParams(**params))
    for i in range(count):
        batch = gen.sample(rows)
        acc = WindowAccumulator(profile, Window(i * length, (i + 1) * length))
        acc.update_many(batch.rows(), default_probability(batch.columns).tolist())
        yield acc


def rejects(report) -> bool:
    return any(j.drifted for j in [*report.features, report.score])


def test_each_window_gets_the_contract_spread_over_the_looks_of_30_days():
    assert HORIZON == 2_592_000.0
    assert window_alpha(1.0, 300.0) == pytest.approx(1 / 8640)
    assert window_alpha(3.0, 3600.0) * 720 == pytest.approx(3.0)
    assert window_alpha(1.0, 60.0) == pytest.approx(window_alpha(1.0, 300.0) / 5)
    assert per_test_alpha(1.0, 300.0, tests=TESTS) == pytest.approx(1 / 8640 / TESTS)
    assert window_alpha(10_000.0, 3600.0) == 0.5  # never a coin toss or worse
    with pytest.raises(ValueError, match="false_alarms"):
        window_alpha(0.0, 300.0)


def test_bonferroni_rejects_the_p_values_below_the_family_level_over_their_count():
    p_values = [0.001, 0.0124, 0.0126, 0.2, 0.0125]
    assert bonferroni(p_values, alpha=0.0625) == [True, True, False, False, False]
    assert bonferroni(p_values, alpha=0.001) == [False] * 5


def test_a_window_rejects_what_bonferroni_rejects_over_its_p_values(loan_profile):
    config = DriftConfig(look_every=300.0)
    (acc,) = windows(loan_profile, 3, 1, 5000, loan_mean=3.0 * LAKH)
    report = acc.evaluate(config)
    judged = [*report.features, report.score]
    p_values = [j.value for j in judged]
    assert [j.method for j in judged] == ["ks_p_value"] * 5 + ["chi_square_p_value"] * 2 + [
        "ks_p_value"]
    # the window-by-window tests spend half of the distribution budget (a quarter of the
    # contract); the sequential evidence over windows the other half
    assert [j.drifted for j in judged] == bonferroni(p_values, window_alpha(0.25, 300.0))
    assert report.feature("loan_amount").drifted
    assert [j.threshold for j in judged] == [
        pytest.approx(per_test_alpha(0.25, 300.0, TESTS))] * TESTS


def test_the_level_follows_the_contract_the_step_and_the_tests_judged(loan_profile):
    (acc,) = windows(loan_profile, 4, 1, 600)

    def level(config: DriftConfig) -> float:
        return acc.evaluate(config).feature("loan_amount").threshold

    assert level(DriftConfig()) == pytest.approx(per_test_alpha(0.25, 300.0, TESTS))
    assert level(DriftConfig(sequential_share=0.0)) == pytest.approx(
        per_test_alpha(0.5, 300.0, TESTS))
    assert level(DriftConfig(false_alarms=4.0, look_every=60.0)) == pytest.approx(
        1.0 * 60.0 / HORIZON / TESTS)
    assert level(DriftConfig(ignored=frozenset({"channel"}))) == pytest.approx(
        per_test_alpha(0.25, 300.0, TESTS - 1))
    assert level(DriftConfig(ks_p_value=0.05)) == 0.05  # set explicitly: outside the contract


def test_a_seeded_stable_stream_stays_under_its_bound_and_uncorrected_tests_do_not(
    loan_profile,
):
    # a contract of 6,912 a month gives the window-by-window tests 1,728, at 5-minute looks
    # a level of 0.2 per window: 100
    # windows of stable traffic may reject in 20 of them on average; allow three standard
    # deviations
    count, alpha = 100, 0.2
    # (the window-by-window tests spend a quarter of the contract)
    config = DriftConfig(false_alarms=4 * alpha * HORIZON / 300.0, look_every=300.0)
    uncorrected = DriftConfig(ks_p_value=alpha, chi_square_p_value=alpha)
    bound = count * alpha + 3 * math.sqrt(count * alpha)
    policy = DriftPolicy(raise_after=1, clear_after=1, cooldown=0.0, immediate=None)
    rejected = uncorrected_rejected = 0
    events: list[DriftEvent] = []
    for acc in windows(loan_profile, 21, count, 300):
        report = acc.evaluate(config)
        rejected += rejects(report)
        events += policy.observe_window(report)
        uncorrected_rejected += rejects(acc.evaluate(uncorrected))
    assert rejected <= bound
    assert len(events) <= bound
    assert uncorrected_rejected > bound  # each test at the window's level: the bound breaks


def test_a_shift_of_a_fifth_of_the_loan_amount_raises_one_low_event_at_the_default_contract(
    loan_profile,
):
    config, policy = DriftConfig(look_every=300.0), DriftPolicy()
    raised = []
    for i, acc in enumerate(windows(loan_profile, 5, 4, 5000, loan_mean=3.0 * LAKH)):
        for event in policy.observe_window(acc.evaluate(config)):
            raised.append((i, event.kind, event.severity))
    # two drifted windows in a row (raise_after), then quiet while the shift stays
    assert raised[0] == (1, "covariate", "low")
    assert [kind for _, kind, _ in raised].count("covariate") == 1


def test_a_large_shift_raises_at_once_with_high_severity_from_its_effect_size(loan_profile):
    config, policy = DriftConfig(look_every=300.0), DriftPolicy()
    (acc,) = windows(loan_profile, 6, 1, 5000, loan_mean=8.5 * LAKH)
    events = policy.observe_window(acc.evaluate(config))
    covariate = [e for e in events if e.kind == "covariate"]
    assert [(e.window_end, e.severity) for e in covariate] == [(300.0, "high")]
    assert "loan_amount" in covariate[0].summary


def test_the_score_is_binned_on_the_quantiles_of_its_reference_scores(loan_profile):
    score = loan_profile.score
    assert score is not None and len(score.counts) == 20
    # concentrated scores (most below 0.1) still fill every bin alike
    assert max(score.counts) - min(score.counts) <= 0.01 * score.count
    assert score.cuts[0] < 0.05


def test_the_score_test_on_stable_windows_rejects_no_more_often_than_its_level(loan_profile):
    count, alpha = 200, 0.05
    config = DriftConfig(ks_p_value=alpha)
    rejected = sum(acc.evaluate(config).score.drifted
                   for acc in windows(loan_profile, 31, count, 600))
    assert rejected <= count * alpha + 3 * math.sqrt(count * alpha * (1 - alpha))


def test_the_score_test_catches_the_score_shift_of_a_fifth_more_loan_amount(loan_profile):
    # 1,500 rows a window at the default contract: the score moves little; on quantile bins
    # the test sees it in a share of windows, never in stable ones
    config = DriftConfig(look_every=300.0)
    shifted = [acc.evaluate(config).score.drifted
               for acc in windows(loan_profile, 3, 20, 1500, loan_mean=3.0 * LAKH)]
    stable = [acc.evaluate(config).score.drifted for acc in windows(loan_profile, 3, 20, 1500)]
    assert sum(shifted) >= 8
    assert not any(stable)
