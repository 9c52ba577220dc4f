"""LiveVersions: a version retires once its model moved on by more than the horizon, stale
events of a retired version count nowhere, and a version that serves again is new again."""

from __future__ import annotations

from monitor.state.live_versions import LiveVersions


def test_a_version_retires_once_its_model_moved_past_the_horizon() -> None:
    live = LiveVersions(horizon=100.0)
    assert live.see("m", "1", 0.0).new
    assert live.see("m", "2", 90.0).retired == []
    assert live.see("m", "2", 100.0).retired == []  # exactly the horizon: still live
    assert live.see("m", "2", 100.5).retired == [("m", "1")]
    assert live.live() == [("m", "2")]


def test_one_models_events_never_retire_another_models_versions() -> None:
    live = LiveVersions(horizon=10.0)
    live.see("a", "1", 0.0)
    assert live.see("b", "1", 1_000.0).retired == []
    assert live.live() == [("a", "1"), ("b", "1")]


def test_a_stale_event_of_an_unknown_version_is_not_live_and_starts_nothing() -> None:
    live = LiveVersions(horizon=10.0)
    live.see("m", "2", 100.0)
    seen = live.see("m", "1", 50.0)
    assert (seen.live, seen.new) == (False, False)
    assert live.live() == [("m", "2")]


def test_a_live_versions_own_old_event_keeps_it_live() -> None:
    live = LiveVersions(horizon=10.0)
    live.see("m", "1", 100.0)
    seen = live.see("m", "1", 50.0)  # out of order, but the version's newest is 100
    assert (seen.live, seen.new, seen.retired) == (True, False, [])


def test_a_rolled_back_version_is_new_again_and_the_other_retires_later() -> None:
    live = LiveVersions(horizon=10.0)
    live.see("m", "1", 0.0)
    live.see("m", "2", 20.0)  # v1 retires
    assert live.see("m", "1", 25.0).new  # rollback: v1 serves again
    assert live.see("m", "1", 40.0).retired == [("m", "2")]
