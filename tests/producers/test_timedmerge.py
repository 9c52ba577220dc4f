"""Finite-speed replay timing on the pure merge, with a made-up clock."""

from __future__ import annotations

import numpy as np
import pytest

from producers.timedmerge import TimedMerge


def _streams(seed: int, partitions: int = 3, n: int = 200) -> dict[int, list[int]]:
    rng = np.random.default_rng(seed)
    return {p: sorted(rng.integers(0, 60_000, n).tolist()) for p in range(partitions)}


@pytest.mark.parametrize("speed", [1.0, 10.0, 0.5])
def test_release_follows_timestamps_scaled_by_speed(speed):
    streams = _streams(1)
    merge: TimedMerge[tuple[int, int, int]] = TimedMerge(streams, speed)
    for p, stamps in streams.items():
        for i, ts in enumerate(stamps):
            merge.add(p, ts, (p, i, ts))
        merge.finish(p)
    released: list[tuple[float, tuple[int, int, int]]] = []
    now = 1_000.0
    while not merge.done:
        for item in merge.pop_ready(now):
            released.append((now, item))
        due = merge.next_due
        now = max(now, due) + 0.003 if due is not None else now  # a sleeper that wakes late
    origin_clock, (_, _, origin_ts) = released[0]
    for clock, (_, _, ts) in released:
        due_at = origin_clock + (ts - origin_ts) / 1000.0 / speed
        assert due_at <= clock <= due_at + 0.0031
    stamps = [ts for _, (_, _, ts) in released]
    assert stamps == sorted(stamps)
    assert len(released) == 600


def test_order_within_a_partition_survives_backwards_timestamps():
    merge: TimedMerge[str] = TimedMerge([0, 1], speed=1.0)
    for ts, name in [(5_000, "a0"), (1_000, "a1"), (6_000, "a2")]:
        merge.add(0, ts, name)
    merge.add(1, 2_000, "b0")
    merge.finish(0)
    merge.finish(1)
    out = merge.pop_ready(0.0) + merge.pop_ready(100.0)
    assert [x for x in out if x.startswith("a")] == ["a0", "a1", "a2"]
    assert out.index("b0") < out.index("a0")


def test_nothing_is_released_while_an_open_partition_has_nothing_buffered():
    merge: TimedMerge[str] = TimedMerge([0, 1], speed=1.0)
    merge.add(0, 1_000, "a")
    assert merge.pop_ready(10.0) == [] and merge.starving == [1]
    merge.add(1, 500, "b")
    assert merge.pop_ready(10.0) == ["b"]
