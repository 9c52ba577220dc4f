"""Hysteresis and cooldown: one shift, one event per kind."""

from __future__ import annotations

import pytest

from driftline.events import FeatureStatistic
from monitor.drift.judge import FeatureJudgement
from monitor.merging.policy import DriftPolicy


def judgement(feature: str, ratio: float, threshold: float = 0.2) -> FeatureJudgement:
    value = ratio * threshold
    stat = FeatureStatistic(feature=feature, statistic="psi", value=value, threshold=threshold,
                            drifted=ratio >= 1)
    return FeatureJudgement(feature=feature, feature_type="numeric", method="psi", value=value,
                            threshold=threshold, ratio=ratio, drifted=ratio >= 1, rows=5000,
                            statistics=[stat])


def run(policy: DriftPolicy, windows: list[dict[str, float]], kind="covariate") -> list[int]:
    raised = []
    for i, ratios in enumerate(windows):
        event = policy.observe(kind, "credit-risk", "1", 300.0 * i, 300.0 * (i + 1),
                               [judgement(f, r) for f, r in ratios.items()])
        if event is not None:
            raised.append(i)
    return raised


def test_a_lasting_shift_raises_once():
    windows = [{"x": 0.1}] * 3 + [{"x": 1.5}] * 20
    assert run(DriftPolicy(raise_after=2), windows) == [4]


def test_a_severe_shift_raises_in_its_first_window():
    windows = [{"x": 0.1}] * 3 + [{"x": 5.0}] * 5
    assert run(DriftPolicy(raise_after=3), windows) == [3]
    assert run(DriftPolicy(raise_after=3, immediate=None), windows) == [5]


def test_single_drifted_windows_do_not_raise():
    windows = [{"x": 1.5}, {"x": 0.2}] * 10
    assert run(DriftPolicy(raise_after=2), windows) == []


def test_values_between_the_thresholds_do_not_clear():
    # drifted, then hovering at 0.6 x threshold (above the 0.5 clear ratio), then drifted again
    windows = [{"x": 1.5}] * 2 + [{"x": 0.6}] * 10 + [{"x": 1.5}] * 2
    assert run(DriftPolicy(raise_after=2, cooldown=0), windows) == [1]


def test_after_clearing_a_new_shift_raises_again_once_cooled_down():
    windows = [{"x": 1.5}] * 2 + [{"x": 0.1}] * 2 + [{"x": 1.5}] * 4
    assert run(DriftPolicy(raise_after=2, clear_after=2, cooldown=0), windows) == [1, 5]
    # with a cooldown of 10 windows the second shift is suppressed
    policy = DriftPolicy(raise_after=2, clear_after=2, cooldown=3000)
    assert run(policy, windows) == [1]
    assert policy.state("covariate", "credit-risk", "1").suppressed == 3


def test_other_features_joining_an_active_finding_stay_quiet():
    windows = [{"x": 1.5, "y": 0.1}] * 3 + [{"x": 1.5, "y": 1.5}] * 3
    assert run(DriftPolicy(raise_after=2), windows) == [1]


def test_kinds_and_versions_are_independent():
    policy = DriftPolicy(raise_after=1)
    j = [judgement("x", 2.5)]
    first = policy.observe("covariate", "m", "1", 0, 300, j)
    assert first is not None
    assert policy.observe("prediction", "m", "1", 0, 300, j) is not None
    assert policy.observe("covariate", "m", "2", 0, 300, j) is not None
    assert policy.observe("covariate", "m", "1", 300, 600, j) is None


def test_the_event_carries_the_finding_and_its_evidence():
    policy = DriftPolicy(raise_after=1)
    event = policy.observe("covariate", "credit-risk", "1", 0.0, 300.0,
                           [judgement("x", 2.5), judgement("y", 0.5)], share_drifted=0.5)
    assert event is not None
    assert (event.kind, event.severity, event.window_start, event.window_end) == (
        "covariate", "medium", 0.0, 300.0
    )
    assert [(s.feature, s.drifted) for s in event.statistics] == [("x", True), ("y", False)]
    assert event.share_drifted == 0.5
    assert event.summary.startswith("covariate drift in credit-risk v1, worst x")
    # replaying the same windows gives the same event id
    again = DriftPolicy(raise_after=1).observe("covariate", "credit-risk", "1", 0.0, 300.0,
                                               [judgement("x", 2.5)])
    assert again is not None and again.event_id == event.event_id


def test_state_lives_in_the_store_and_survives_a_restart():
    store: dict[str, bytes] = {}
    windows = [{"x": 1.5}] * 6
    first = DriftPolicy(raise_after=2, store=store)
    assert run(first, windows[:1]) == []
    second = DriftPolicy(raise_after=2, store=store)  # restarted worker, same table
    assert run(second, windows[1:]) == [0]  # the streak carried over: raised at once


def test_concept_alarms_obey_the_cooldown():
    policy = DriftPolicy(cooldown=600)
    alarm = [FeatureStatistic(feature="error_rate", statistic="glr", value=0.4, threshold=0.1,
                              drifted=True, feature_type="metric")]
    times = [100.0, 200.0, 650.0, 701.0]
    events = [policy.observe_detection("m", "1", t, alarm) for t in times]
    assert [e is not None for e in events] == [True, False, False, True]
    assert events[0] is not None and events[0].severity == "medium"
    assert "glr on error_rate rose to 0.4 from 0.1" in events[0].summary


@pytest.mark.parametrize("bad", [{"raise_after": 0}, {"clear_ratio": 0}, {"cooldown": -1}])
def test_bad_policy_parameters_fail_early(bad):
    with pytest.raises(ValueError):
        DriftPolicy(**bad)
