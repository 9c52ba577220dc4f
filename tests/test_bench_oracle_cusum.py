"""The detection benchmark's floor (bench/_oracle_cusum.py): its run-length arithmetic against
a seeded simulation, and its threshold against the false-alarm rate it is set for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "_oracle_cusum.py"
_spec = importlib.util.spec_from_file_location("_oracle_cusum", _PATH)
assert _spec is not None and _spec.loader is not None
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)


def _simulated_run_length(p0: float, p1: float, h: float, runs: int, seed: int) -> np.ndarray:
    """Errors seen before the CUSUM from 0 reaches ``h``, errors at ``p0``, per run."""
    rng = np.random.default_rng(seed)
    up, down = np.log(p1 / p0), np.log((1 - p1) / (1 - p0))
    s = np.zeros(runs)
    length = np.zeros(runs, dtype=np.int64)
    running = np.ones(runs, dtype=bool)
    while running.any():
        wrong = rng.random(runs) < p0
        s = np.where(running, np.maximum(s + np.where(wrong, up, down), 0.0), s)
        length += running
        running &= s < h
    return length


@pytest.mark.parametrize(("p0", "p1", "h"), [(0.2, 0.5, 3.0), (0.1, 0.3, 4.0)])
def test_the_mean_run_length_matches_a_simulation_of_the_statistic(p0, p1, h):
    lengths = _simulated_run_length(p0, p1, h, runs=40_000, seed=11)
    computed = oracle.mean_run_length(p0, p1, h)
    error = lengths.std() / np.sqrt(len(lengths))
    assert abs(computed - lengths.mean()) < 4 * error, (computed, lengths.mean(), error)


def test_the_threshold_gives_the_false_alarm_rate_it_is_set_for():
    h = oracle.threshold(0.2, 0.3, false_alarms=0.25, rate=1.0)
    per_30_days = 30 * 86400 / oracle.mean_run_length(0.2, 0.3, h)
    assert per_30_days == pytest.approx(0.25, rel=1e-3)
    # a looser rate, a lower threshold
    assert oracle.threshold(0.2, 0.3, false_alarms=1.0, rate=1.0) < h


def test_alarms_restart_the_statistic_and_stay_silent_without_errors():
    h = 3.0
    up = np.log(0.9 / 0.2)
    assert oracle.alarms([0] * 1000, 0.2, 0.9, h) == []
    # every error adds log(0.9/0.2): an alarm every ceil(h / up) errors in a row
    step = int(np.ceil(h / up))
    assert oracle.alarms([1] * 10, 0.2, 0.9, h) == list(range(step - 1, 10, step))


def test_a_rate_that_does_not_rise_is_refused():
    with pytest.raises(ValueError, match="p0 < p1"):
        oracle.threshold(0.3, 0.2, false_alarms=0.25, rate=1.0)
