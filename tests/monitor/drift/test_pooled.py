"""The pooled windows' tests: a pool is judged as one window holding its rows, at the level
its share of the contract gives each scale, and catches a shift no single window shows."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.contract import per_test_alpha
from monitor.drift.evidence import WindowEvidence
from monitor.drift.judge import DriftConfig, FeatureRule
from monitor.drift.pooled import POOLED_METHOD, POOLS, PooledEvidence, PooledState, pooled_alpha
from monitor.drift.sequential import window_p_value
from monitor.drift.windows import Window
from monitor.merging.policy import DriftPolicy
from producers.generator import LoanGenerator, default_probability

CONFIG = DriftConfig(look_every=300.0)
TESTS = 8  # the credit-risk model's 7 features and its score


def windows(profile, seed: int, count: int, rows: int, *, log_odds: float = 0.0,
            first: int = 0, gap_after: int | None = None):
    """``count`` 5-minute windows of ``rows`` applications as accumulators; the scores moved
    by ``log_odds``; a window left out after the ``gap_after``-th."""
    gen = LoanGenerator(seed=seed)
    for i in range(first, first + count):
        start = 300.0 * (i + (gap_after is not None and i > gap_after))
        batch = gen.sample(rows)
        scores = default_probability(batch.columns)
        if log_odds:
            scores = 1.0 / (1.0 + np.exp(-(np.log(scores / (1 - scores)) + log_odds)))
        acc = WindowAccumulator(profile, Window(start, start + 300.0))
        acc.update_many(batch.rows(), scores.tolist())
        yield acc


def _stat(report, feature: str):
    j = report.score if feature == "score" else report.feature(feature)
    found = [s for s in j.statistics if s.statistic == POOLED_METHOD]
    return found[0] if found else None


def test_a_pool_is_judged_as_one_window_holding_its_rows(loan_profile):
    first, second = windows(loan_profile, 3, 2, 600)
    evidence = PooledEvidence()
    assert _stat(evidence.observe(first.evaluate(CONFIG), first, CONFIG), "loan_amount") is None
    judged = evidence.observe(second.evaluate(CONFIG), second, CONFIG)
    # one window holding both windows' rows, judged on its own
    whole = WindowAccumulator(loan_profile, Window(0.0, 600.0))
    for acc in windows(loan_profile, 3, 2, 600):
        whole.merge(acc)
    alone = whole.evaluate(CONFIG)
    for feature in ("loan_amount", "channel", "score"):
        j = alone.score if feature == "score" else alone.feature(feature)
        assert _stat(judged, feature).value == window_p_value(j)  # the same, bit for bit


# looks per window of all pools together: 2, 4 and 6 windows at each, 12 at one in 3, 24 at
# one in 6
LOOKS = 3 + 1 / 3 + 1 / 6


def test_every_look_of_every_pool_gets_its_share_of_the_pooled_budget(loan_profile):
    evidence = PooledEvidence()
    for acc in windows(loan_profile, 4, 3, 600):
        judged = evidence.observe(acc.evaluate(CONFIG), acc, CONFIG)
    level = per_test_alpha(CONFIG.pooled_budget / LOOKS, 300.0, TESTS)
    assert _stat(judged, "loan_amount").threshold == pytest.approx(level)
    assert pooled_alpha(CONFIG, 300.0, TESTS) == pytest.approx(level)
    # a quarter of the contract is spent over windows, half of it by the pools
    assert level * LOOKS * TESTS * 8640 == pytest.approx(0.125)


def test_the_long_pools_are_judged_at_one_window_in_3_and_6_by_its_place_in_time(
    loan_profile, monkeypatch,
):
    import monitor.drift.pooled as pooled

    judged_sizes: list[tuple[int, list[int]]] = []
    pools = PooledEvidence._pools

    def spy(window, recent, sizes, config):
        judged_sizes.append((round(window.window.end / 300.0), list(sizes)))
        return pools(window, recent, sizes, config)

    monkeypatch.setattr(pooled.PooledEvidence, "_pools", staticmethod(spy))
    evidence = PooledEvidence()
    for acc in windows(loan_profile, 10, 30, 200, first=5):  # windows ending at 6..35 x 300 s
        evidence.observe(acc.evaluate(CONFIG), acc, CONFIG)
    sizes = dict(judged_sizes)
    assert sizes[6] == []  # the first window: nothing to pool with
    assert sizes[7] == [2] and sizes[11] == [2, 4, 6]
    assert sizes[16] == [2, 4, 6] and sizes[17] == [2, 4, 6]  # 12 fit, not at one in 3
    assert sizes[18] == [2, 4, 6, 12]
    assert sizes[29] == [2, 4, 6] and sizes[30] == [2, 4, 6, 12, 24]  # 24 fit from 29 on
    assert sizes[33] == [2, 4, 6, 12] and sizes[34] == [2, 4, 6]
    assert len(evidence.recent("credit-risk", "1")) == max(p.windows for p in POOLS) - 1


def test_stable_windows_raise_no_pooled_rejection(loan_profile):
    evidence = PooledEvidence()
    for acc in windows(loan_profile, 21, 40, 600):
        judged = evidence.observe(acc.evaluate(CONFIG), acc, CONFIG)
        assert not any(s.drifted for j in [*judged.features, judged.score]
                       for s in j.statistics if s.statistic == POOLED_METHOD)


def test_stable_pools_reject_no_more_often_than_their_levels_add_up_to(loan_profile):
    # a contract loose enough for a level of 0.01 per scale and test: the expected number of
    # (window, test) pairs with a rejecting pool is at most the levels' sum over the scales
    level = 0.01
    budget = level * LOOKS * TESTS * 8640
    config = DriftConfig(look_every=300.0, false_alarms=budget / 0.125)
    evidence = PooledEvidence()
    rejected = looks = 0
    for acc in windows(loan_profile, 5, 80, 600):
        judged = evidence.observe(acc.evaluate(config), acc, config)
        for j in [*judged.features, judged.score]:
            stat = next((s for s in j.statistics if s.statistic == POOLED_METHOD), None)
            if stat is not None:
                assert stat.threshold == pytest.approx(level)
                looks += 1
                rejected += stat.drifted
    bound = looks * level * LOOKS  # (the pools judged at a window: LOOKS on average, or fewer)
    # overlapping pools reject together: a margin of several standard deviations
    assert rejected <= bound + 4 * math.sqrt(bound * len(POOLS))


def test_a_score_shift_no_window_rejects_is_flagged_by_the_pools_and_raised_at_once(
    loan_profile,
):
    # the score's log-odds up by 0.2 in windows of 600 rows (the sensitivity benchmark's
    # cell): no window's own test rejects
    pooled, policy, flagged, events = WindowEvidence(), DriftPolicy(), [], []
    for i, acc in enumerate(windows(loan_profile, 9, 6, 600, log_odds=0.2)):
        assert not acc.evaluate(CONFIG).score.drifted
        judged = pooled.judge(acc, CONFIG)
        if judged.score.drifted:
            flagged.append(i)
            assert judged.score.method == POOLED_METHOD
        events += [(i, e.kind) for e in policy.observe_window(judged)]
    assert flagged and flagged[0] <= 3  # with four windows' rows at the latest
    assert events == [(flagged[0], "prediction")]  # at once, then quiet while it holds


def test_a_gap_or_an_overlapping_window_starts_no_pool_across_it(loan_profile):
    evidence = PooledEvidence()
    accs = list(windows(loan_profile, 6, 4, 600, gap_after=1))  # [0,300) [300,600) [900,...
    for acc in accs[:2]:
        evidence.observe(acc.evaluate(CONFIG), acc, CONFIG)
    after_gap = evidence.observe(accs[2].evaluate(CONFIG), accs[2], CONFIG)
    assert _stat(after_gap, "loan_amount") is None  # pools start again at the gap
    assert len(evidence.recent("credit-risk", "1")) == 1
    overlapping = WindowAccumulator(loan_profile, Window(1000.0, 1300.0))
    overlapping.merge(accs[3])
    report = overlapping.evaluate(CONFIG)
    assert evidence.observe(report, overlapping, CONFIG) is report


def test_the_state_round_trips_and_a_restarted_evidence_goes_on_the_same(loan_profile):
    accs = list(windows(loan_profile, 7, 8, 600, log_odds=0.2))
    whole = PooledEvidence()
    expected = [whole.observe(a.evaluate(CONFIG), a, CONFIG) for a in accs]
    store: dict[str, bytes] = {}
    first = PooledEvidence(store)
    got = [first.observe(a.evaluate(CONFIG), a, CONFIG) for a in accs[:4]]
    restarted = PooledEvidence(dict(store))  # a new process reading the table back
    got += [restarted.observe(a.evaluate(CONFIG), a, CONFIG) for a in accs[4:]]
    assert got == expected
    assert len(restarted.recent("credit-risk", "1")) == len(accs)  # all: under 23


def test_features_judged_by_their_own_rule_and_a_zero_share_are_not_pooled(loan_profile):
    own = DriftConfig(look_every=300.0,
                      features={"loan_amount": FeatureRule(method="psi", threshold=0.3)})
    evidence = PooledEvidence()
    for acc in windows(loan_profile, 8, 2, 600):
        judged = evidence.observe(acc.evaluate(own), acc, own)
    assert _stat(judged, "loan_amount") is None and _stat(judged, "annual_income") is not None
    off = msgspec.structs.replace(CONFIG, pooled_share=0.0)
    (acc,) = windows(loan_profile, 8, 1, 600, first=5)
    report = acc.evaluate(off)
    assert evidence.observe(report, acc, off) is report


def test_a_restarted_merger_pools_as_the_one_before_it(loan_profile):
    from monitor.merging.merge import WindowMerger
    from monitor.state.partition import Partial

    partials = []
    for acc in windows(loan_profile, 10, 8, 600, log_odds=0.2):
        end = acc.state.window_end
        partials += [Partial(kind="drift", partition=0, watermark=None,
                             model_name="credit-risk", model_version="1",
                             window_start=acc.state.window_start, window_end=end,
                             drift=acc.state),
                     Partial(kind="watermark", partition=0, watermark=end)]

    def merger(pooled: dict[str, bytes], sequential: dict[str, bytes]) -> WindowMerger:
        return WindowMerger(partitions=1, profiles=lambda n, v: loan_profile, config=CONFIG,
                            idle_timeout=1e9, started=0.0, pooled=pooled,
                            sequential=sequential)

    whole = merger({}, {})
    expected = [j.drift for p in partials for j in whole.add(p, now=0.0)]
    pooled: dict[str, bytes] = {}
    sequential: dict[str, bytes] = {}
    first = merger(pooled, sequential)
    got = [j.drift for p in partials[:8] for j in first.add(p, now=0.0)]
    second = merger(pooled, sequential)  # the same tables, the rest of the windows
    got += [j.drift for p in partials[8:] for j in second.add(p, now=0.0)]
    assert got == expected and len(got) == 8
    assert any(r.score.method == POOLED_METHOD for r in got)


def test_no_record_grows_with_the_pools_and_an_old_record_starts_them_again(loan_profile):
    store: dict[str, bytes] = {}
    evidence = PooledEvidence(store)
    accs = list(windows(loan_profile, 12, 30, 600))
    for acc in accs:
        evidence.observe(acc.evaluate(CONFIG), acc, CONFIG)
    one_window = len(msgspec.json.encode(accs[-1].state))
    assert len(store) == 1 + max(p.windows for p in POOLS) - 1  # the state, 23 windows
    assert max(len(v) for v in store.values()) <= 1.05 * one_window
    # a record written as one blob of windows (no slots) reads as nothing kept: pools start
    # again rather than reading windows it does not describe
    old = PooledEvidence({"credit-risk\t1": msgspec.json.encode(
        {"window_end": accs[-1].window.end, "recent": [accs[-1].state]})})
    (later,) = windows(loan_profile, 12, 1, 600, first=30)
    assert _stat(old.observe(later.evaluate(CONFIG), later, CONFIG), "loan_amount") is None
    assert len(old.recent("credit-risk", "1")) == 1


def test_a_shift_only_the_long_pools_see_raises_one_event_and_holds_between_their_looks(
    loan_profile,
):
    # the score's log-odds up by 0.1 in windows of 600 rows: too small for six windows'
    # rows, plain in 12 or 24; the 24-window pool looks at one window in 6, and between its
    # looks its last p-value holds the finding, so the policy neither clears nor raises again
    evidence, policy, flagged, events, ratios = WindowEvidence(), DriftPolicy(), [], [], []
    for i, acc in enumerate(windows(loan_profile, 14, 60, 600, log_odds=0.1)):
        judged = evidence.judge(acc, CONFIG)
        if judged.score.drifted:
            flagged.append((i, judged.score.method))
        events += [(i, e.kind) for e in policy.observe_window(judged)]
        if flagged:
            ratios.append(judged.score.ratio)
    first, method = flagged[0]
    assert first >= 6 and method == POOLED_METHOD  # no window or six-window pool caught it
    assert events == [(first, "prediction")]
    assert min(ratios) >= 0.5  # never calm again: the policy's clear ratio
    assert {e for e in evidence.pooled.state("credit-risk", "1").held} == {"12", "24"}


def test_a_forgotten_version_leaves_no_record_and_pools_again_from_scratch(loan_profile):
    store: dict[str, bytes] = {}
    evidence = PooledEvidence(store)
    accs = list(windows(loan_profile, 13, 8, 600))
    for acc in accs[:7]:
        evidence.observe(acc.evaluate(CONFIG), acc, CONFIG)
    other = PooledState(window_end=1.0, kept=1, fed=1)
    store["credit-risk\t2"] = msgspec.json.encode(other)  # another version: kept
    evidence.forget("credit-risk", "1")
    assert list(store) == ["credit-risk\t2"]
    evidence.forget("credit-risk", "1")  # nothing left: no error
    judged = evidence.observe(accs[7].evaluate(CONFIG), accs[7], CONFIG)
    assert _stat(judged, "loan_amount") is None  # the first window of new pools
    assert len(evidence.recent("credit-risk", "1")) == 1
