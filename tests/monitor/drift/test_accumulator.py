"""Window accumulators: per-event counts, merge, serialisation, and the verdicts they give."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.events import OffsetRange
from monitor.drift.accumulator import OTHER_CATEGORY, WindowAccumulator
from monitor.drift.judge import DriftConfig
from monitor.drift.windows import Window
from producers.generator import LAKH, GeneratorParams, LoanGenerator, default_probability

WINDOW = Window(0.0, 300.0)


def fill(profile, rows, scores, *, partition=0, first_offset=0) -> WindowAccumulator:
    acc = WindowAccumulator(profile, WINDOW)
    for i, (row, score) in enumerate(zip(rows, scores, strict=True)):
        acc.update(row, float(score), evidence=("predictions", partition, first_offset + i))
    return acc


def traffic(seed: int, n: int, **params):
    batch = LoanGenerator(seed=seed, params=GeneratorParams(**params)).sample(n)
    return batch.rows(), default_probability(batch.columns)


def test_stable_traffic_drifts_nothing(loan_profile):
    report = fill(loan_profile, *traffic(1, 5000)).evaluate()
    assert report.judged
    assert report.drifted_features == []
    assert not report.dataset_drifted
    assert report.score is not None and not report.score.drifted
    assert [j.method for j in report.features] == ["ks_p_value"] * 5 + ["chi_square_p_value"] * 2


def test_loan_amount_shift_drifts_loan_amount_only(loan_profile):
    report = fill(loan_profile, *traffic(2, 5000, loan_mean=8.5 * LAKH)).evaluate()
    assert report.drifted_features == ["loan_amount"]
    loan = report.feature("loan_amount")
    stats = {s.statistic: s for s in loan.statistics}
    assert loan.method == "ks_p_value" and loan.value < loan.threshold
    assert stats["psi"].value > 2.0 and loan.effect > 10 and loan.level() == "high"
    assert stats["wasserstein_normed"].drifted
    assert report.share_drifted == pytest.approx(1 / 7)
    assert not report.dataset_drifted  # one feature of seven


def test_small_windows_use_p_value_tests_too_and_tiny_ones_are_not_judged(loan_profile):
    small = fill(loan_profile, *traffic(3, 400)).evaluate()
    assert [j.method for j in small.features] == ["ks_p_value"] * 5 + ["chi_square_p_value"] * 2
    tiny = fill(loan_profile, *traffic(4, 20, loan_mean=8.5 * LAKH)).evaluate()
    assert not tiny.judged
    assert tiny.drifted_features == []


def test_a_forced_method_overrides_the_choice_by_size(loan_profile):
    config = DriftConfig(numeric_method="wasserstein", categorical_method="chi_square")
    report = fill(loan_profile, *traffic(5, 3000)).evaluate(config)
    assert {j.method for j in report.features} == {"wasserstein_normed", "chi_square_p_value"}
    with pytest.raises(ValueError, match="numeric_method"):
        DriftConfig(numeric_method="anderson")


def test_a_new_channel_is_caught_by_the_unseen_share(loan_profile):
    probs = {"web": 0.35, "mobile": 0.3, "branch": 0.2, "partner": 0.05, "kiosk": 0.1}
    report = fill(loan_profile, *traffic(6, 3000, channel_probs=probs)).evaluate()
    channel = report.feature("channel")
    unseen = next(s for s in channel.statistics if s.statistic == "unseen_share")
    assert channel.drifted and unseen.drifted  # the chi-square sees the mix change too
    assert unseen.value == pytest.approx(0.1, abs=0.02)


def test_merging_two_halves_gives_the_same_window_as_one_pass(loan_profile):
    rows, scores = traffic(7, 2000)
    whole = fill(loan_profile, rows, scores)
    left = fill(loan_profile, rows[:1200], scores[:1200], partition=0)
    right = fill(loan_profile, rows[1200:], scores[1200:], partition=0, first_offset=1200)
    merged = left.merge(right)
    assert merged.state.rows == whole.state.rows
    for name, nc in whole.state.numeric.items():
        assert merged.state.numeric[name].counts == nc.counts
        assert merged.state.numeric[name].sums == pytest.approx(nc.sums)
    assert merged.state.categorical == whole.state.categorical
    assert merged.evidence() == [OffsetRange(topic="predictions", partition=0, first_offset=0,
                                             last_offset=1999)]
    a, b = merged.evaluate(), whole.evaluate()
    assert [j.value for j in a.features] == pytest.approx([j.value for j in b.features])


def test_merge_refuses_another_model_version(loan_profile):
    other = loan_profile.for_version("credit-risk", "2")
    with pytest.raises(ValueError, match="own profile"):
        WindowAccumulator(loan_profile, WINDOW).merge(WindowAccumulator(other, WINDOW))


def test_state_round_trips_through_json(loan_profile):
    acc = fill(loan_profile, *traffic(8, 300))
    again = WindowAccumulator.decode(loan_profile, acc.encode())
    assert again.state == acc.state
    again.update({"loan_amount": 1e5, "channel": "web"}, 0.1)  # still live after decoding
    assert again.rows == 301


def test_missing_invalid_and_unknown_values(loan_profile):
    acc = WindowAccumulator(loan_profile, WINDOW, max_categories=2)
    acc.update({"loan_amount": None, "annual_income": float("nan"), "channel": None,
                "employment_years": "seven", "not_a_feature": 3.0}, None)
    acc.update({"loan_amount": float("inf"), "channel": "web"}, 0.2)
    acc.update({"channel": "mobile"}, 0.2)
    acc.update({"channel": "kiosk"}, 0.2)  # a third category pools as other
    st = acc.state
    assert st.numeric["loan_amount"].missing == 4  # None, inf, absent twice
    assert st.numeric["annual_income"].missing == 4
    assert st.numeric["employment_years"].missing == 4
    assert st.categorical["channel"].missing == 1
    assert st.categorical["channel"].counts == {"web": 1, "mobile": 1, OTHER_CATEGORY: 1}
    assert st.score is not None and sum(st.score.counts) == 3


def test_evidence_covers_each_partition(loan_profile):
    acc = WindowAccumulator(loan_profile, WINDOW)
    for partition, offset in ((1, 50), (0, 7), (1, 12), (1, 30), (0, 9)):
        acc.update({}, None, evidence=("predictions", partition, offset))
    assert acc.evidence() == [
        OffsetRange(topic="predictions", partition=0, first_offset=7, last_offset=9),
        OffsetRange(topic="predictions", partition=1, first_offset=12, last_offset=50),
    ]


def test_missing_share_is_reported_against_the_reference(loan_profile):
    rows, scores = traffic(9, 1000)
    rng = np.random.default_rng(0)
    for row in rows:
        if rng.random() < 0.2:
            row["loan_amount"] = None
    report = fill(loan_profile, rows, scores).evaluate()
    missing = {s.statistic: s for s in report.feature("loan_amount").statistics}["missing_share"]
    assert missing.drifted and missing.value == pytest.approx(0.2, abs=0.03)


def _counted_one_at_a_time(profile, rows, scores, limit):
    """Reference: each value binned by bisect and added with += in order (float sums
    included), as the accumulator's counts must come out bit for bit."""
    from bisect import bisect_right

    def number(nc, cuts, v):
        if v is None or isinstance(v, str | bool) or not -np.inf < v < np.inf:
            nc["missing"] += 1
            return
        i = bisect_right(cuts, v)
        nc["counts"][i] += 1
        nc["sums"][i] += v

    numeric = {p.name: {"counts": [0] * (len(p.cuts) + 1), "sums": [0.0] * (len(p.cuts) + 1),
                        "missing": 0} for p in profile.numeric}
    categorical = {p.name: {"counts": {}, "missing": 0} for p in profile.categorical}
    score = {"counts": [0] * (len(profile.score.cuts) + 1),
             "sums": [0.0] * (len(profile.score.cuts) + 1), "missing": 0}
    for row, s in zip(rows, scores, strict=True):
        for p in profile.numeric:
            number(numeric[p.name], p.cuts, row.get(p.name))
        for p in profile.categorical:
            v, cc = row.get(p.name), categorical[p.name]
            if v is None:
                cc["missing"] += 1
                continue
            key = v if isinstance(v, str) else str(v)
            if key not in cc["counts"] and len(cc["counts"]) >= limit:
                key = OTHER_CATEGORY
            cc["counts"][key] = cc["counts"].get(key, 0) + 1
        if s is not None:
            number(score, profile.score.cuts, s)
    return numeric, categorical, score


