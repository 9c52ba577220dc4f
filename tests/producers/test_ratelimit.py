"""Rate control on the pure pacer, with made-up clocks (no wall-clock timing)."""

from __future__ import annotations

import numpy as np
import pytest

from producers.ratelimit import Pacer


def _run(pacer: Pacer, wakeups: np.ndarray) -> list[tuple[float, int]]:
    """Ask the pacer at each wake-up time; return (time, released so far)."""
    out = []
    for t in wakeups:
        pacer.take(float(t))
        out.append((float(t), pacer.released))
    return out


@pytest.mark.parametrize("rate", [5.0, 200.0, 5_000.0])
@pytest.mark.parametrize("jitter_ms", [1.0, 20.0, 150.0])
def test_irregular_wakeups_hold_the_rate_within_five_percent(rate, jitter_ms):
    rng = np.random.default_rng(int(rate) + int(jitter_ms))
    # A sleeper that wakes up late by up to jitter_ms, for 60 s.
    gaps = rng.uniform(0.0, jitter_ms / 1000.0, 200_000)
    wakeups = np.cumsum(gaps)
    wakeups = wakeups[wakeups <= 60.0]
    pacer = Pacer(rate, max_lag=1.0)
    trace = _run(pacer, wakeups)
    end, released = trace[-1]
    assert released == pytest.approx(rate * end, rel=0.05, abs=1)
    # At no time is it ahead of schedule, nor behind by more than one wake-up's worth.
    for t, count in trace[:: max(1, len(trace) // 500)]:
        assert count <= np.floor(rate * t + 1e-9) + 1
        assert count >= rate * (t - jitter_ms / 1000.0) - 1


def test_a_stalled_sender_slips_instead_of_bursting():
    pacer = Pacer(100.0, max_lag=0.5)
    assert pacer.take(0.0) == 1
    assert pacer.take(10.0) == 50  # 10 s late: only max_lag worth of sends at once
    assert pacer.slipped == pytest.approx(10.0 - 0.5, abs=0.02)
    # After the slip the schedule runs on from where it is, at the same rate.
    assert pacer.take(10.3) == 30
    assert pacer.take(10.5) == 20


def test_limit_stops_it():
    pacer = Pacer(1_000.0, limit=25)
    assert pacer.take(5.0) == 25
    assert pacer.done and pacer.take(6.0) == 0


def test_next_at_is_when_the_next_send_is_due():
    pacer = Pacer(4.0, start=100.0)
    pacer.take(100.0)
    assert pacer.next_at == 100.25
    assert pacer.take(100.2) == 0 and pacer.take(100.25) == 1


@pytest.mark.parametrize("rate", [0.0, -1.0, float("inf"), float("nan")])
def test_bad_rates_are_refused(rate):
    with pytest.raises(ValueError, match="positive number of sends per second"):
        Pacer(rate)
