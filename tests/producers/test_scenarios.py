"""Each scenario does what it says, measured on the traffic it produces (fixed seeds)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from driftline.features import CREDIT_RISK
from producers.delays import Fixed, LabelDelays
from producers.generator import LAKH, default_probability
from producers.scenarios import parse_scenario
from producers.traffic import Application, Traffic

# 10 requests per simulated second: a 10-minute segment holds 6,000 applications.
PER_SECOND = 10.0


def _apps(scenario: str, n: int, seed: int = 5, per_second: float = PER_SECOND):
    traffic = Traffic(
        parse_scenario(scenario), LabelDelays(Fixed(60.0)), seed=seed, per_second=per_second
    )
    return traffic.take(n)


def _column(apps: list[Application], name: str) -> np.ndarray:
    return np.array([a.features[name] for a in apps])


def _between(apps: list[Application], start: float, end: float) -> list[Application]:
    return [a for a in apps if start <= a.sim_time < end]


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    ranks = stats.rankdata(scores)
    pos = labels == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_loan_amount_shift_moves_the_mean_loan_from_2_5_to_8_5_lakh():
    apps = _apps("stable:10m,loan-amount-shift", 12_000)
    before = _column(_between(apps, 0, 600), "loan_amount")
    after = _column(_between(apps, 600, 1200), "loan_amount")
    assert len(before) == len(after) == 6_000
    assert before.mean() == pytest.approx(2.5 * LAKH, rel=0.05)
    assert after.mean() == pytest.approx(8.5 * LAKH, rel=0.05)


def test_loan_amount_shift_labels_follow_the_same_function():
    """Covariate shift: bigger loans against the same incomes default more often, and the
    as-trained default function still ranks applicants as well as before."""
    apps = _apps("stable:10m,loan-amount-shift", 12_000)
    halves = _between(apps, 0, 600), _between(apps, 600, 1200)
    rates, aucs = [], []
    for part in halves:
        columns = {n: _column(part, n) for n in CREDIT_RISK.names}
        labels = np.array([a.label for a in part])
        rates.append(labels.mean())
        aucs.append(_auc(default_probability(columns, 0.0), labels))
    assert rates[1] > rates[0] + 0.05
    assert 0.7 < aucs[0] < 0.9 and 0.7 < aucs[1] < 0.9


def test_gradual_shift_is_a_mixture_ramping_over_its_width():
    apps = _apps("stable:10m,loan-amount-shift:gradual=10m", 24_000)
    # In the middle minute of the ramp about half the requests come from the new tier.
    middle = _column(_between(apps, 870, 930), "loan_amount")
    assert middle.mean() == pytest.approx(5.5 * LAKH, rel=0.10)
    # A mixture, not a blend: loans near either mean, few at the midpoint.
    near_new = np.mean(middle > 6 * LAKH)
    assert 0.3 < near_new < 0.6
    done = _column(_between(apps, 1200, 2400), "loan_amount")
    assert done.mean() == pytest.approx(8.5 * LAKH, rel=0.05)


def test_incremental_shift_moves_the_parameter_itself():
    apps = _apps("stable:10m,loan-amount-shift:incremental=10m", 12_000)
    quarter = _column(_between(apps, 720, 780), "loan_amount")  # 15% .. 30% of the way
    assert quarter.mean() == pytest.approx(2.5 * LAKH + 0.225 * 6 * LAKH, rel=0.10)


def test_recurring_shift_alternates_with_the_period():
    apps = _apps("stable:5m,loan-amount-shift:recurring=10m:duty=0.5", 15_000)
    on = _column(_between(apps, 300, 600) + _between(apps, 900, 1200), "loan_amount")
    off = _column(_between(apps, 600, 900) + _between(apps, 1200, 1500), "loan_amount")
    assert on.mean() == pytest.approx(8.5 * LAKH, rel=0.05)
    assert off.mean() == pytest.approx(2.5 * LAKH, rel=0.05)


def test_segments_follow_one_another_and_the_shift_can_end():
    apps = _apps("stable:5m,loan-amount-shift:5m,stable", 9_000)
    means = [_column(_between(apps, s, s + 300), "loan_amount").mean() for s in (0, 300, 600)]
    assert means[0] == pytest.approx(2.5 * LAKH, rel=0.05)
    assert means[1] == pytest.approx(8.5 * LAKH, rel=0.05)
    assert means[2] == pytest.approx(2.5 * LAKH, rel=0.05)


def test_concept_flip_keeps_the_features_and_changes_what_they_mean():
    apps = _apps("stable:10m,concept-flip", 12_000)
    before, after = _between(apps, 0, 600), _between(apps, 600, 1200)
    for name in CREDIT_RISK.numeric_names:
        assert stats.ks_2samp(_column(before, name), _column(after, name)).pvalue > 0.01, name
    for name in CREDIT_RISK.categorical_names:
        cats = sorted(set(_column(before, name)) | set(_column(after, name)))
        table = [[np.sum(_column(part, name) == c) for c in cats] for part in (before, after)]
        assert stats.chi2_contingency(table).pvalue > 0.01, name
    # The as-trained relationship ranks applicants well before the flip and backwards after.
    aucs = []
    for part in (before, after):
        columns = {n: _column(part, n) for n in CREDIT_RISK.names}
        aucs.append(_auc(default_probability(columns, 0.0), np.array([a.label for a in part])))
    assert aucs[0] > 0.7
    assert aucs[1] < 0.5
    debt_before = np.corrcoef(_column(before, "existing_debt_ratio"), [a.label for a in before])
    debt_after = np.corrcoef(_column(after, "existing_debt_ratio"), [a.label for a in after])
    assert debt_before[0, 1] > 0.1 and debt_after[0, 1] < -0.1


def test_channel_mix_moves_the_shares_and_brings_an_unseen_channel():
    apps = _apps("stable:10m,channel-mix", 12_000)
    before = _column(_between(apps, 0, 600), "channel")
    after = _column(_between(apps, 600, 1200), "channel")
    expected_before = {"web": 0.40, "mobile": 0.30, "branch": 0.20, "partner": 0.10}
    expected_after = {"web": 0.25, "mobile": 0.45, "branch": 0.05, "partner": 0.10, "agent": 0.15}
    for channels, expected in ((before, expected_before), (after, expected_after)):
        assert set(channels) == set(expected)
        for name, share in expected.items():
            assert np.mean(channels == name) == pytest.approx(share, abs=0.02), name
    assert "agent" not in CREDIT_RISK.categorical[0].categories


def test_channel_mix_options_name_the_unseen_channel_and_its_share():
    apps = _apps("stable:1m,channel-mix:unseen=kiosk:unseen_share=0.3", 3_000)
    after = _column(_between(apps, 60, 300), "channel")
    assert np.mean(after == "kiosk") == pytest.approx(0.3, abs=0.03)


def _invalid(features: dict) -> bool:
    for f in CREDIT_RISK.numeric:
        if f.name not in features or not f.minimum <= features[f.name] <= f.maximum:
            return True
    return any(f.name not in features for f in CREDIT_RISK.categorical)


def test_data_quality_sends_the_configured_share_of_bad_requests():
    apps = _apps("stable:5m,data-quality:share=0.2", 13_000)
    before, after = _between(apps, 0, 300), _between(apps, 300, 1300)
    assert not any(a.malformed for a in before)
    bad = [a for a in after if a.malformed]
    assert len(bad) / len(after) == pytest.approx(0.2, abs=0.015)
    # Every request marked malformed breaks the schema; every other one satisfies it.
    assert all(_invalid(a.features) for a in bad)
    assert not any(_invalid(a.features) for a in apps if not a.malformed)
    kinds = [a.malformed.split()[0] for a in bad]
    assert kinds.count("missing") / len(kinds) == pytest.approx(0.5, abs=0.06)


def test_two_drifts_at_once():
    apps = _apps("stable:5m,loan-amount-shift+data-quality:share=0.5", 6_000)
    after = _between(apps, 300, 600)
    clean = [a for a in after if a.malformed is None]
    assert _column(clean, "loan_amount").mean() == pytest.approx(8.5 * LAKH, rel=0.10)
    assert np.mean([a.malformed is not None for a in after]) == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty scenario"),
        ("stable,concept-flip", "needs a length"),
        ("stable:10m,loan-amount-shift:mean=-3", "mean must be positive"),
        ("stable:10m,loan-amount-shift:mean=big", "must be a number"),
        ("stable:1m,data-quality:share=1.5", "within 0..1"),
        ("stable:1m,channel-mix:unseen=web", "known channel"),
        ("stable:1m,concept-flip:strength=2", "within 0..1"),
        ("stable:1m,concept-flip:colour=red", "not an option"),
        ("stable:1m,loan-amount-shift:5m:gradual=10m", "longer than the segment"),
        ("stable:1m,loan-amount-shift:recurring=0s", "positive period"),
        ("stable:1m,loan-amount-shift:recurring=1m:duty=0", "duty must be within"),
        ("stable:1m,loan-amount-shift:soon", "cannot read 'soon'"),
        ("stable:10", "cannot read '10'"),
        ("stabel:1m", "unknown scenario 'stabel'"),
    ],
)
def test_bad_scenarios_say_what_is_wrong(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_scenario(text)


def test_describe_names_options_and_shapes():
    schedule = parse_scenario(
        "stable:10m,loan-amount-shift:mean=900000:gradual=5m:20m,channel-mix:recurring=30m"
    )
    assert schedule.describe().splitlines() == [
        "0s-10m stable",
        "10m-30m loan-amount-shift [mean=900000] (gradual over 5m)",
        "30m-end channel-mix (recurring every 30m, duty 0.5)",
    ]