def test_queued_counts_equal_counting_one_at_a_time_bit_for_bit(loan_profile):
    rng = np.random.default_rng(5)
    rows, scores = traffic(6, 3000)
    rows = [dict(r) for r in rows]
    awkward = [None, float("nan"), float("inf"), -float("inf"), "12", True, 7, -0.0, 1e300]
    for i in rng.choice(len(rows), 400, replace=False):
        rows[i]["loan_amount"] = awkward[i % len(awkward)]
        rows[i]["channel"] = [None, 3, "new-channel", f"c{i}", 2.5][i % 5]
    scores = [None if i % 97 == 0 else float(s) for i, s in enumerate(scores)]
    limit = 6
    queued = WindowAccumulator(loan_profile, WINDOW, max_categories=limit)
    each = WindowAccumulator(loan_profile, WINDOW, max_categories=limit)
    for i, (row, score) in enumerate(zip(rows, scores, strict=True)):
        queued.update(row, score, evidence=("predictions", i % 2, 100 + i))
        each.update(row, score, evidence=("predictions", i % 2, 100 + i))
        if i % 250 == 0:
            _ = queued.state  # flushes part-way, as a checkpoint would
        _ = each.state
    numeric, categorical, score = _counted_one_at_a_time(loan_profile, rows, scores, limit)
    for acc in (queued, each):
        st = acc.state
        assert st.rows == len(rows)
        for name, ref in numeric.items():
            nc = st.numeric[name]
            assert (nc.counts, nc.sums, nc.missing) == (ref["counts"], ref["sums"],
                                                         ref["missing"]), name
        for name, ref in categorical.items():
            cc = st.categorical[name]
            assert (cc.counts, cc.missing) == (ref["counts"], ref["missing"]), name
        assert (st.score.counts, st.score.sums, st.score.missing) == (
            score["counts"], score["sums"], score["missing"])
        assert st.offsets == {"predictions:0": [100, 3098], "predictions:1": [101, 3099]}


def test_the_category_limit_admits_the_first_ones_seen_when_counted_in_one_go(loan_profile):
    acc = WindowAccumulator(loan_profile, WINDOW, max_categories=3)
    for city in ["x", "y", None, "x", "z", "w", "y", "v", None, "w"]:
        acc.update({"channel": city}, 0.5)
    cc = acc.state.categorical["channel"]
    # x, y, z fill the three places; w then opens __other__ and v joins it
    assert cc.counts == {"x": 2, "y": 2, "z": 1, OTHER_CATEGORY: 3}
    assert cc.missing == 2
