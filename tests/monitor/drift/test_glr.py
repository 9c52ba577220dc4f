"""The one-sided Bernoulli GLR scan: its threshold from the contract, silence on stable
streams where the contract allows none, prompt detection of an increase, none of a
decrease, state and batches that change nothing, and bounds that drop no alarm the
definition raises."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest

from monitor.drift.concept import glr_threshold
from monitor.drift.glr import BernoulliGlr, GlrState, cut_count, glr_statistic, normal_threshold


def bernoulli(seed: int, rates: list[tuple[int, float]]) -> np.ndarray:
    """0/1 events: ``n`` at rate ``p`` for each ``(n, p)`` in turn."""
    rng = np.random.default_rng(seed)
    return np.concatenate([(rng.random(n) < p).astype(int) for n, p in rates])


def kl(p: float, q: float) -> float:
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def test_the_threshold_spreads_the_concept_budget_over_the_labels_of_30_days():
    # a contract of 1 false alarm per 30 days: the concept family's 0.25, over 2,592,000
    # labels at one a second (22 bits: 22 scales of the newer part), 4 new cuts per scale
    assert glr_threshold(1.0, 1.0) == pytest.approx(
        math.log(2_592_000 * 4 * 22 / 0.25), abs=1e-12)
    assert glr_threshold(1.0, 10.0) == pytest.approx(
        math.log(25_920_000 * 4 * 25 / 0.25), abs=1e-12)
    assert glr_threshold(4.0, 1.0) == pytest.approx(math.log(2_592_000 * 4 * 22 / 1.0),
                                                    abs=1e-12)
    assert glr_threshold(1.0, 1.0, cuts=16) == pytest.approx(
        math.log(2_592_000 * 8 * 22 / 0.25), abs=1e-12)


def test_a_longer_newer_part_needs_less_evidence():
    # 24 errors in a row after a long run at 0.2 give G just under 24 ln 5 = 38.6: short of
    # a flat threshold of 40, past the 40 - 4 ln 2 = 37.2 a newer part of 16 to 31 needs
    events = np.r_[bernoulli(8, [(50_000, 0.2)]), np.ones(24, dtype=int)]
    assert BernoulliGlr(40.0).update_many(events) == []
    found = BernoulliGlr(40.0, discount=math.log(2)).update_many(events)
    assert [a.index for a in found] == [50_023]


def test_a_bad_label_rate_is_refused():
    with pytest.raises(ValueError, match="label_rate"):
        glr_threshold(1.0, 0.0)


def test_the_statistic_is_the_likelihood_ratio_of_a_cut():
    # 1000 events at 0.2 then 100 at 0.5: n0 KL(0.2 || p) + n1 KL(0.5 || p), p = 250 / 1100
    p = 250 / 1100
    assert glr_statistic(1000, 200, 100, 50) == pytest.approx(
        1000 * kl(0.2, p) + 100 * kl(0.5, p), rel=1e-12)
    assert cut_count(1, 8) == 8
    assert cut_count(1024, 8) == 8 + 4 * 10


@pytest.mark.parametrize(("seed", "rate"), [(1, 0.05), (2, 0.2), (3, 0.5)])
def test_no_alarm_on_a_stable_stream_where_the_threshold_allows_a_hundredth(seed, rate):
    events = 100_000
    # a budget of 0.01 false alarms over these events, spent as glr_threshold spends it
    c0 = math.log(events * 4 * events.bit_length() / 0.01)
    glr = BernoulliGlr(c0, discount=math.log(2))
    assert glr.update_many(bernoulli(seed, [(events, rate)])) == []


@pytest.mark.parametrize(("seed", "rate"), [(4, 0.05), (5, 0.2), (6, 0.5)])
def test_the_normal_tail_holds_a_stable_stream_where_the_threshold_allows_a_hundredth(seed,
                                                                                      rate):
    events = 100_000
    c0 = math.log(events * 4 * events.bit_length() / 0.01)
    glr = BernoulliGlr(c0, discount=math.log(2), normal_from=25.0)
    assert glr.update_many(bernoulli(seed, [(events, rate)])) == []


def test_the_normal_tail_takes_a_quarter_of_the_chernoff_level():
    # exp(-c) / (2 sqrt(pi c)) = exp(-chernoff) / 4 at the returned c
    for chernoff in (8.0, 14.39, 20.63):
        c = float(normal_threshold(chernoff))
        one_look = math.exp(-c) / (2 * math.sqrt(math.pi * c))
        assert one_look == pytest.approx(math.exp(-chernoff) / 4, rel=1e-3)
        assert c < chernoff


def test_a_small_rise_is_found_sooner_with_the_normal_tail_and_only_where_it_applies():
    c0 = glr_threshold(1.0, 1.0)
    events = bernoulli(9, [(30_000, 0.2), (5_000, 0.3)])
    chernoff = BernoulliGlr(c0, discount=math.log(2)).update_many(events)
    normal = BernoulliGlr(c0, discount=math.log(2), normal_from=25.0).update_many(events)
    assert 30_000 <= normal[0].index < chernoff[0].index
    # with no cut holding that much variance the thresholds, and the alarms, are the same
    never = BernoulliGlr(c0, discount=math.log(2), normal_from=1e12).update_many(events)
    assert never == chernoff


def _ideal_delay(c0: float, divergence: float) -> float:
    """Events after the change at which n1 * KL reaches the threshold of n1 events."""
    d = c0 / divergence
    for _ in range(20):
        d = (c0 - math.log(2) * math.floor(math.log2(d))) / divergence
    return d


@pytest.mark.parametrize("seed", range(5))
def test_a_jump_from_0_2_to_0_5_is_detected_within_twice_the_ideal_delay(seed):
    # the ideal delay is about 74 events at the default threshold; the cut grid and the
    # noise may cost up to as much again
    c0 = glr_threshold(1.0, 1.0)
    alarms = BernoulliGlr(c0, discount=math.log(2)).update_many(
        bernoulli(seed, [(20_000, 0.2), (2_000, 0.5)]))
    assert alarms, "no alarm"
    assert 20_000 <= alarms[0].index < 20_000 + 2 * _ideal_delay(c0, kl(0.5, 0.2))
    assert alarms[0].rate_before == pytest.approx(0.2, abs=0.02)
    assert alarms[0].rate > 0.4


@pytest.mark.parametrize("seed", range(3))
def test_a_decrease_never_alarms(seed):
    # even at a threshold low enough for noise to alarm, every alarm is of an increase
    events = bernoulli(seed, [(20_000, 0.5), (20_000, 0.05)])
    assert BernoulliGlr(glr_threshold(1.0, 1.0), discount=math.log(2)).update_many(events) == []
    noisy = BernoulliGlr(4.0).update_many(events)
    assert noisy and all(a.rate > a.rate_before for a in noisy)


def test_after_an_alarm_the_newer_part_is_the_base():
    glr = BernoulliGlr(glr_threshold(1.0, 1.0), discount=math.log(2))
    alarms = glr.update_many(bernoulli(4, [(20_000, 0.1), (3_000, 0.4)]))
    assert len(alarms) == 1
    after = 23_000 - alarms[0].index - 1
    state = glr.state()
    assert state.t == after and state.base_n > 0
    assert glr.events == state.base_n + after


def _json(state: GlrState) -> GlrState:
    return msgspec.json.decode(msgspec.json.encode(state), type=GlrState)


@pytest.mark.parametrize("stop_at", [1, 5_000, 20_013, 20_150, 31_000])
def test_a_scan_restored_from_its_state_goes_on_identically(stop_at):
    events = bernoulli(5, [(20_000, 0.2), (8_000, 0.45), (6_000, 0.1), (6_000, 0.4)])
    whole = BernoulliGlr(16.0, discount=math.log(2))
    expected = whole.update_many(events)
    assert len(expected) >= 2
    first = BernoulliGlr(16.0, discount=math.log(2))
    before = first.update_many(events[:stop_at])
    resumed = BernoulliGlr(16.0, discount=math.log(2))
    resumed.restore(_json(first.state()))
    after = [a._replace(index=a.index + stop_at) for a in resumed.update_many(events[stop_at:])]
    assert before + after == expected
    assert resumed.state() == whole.state()


def test_batches_of_any_size_alarm_as_one_event_at_a_time():
    events = bernoulli(6, [(6_000, 0.2), (1_500, 0.5), (1_500, 0.2), (1_000, 0.6)])
    single = BernoulliGlr(14.0, discount=math.log(2))
    one_by_one = [a._replace(index=i) for i, e in enumerate(events)
                  for a in single.update_many([e])]
    batched = BernoulliGlr(14.0, discount=math.log(2))
    rng = np.random.default_rng(0)
    found, i = [], 0
    while i < len(events):
        n = int(rng.integers(1, 5_000))
        found += [a._replace(index=a.index + i) for a in batched.update_many(events[i:i + n])]
        i += n
    assert len(one_by_one) >= 2
    assert found == one_by_one
    assert batched.state() == single.state()


def test_events_before_armed_from_count_but_never_alarm():
    events = bernoulli(7, [(200, 0.1), (2_000, 0.6)])
    assert BernoulliGlr(12.0).update_many(events, armed_from=len(events)) == []
    armed = BernoulliGlr(12.0).update_many(events)
    assert armed and 200 <= armed[0].index < 300


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="cuts"):
        BernoulliGlr(10.0, cuts=5)
    with pytest.raises(ValueError, match="threshold"):
        BernoulliGlr(0.0)
    with pytest.raises(ValueError, match="floor"):
        BernoulliGlr(5.0, floor=6.0)


def _xlogx(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x * np.log(np.maximum(x, 1.0)), 0.0)


def reference_alarms(events: np.ndarray, threshold: float, cuts: int = 8, discount: float = 0.0,
                     normal_from: float | None = None,
                     armed_from: int = 0) -> list[tuple[int, float, int, int, int, int]]:
    """The scan from its definition, one event at a time with no bound: ``G`` at every cut
    (the last ``cuts`` multiples of ``2**j`` for every ``j``), the first event where a cut
    with ``p1 > p0`` reaches its threshold, its best cut (the shortest newer part of ties),
    and the newer part as the base after it. Each alarm as ``(index, G, n1, k1, n0, k0)``."""
    ones = np.r_[0, np.cumsum(events)]
    found, start, base_n, base_k = [], 0, 0, 0
    for i in range(len(events)):
        t = i + 1 - start
        newest = t >> np.arange(t.bit_length())
        tau = (newest[:, None] - np.arange(cuts)) << np.arange(t.bit_length())[:, None]
        tau = np.unique(tau[(newest[:, None] - np.arange(cuts)) >= 0])[::-1]
        n0 = (tau + base_n).astype(float)
        k0 = (ones[start + tau] - ones[start] + base_k).astype(float)
        n1 = (t - tau).astype(float)
        k1 = float(ones[i + 1] - ones[start] + base_k) - k0
        up = k1 * n0 > k0 * n1
        if i < armed_from or not up.any():
            continue
        n0, k0, n1, k1 = n0[up], k0[up], n1[up], k1[up]
        n, k = n0 + n1, k0 + k1
        g = (_xlogx(k0) + _xlogx(n0 - k0) - _xlogx(n0) + _xlogx(k1) + _xlogx(n1 - k1)
             - _xlogx(n1) - _xlogx(k) - _xlogx(n - k) + _xlogx(n))
        needed = threshold - discount * np.floor(np.log2(n1))
        if normal_from is not None:
            normal = n1 * (k / n) * (1 - k / n) >= normal_from
            needed = np.where(normal, normal_threshold(needed), needed)
        excess = g - np.maximum(needed, 1.0)
        if excess.max() >= 0:
            c = int(np.argmax(excess))
            found.append((i, float(g[c]), int(n1[c]), int(k1[c]), int(n0[c]), int(k0[c])))
            start, base_n, base_k = i + 1, int(n1[c]), int(k1[c])
    return found


@pytest.mark.parametrize(("seed", "threshold", "cuts", "normal_from", "batch"), [
    (20, 12.0, 8, 25.0, 3_000),
    (21, 10.0, 8, None, 0),
    (22, 14.0, 4, 25.0, 0),
    (23, 9.0, 16, 4.0, 2_049),
    (24, glr_threshold(0.25, 50.0), 8, 25.0, 0),
])
def test_the_bounded_scan_alarms_where_every_cut_computed_from_the_definition_does(
        seed, threshold, cuts, normal_from, batch):
    # runs of errors (short newer parts), jumps, a small rise (long ones), falls, fed in
    # batches of one size or of random sizes up to 5,000, a warm-up across the first
    rng = np.random.default_rng(seed)
    parts = [(2_500, 0.2), (150, 0.55), (1_500, 0.05)]
    parts += [(1, 1.0)] * int(rng.integers(14, 24)) + [(1_500, 0.05), (1_500, 0.3), (400, 0.02)]
    parts += [(1, 1.0)] * 20 + [(2_500, 0.2), (2_500, 0.27)]
    events = bernoulli(seed, parts)
    armed_from = 400
    expected = reference_alarms(events, threshold, cuts, math.log(2), normal_from, armed_from)
    glr = BernoulliGlr(threshold, cuts=cuts, discount=math.log(2), normal_from=normal_from)
    found, i = [], 0
    while i < len(events):
        n = batch or int(rng.integers(1, 5_000))
        found += [a._replace(index=a.index + i) for a in
                  glr.update_many(events[i:i + n], armed_from=max(armed_from - i, 0))]
        i += n
    assert len(expected) >= 3
    # short newer parts (bounded per event and level) and long ones (per block of events)
    assert {n1 < 128 for _, _, n1, *_ in expected} == {True, False}
    assert [a.index for a in found] == [e[0] for e in expected]
    assert [a.statistic for a in found] == pytest.approx([e[1] for e in expected], rel=1e-9)
    assert [(a.rate, a.rate_before) for a in found] == [(k1 / n1, k0 / n0)
                                                        for _, _, n1, k1, n0, k0 in expected]
    last = expected[-1]
    state = glr.state()
    assert (state.t, state.base_n, state.base_k) == (len(events) - last[0] - 1, last[2], last[3])
    assert state.sums[-1] == events[last[0] + 1:].sum()
