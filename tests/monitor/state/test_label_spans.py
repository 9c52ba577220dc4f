"""Joined pairs sorted into performance windows by span count as one pair at a time does."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.events import LabeledEvent, PredictionEvent
from monitor.drift.performance import PerformanceAccumulator
from monitor.drift.windows import EventTimeWindows
from monitor.state.label_spans import count_by_span


def _pairs(rng: np.random.Generator, n: int, version: str = "1") -> list[LabeledEvent]:
    out = []
    for i, t in enumerate(np.sort(rng.uniform(0, 600, n)).tolist()):
        p = PredictionEvent(prediction_id=f"p{i}", event_time=t, model_name="m",
                            model_version=version, features={}, score=float(rng.random()),
                            decision="LOW")
        delay = float(rng.uniform(1, 90))
        out.append(LabeledEvent(event_time=t, prediction=p, label=int(rng.random() < 0.3),
                                label_time=t + delay, delay_seconds=delay))
    return out


@pytest.mark.parametrize(("size", "step"), [(60.0, 60.0), (60.0, 20.0), (90.0, 30.0)])
def test_pairs_counted_by_span_match_pairs_counted_one_at_a_time(size, step):
    rng = np.random.default_rng(int(size + step))
    windows = EventTimeWindows(size=size, step=step)
    joined = _pairs(rng, 3000)
    marks = np.sort(rng.uniform(-100, 500, len(joined))).tolist()
    by_span: dict[float, PerformanceAccumulator] = {}
    each: dict[float, PerformanceAccumulator] = {}
    for acc in (by_span, each):
        for k in range(-3, 12):
            if k != 4:  # a window with no accumulator counts nothing
                acc[k * step] = PerformanceAccumulator()
    assert count_by_span(joined, marks, windows, lambda name, version, w: by_span.get(w.start))
    for pair, mark in zip(joined, marks, strict=True):
        for w in windows.assign(pair.prediction.event_time):
            acc = each.get(w.start)
            if acc is not None and w.end > mark:
                acc.update(pair.prediction.score, pair.label, pair.delay_seconds)
    assert by_span == each
    assert sum(a.labeled for a in by_span.values()) > 0


def test_pairs_of_several_versions_are_left_to_the_caller():
    rng = np.random.default_rng(1)
    joined = _pairs(rng, 10) + _pairs(rng, 10, version="2")
    counted = []
    assert not count_by_span(joined, [0.0] * 20, EventTimeWindows(size=60),
                             lambda *args: counted.append(args))
    assert counted == []
