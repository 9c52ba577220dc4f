"""Sequential evidence over windows: the p-to-e calibrator, the e-CUSUM's arithmetic and
its bound, and what it finds in seeded loan traffic."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest
from scipy import integrate

from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.contract import cusum_threshold
from monitor.drift.judge import DriftConfig, FeatureRule
from monitor.drift.sequential import (
    SEQUENTIAL_METHOD,
    Cusum,
    SequentialEvidence,
    SequentialState,
    p_to_e,
)
from monitor.drift.windows import Window
from monitor.merging.policy import DriftPolicy
from producers.generator import LAKH, GeneratorParams, LoanGenerator, default_probability

CONFIG = DriftConfig(look_every=300.0)


def windows(profile, seed: int, count: int, rows: int, *, length: float = 300.0,
            step: float | None = None, **params):
    """``count`` windows of ``rows`` generated applications, one every ``step`` seconds."""
    gen = LoanGenerator(seed=seed, params=GeneratorParams(**params))
    step = length if step is None else step
    for i in range(count):
        batch = gen.sample(rows)
        acc = WindowAccumulator(profile, Window(i * step, i * step + length))
        acc.update_many(batch.rows(), default_probability(batch.columns).tolist())
        yield acc.evaluate(CONFIG)


def test_the_calibrator_gives_kappa_times_p_to_the_kappa_minus_one():
    assert p_to_e(0.04, kappa=0.5) == pytest.approx(2.5)
    assert p_to_e(0.0025, kappa=0.5) == pytest.approx(10.0)
    assert p_to_e(1.0) == 0.1  # the default kappa
    assert p_to_e(0.0, kappa=0.25) == pytest.approx(0.25 * 1e-300 ** -0.75)  # finite
    with pytest.raises(ValueError, match="kappa"):
        p_to_e(0.5, kappa=1.0)


def test_the_calibrator_has_expectation_one_under_a_uniform_p_value():
    for kappa in (0.1, 0.25, 0.5, 0.9):
        mean, _ = integrate.quad(lambda p, k=kappa: p_to_e(p, k), 0.0, 1.0)
        assert mean == pytest.approx(1.0, abs=1e-6)


def test_the_e_cusum_multiplies_from_one_caps_at_the_threshold_and_rearms_below_one():
    c = Cusum()
    stream = [0.04, 0.04, 1.0, 0.01, 0.0025, 0.04, 1.0, 1.0, 0.0025]
    seen = []
    for p in stream:
        alarm = c.advance(p_to_e(p, kappa=0.5), threshold=100.0)
        seen.append((round(c.statistic, 4), c.armed, alarm))
    assert seen == [
        (2.5, True, False),
        (6.25, True, False),
        (3.125, True, False),
        (15.625, True, False),
        (100.0, False, True),  # 156.25 capped: the alarm
        (100.0, False, False),  # disarmed: evidence holds, no second alarm
        (50.0, False, False),
        (25.0, False, False),
        (100.0, False, False),  # back at the threshold before falling below 1: no alarm
    ]
    assert c.alarms == 1


def test_the_e_cusum_on_a_seeded_stream_is_the_largest_product_of_its_latest_e_values():
    rng = np.random.default_rng(7)
    p_values = (rng.random(8) ** 4).tolist()  # leaning small: evidence builds, then alarms
    e_values = [p_to_e(p) for p in p_values]
    c = Cusum()
    statistics, alarms = [], []
    for e in e_values:
        alarms.append(c.advance(e, threshold=1e6))
        statistics.append(round(c.statistic, 4))
    assert statistics == [0.5427, 0.1478, 0.2495, 21.4143, 163.005, 26.5191, 1e6, 203202.8101]
    assert alarms == [False] * 6 + [True, False]
    # below the cap, M_t is the largest product of e-values over the windows ending at t
    for t in range(6):
        best = max(math.prod(e_values[j:t + 1]) for j in range(t + 1))
        assert statistics[t] == pytest.approx(best, abs=1e-4)


def test_stable_streams_alarm_no_more_often_than_looks_over_the_threshold():
    # 400 independent streams of 300 uniform p-values at a threshold of 30: the bound allows
    # 10 alarms per stream in expectation; a seeded run stays well under it
    rng = np.random.default_rng(3)
    looks, threshold = 300, 30.0
    alarms = []
    for _ in range(400):
        c = Cusum()
        for p in rng.random(looks):
            c.advance(p_to_e(float(p)), threshold)
        alarms.append(c.alarms)
    assert np.mean(alarms) <= looks / threshold
    # at the contract's threshold (8,640 looks, 8 tests): no alarm in 5,000 stable looks
    c = Cusum()
    for p in rng.random(5000):
        assert not c.advance(p_to_e(float(p)), cusum_threshold(0.25, 300.0, 8))


def test_stable_loan_windows_raise_no_sequential_alarm(loan_profile):
    evidence = SequentialEvidence()
    reports = [evidence.observe(r, CONFIG) for r in windows(loan_profile, 21, 60, 600)]
    assert not any(j.drifted for r in reports for j in [*r.features, r.score])
    state = evidence.state("credit-risk", "1")
    assert len(state.tests) == 8 and all(c.alarms == 0 for c in state.tests.values())


def test_a_persistent_shift_the_window_test_misses_is_flagged_within_a_few_windows(loan_profile):
    # the loan amount's mean up by 5 % in windows of 1,500 rows: no window rejects alone
    evidence, policy = SequentialEvidence(), DriftPolicy()
    flagged, events = [], []
    for i, report in enumerate(windows(loan_profile, 2, 8, 1500, loan_mean=2.625 * LAKH)):
        assert not report.feature("loan_amount").drifted
        judged = evidence.observe(report, CONFIG)
        loan = judged.feature("loan_amount")
        if loan.drifted:
            flagged.append(i)
            assert loan.method == SEQUENTIAL_METHOD
            assert loan.value == loan.threshold == pytest.approx(
                cusum_threshold(CONFIG.cusum_budget, 300.0, 8))
            assert judged.drifted_features == ["loan_amount"]
        events += [(i, e.kind) for e in policy.observe_window(judged)]
    assert flagged and flagged[0] <= 5
    assert flagged == flagged[:1]  # one alarm while the shift lasts
    assert events == [(flagged[0], "covariate")]  # raised at once, then quiet


def test_the_sequential_share_of_zero_leaves_the_windows_alone(loan_profile):
    config = DriftConfig(look_every=300.0, sequential_share=0.0)
    evidence = SequentialEvidence()
    (report,) = windows(loan_profile, 2, 1, 1500, loan_mean=2.625 * LAKH)
    assert evidence.observe(report, config) is report
    assert evidence.store == {}


def test_the_configs_kappa_calibrates_each_windows_e_value(loan_profile):
    (report,) = windows(loan_profile, 2, 1, 1500, loan_mean=2.625 * LAKH)
    found = {s.statistic: s.value for s in report.feature("loan_amount").statistics}
    p = min(1.0, 3 * min(found["ks_p_value"], found["rank_sum_p_value"],
                         found["bins_chi_square_p_value"]))
    values = []
    for kappa in (0.1, 0.25):
        config = msgspec.structs.replace(CONFIG, sequential_kappa=kappa)
        judged = SequentialEvidence().observe(report, config)
        values.append(judged.feature("loan_amount").statistics[-1].value)
        assert values[-1] == pytest.approx(p_to_e(p, kappa))  # M of a first window: its e
    assert values[0] != pytest.approx(values[1])
    with pytest.raises(ValueError, match="sequential_kappa"):
        DriftConfig(sequential_kappa=1.0)


def test_features_judged_by_their_own_rule_get_no_sequential_evidence(loan_profile):
    config = DriftConfig(look_every=300.0,
                         features={"loan_amount": FeatureRule(method="psi", threshold=0.3)})
    evidence = SequentialEvidence()
    (report,) = windows(loan_profile, 2, 1, 1500)
    judged = evidence.observe(report, config)
    assert judged.feature("loan_amount") == report.feature("loan_amount")
    assert "numeric:loan_amount" not in evidence.state("credit-risk", "1").tests
    assert judged.feature("annual_income").statistics[-1].statistic == SEQUENTIAL_METHOD


def test_hopping_windows_feed_only_the_windows_disjoint_from_the_last_fed(loan_profile):
    # 10-minute windows every 5 minutes: every other window shares no row with the last fed
    evidence = SequentialEvidence()
    fed = []
    for report in windows(loan_profile, 4, 6, 600, length=600.0, step=300.0):
        judged = evidence.observe(report, CONFIG)
        fed.append(judged is not report)
    assert fed == [True, False, True, False, True, False]
    assert evidence.state("credit-risk", "1").window_end == 1800.0  # [1200, 1800) fed last


def test_the_state_round_trips_and_a_restarted_evidence_goes_on_the_same(loan_profile):
    reports = list(windows(loan_profile, 2, 6, 1500, loan_mean=2.625 * LAKH))
    whole = SequentialEvidence()
    expected = [whole.observe(r, CONFIG) for r in reports]
    store: dict[str, bytes] = {}
    first = SequentialEvidence(store)
    got = [first.observe(r, CONFIG) for r in reports[:3]]
    state = first.state("credit-risk", "1")
    assert msgspec.json.decode(msgspec.json.encode(state), type=SequentialState) == state
    restarted = SequentialEvidence(dict(store))  # a new process reading the table back
    got += [restarted.observe(r, CONFIG) for r in reports[3:]]
    assert got == expected
    assert restarted.state("credit-risk", "1") == whole.state("credit-risk", "1")
    # a window replayed after it was fed changes nothing
    assert restarted.observe(reports[2], CONFIG) is reports[2]


def test_a_window_report_carries_each_tests_e_cusum_statistic(loan_profile):
    (report,) = windows(loan_profile, 5, 1, 600)
    judged = SequentialEvidence().observe(report, CONFIG)
    threshold = cusum_threshold(CONFIG.cusum_budget, 300.0, 8)
    for j in [*judged.features, judged.score]:
        stat = j.statistics[-1]
        assert (stat.statistic, stat.threshold, stat.drifted) == (
            SEQUENTIAL_METHOD, pytest.approx(threshold), False)
        found = {s.statistic: s.value for s in j.statistics}
        if j.feature_type == "categorical":
            p = found["chi_square_p_value"]
        else:  # KS, the rank sum and the binned chi-square, Bonferroni over the three
            p = min(1.0, 3 * min(found["ks_p_value"], found["rank_sum_p_value"],
                                 found["bins_chi_square_p_value"]))
        assert stat.value == pytest.approx(min(p_to_e(p), threshold))
        assert j.ratio >= (math.log(stat.value) / math.log(threshold) if stat.value > 1 else 0)


def test_the_merger_feeds_its_windows_in_order_and_keeps_the_evidence_in_its_store(
    loan_profile,
):
    from monitor.merging.merge import WindowMerger
    from monitor.state.partition import Partial

    store: dict[str, bytes] = {}

    def merger() -> WindowMerger:
        # the e-CUSUMs alone (the pools would flag this shift first)
        return WindowMerger(partitions=1, profiles=lambda n, v: loan_profile,
                            config=msgspec.structs.replace(CONFIG, pooled_share=0.0),
                            idle_timeout=1e9, started=0.0, sequential=store)

    gen = LoanGenerator(seed=2, params=GeneratorParams(loan_mean=2.625 * LAKH))
    partials = []
    for i in range(8):
        batch = gen.sample(1500)
        acc = WindowAccumulator(loan_profile, Window(i * 300.0, (i + 1) * 300.0))
        acc.update_many(batch.rows(), default_probability(batch.columns).tolist())
        partials.append(Partial(kind="drift", partition=0, watermark=None,
                                model_name="credit-risk", model_version="1",
                                window_start=i * 300.0, window_end=(i + 1) * 300.0,
                                drift=acc.state))
        partials.append(Partial(kind="watermark", partition=0, watermark=(i + 1) * 300.0))
    first = merger()
    judged = [j for p in partials[:8] for j in first.add(p, now=0.0)]
    second = merger()  # a restarted publisher: the same store, the rest of the windows
    judged += [j for p in partials[8:] for j in second.add(p, now=0.0)]
    assert [j.window_end for j in judged] == [300.0 * (i + 1) for i in range(8)]
    fired = [j for j in judged if j.drift.feature("loan_amount").method == SEQUENTIAL_METHOD]
    assert len(fired) == 1
    assert [e.kind for e in fired[0].events] == ["covariate"]
    assert any(s.statistic == SEQUENTIAL_METHOD and s.drifted
               for s in fired[0].events[0].statistics)
    assert SequentialEvidence(store).state("credit-risk", "1").window_end == 2400.0


def test_the_p_value_of_a_stable_number_rejects_no_more_often_than_its_level(loan_profile):
    # the p-value each numeric e-CUSUM takes (KS, rank sum and binned chi-square, tripled) at
    # 0.05 on 150 stable windows of 600 rows: 6 tests (5 numbers and the score)
    from monitor.drift.sequential import window_p_value

    count, alpha = 150 * 6, 0.05
    rejected = 0
    for report in windows(loan_profile, 41, 150, 600):
        for j in [*report.features, report.score]:
            if j.feature_type != "categorical":
                rejected += window_p_value(j) < alpha
    assert rejected <= count * alpha + 3 * math.sqrt(count * alpha * (1 - alpha))


def test_a_persistent_change_of_spread_the_window_test_misses_is_flagged_by_the_e_cusum(
    loan_profile,
):
    # existing_debt_ratio's spread times 1.25 in windows of 600 rows: KS at the bin edges
    # barely moves; the binned chi-square in the e-value sees the tails fill
    gen = LoanGenerator(seed=8)
    evidence, flagged = SequentialEvidence(), []
    for i in range(6):
        batch = gen.sample(600)
        columns = dict(batch.columns)
        columns["existing_debt_ratio"] = np.round(
            np.clip(0.32 + (columns["existing_debt_ratio"] - 0.32) * 1.25, 0.0, 1.8), 3)
        rows = [dict(zip(columns, values, strict=True))
                for values in zip(*(columns[k].tolist() for k in columns), strict=True)]
        acc = WindowAccumulator(loan_profile, Window(i * 300.0, (i + 1) * 300.0))
        acc.update_many(rows, default_probability(columns).tolist())
        report = acc.evaluate(CONFIG)
        assert not report.feature("existing_debt_ratio").drifted
        judged = evidence.observe(report, CONFIG)
        if judged.feature("existing_debt_ratio").drifted:
            flagged.append(i)
    assert flagged and flagged[0] <= 4
