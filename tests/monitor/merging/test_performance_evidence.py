"""A performance window keeps where the events that completed its labeled pairs were read, and
where its predictions were: a performance event names the first as its evidence, a
performance-estimate event (which judges the predictions' scores) the second, as a covariate
event names its predictions'."""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter

import numpy as np

from driftline.events import LabelEvent, OffsetRange, PredictionEvent
from driftline.profile import build_profile, with_calibration
from monitor.drift.performance import PerformanceAccumulator
from monitor.drift.windows import EventTimeWindows
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.partition import Partial, PartitionConfig, PartitionState

CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=30, join_ttl=3600)
WINDOW = 60.0


def _events(n: int, early_labels: set[int]) -> list[tuple[str, int, object]]:
    """``n`` predictions two a second, labeled in bursts every 10 s, 20 to 30 s later,
    except those in ``early_labels``, whose label is read just before the prediction (their
    pair is completed by the prediction); as read from one partition of each topic, with
    offsets."""
    timed: list[tuple[float, int, str, object]] = []
    for i in range(n):
        t = i * 0.5
        prediction = PredictionEvent(
            prediction_id=f"p{i}", event_time=t, model_name="m", model_version="1",
            features={"x": float(i % 7)}, score=(i % 10) / 10, decision="")
        label_at = t - 0.1 if i in early_labels else (t + 20) // 10 * 10 + 10
        label = LabelEvent(prediction_id=f"p{i}", event_time=max(label_at, 0.0), label=i % 2)
        timed += [(t, 1, "predictions", prediction), (label_at, 0, "labels", label)]
    timed.sort(key=lambda e: (e[0], e[1]))
    next_offset = {"predictions": 100, "labels": 500}
    out = []
    for _, _, topic, event in timed:
        out.append((topic, next_offset[topic], event))
        next_offset[topic] += 1
    return out


def runs_of(events):
    """The events in runs of consecutive events of one topic."""
    return [list(run) for _, run in groupby(events, key=itemgetter(0))]


def _expected(events) -> dict[float, dict[str, list[int]]]:
    """Per performance window, the span of offsets of the events that completed its pairs:
    the later read of each pair's two events."""
    read: dict[str, dict[str, int]] = {}
    made: dict[str, float] = {}
    for topic, offset, event in events:
        read.setdefault(event.prediction_id, {})[topic] = offset
        if topic == "predictions":
            made[event.prediction_id] = event.event_time
    order = {(topic, offset): i for i, (topic, offset, _) in enumerate(events)}
    spans: dict[float, dict[str, list[int]]] = {}
    for pid, where in read.items():
        topic = max(where, key=lambda t: order[(t, where[t])])
        start = made[pid] // WINDOW * WINDOW
        span = spans.setdefault(start, {}).setdefault(f"{topic}:3", [where[topic]] * 2)
        span[0], span[1] = min(span[0], where[topic]), max(span[1], where[topic])
    return spans


def _profile():
    rng = np.random.default_rng(2)
    return build_profile({"x": rng.integers(0, 7, 2_000).astype(float)}, rng.random(2_000),
                         numeric=["x"], categorical=[], model_name="m", model_version="1")


def _performance_offsets(partials) -> dict[float, dict[str, list[int]]]:
    return {p.window_start: p.performance.offsets for p in partials if p.kind == "performance"}


def _scored_offsets(partials) -> dict[float, dict[str, list[int]]]:
    return {p.window_start: p.performance.scored_offsets for p in partials
            if p.kind == "performance"}


def _predictions_read(events) -> dict[float, dict[str, list[int]]]:
    """Per performance window, the span of its predictions' offsets."""
    spans: dict[float, dict[str, list[int]]] = {}
    for topic, offset, event in events:
        if topic == "predictions":
            start = event.event_time // WINDOW * WINDOW
            span = spans.setdefault(start, {}).setdefault("predictions:3", [offset, offset])
            span[0], span[1] = min(span[0], offset), max(span[1], offset)
    return spans


def test_each_performance_window_spans_the_offsets_that_completed_its_pairs() -> None:
    events = _events(600, early_labels={3, 250, 251, 599})
    profile = _profile()
    one = PartitionState(3, CONFIG, {}, lambda n, v: profile)
    singly = []
    for topic, offset, event in events:
        apply = one.on_prediction if topic == "predictions" else one.on_label
        singly += apply(event, topic, offset).partials
    runs = PartitionState(3, CONFIG, {}, lambda n, v: profile)
    batched = []
    for run in runs_of(events):  # runs of one topic, as the source loop applies them
        topic = run[0][0]
        apply = runs.on_predictions if topic == "predictions" else runs.on_labels
        batched += apply(topic, [o for _, o, _ in run], [e for _, _, e in run]).partials
        batched += runs.close()
    expected = _expected(events)
    found = _performance_offsets(singly)
    assert found and found == {start: expected[start] for start in found}
    # the windows of the early labels name both topics: their pairs were completed by
    # predictions
    assert set(found[120.0]) == {"labels:3", "predictions:3"}
    assert set(found[0.0]) == {"labels:3", "predictions:3"}
    assert set(found[60.0]) == {"labels:3"}
    assert _performance_offsets(batched) == found
    scored = _scored_offsets(singly)
    assert scored == {start: _predictions_read(events)[start] for start in found}
    assert _scored_offsets(batched) == scored
    assert max(len(run) for run in runs_of(events)) >= 20  # the labels' runs are counted whole


def _share(partition: int, first: int, last: int, rng: np.random.Generator) -> Partial:
    acc = PerformanceAccumulator()
    scores = rng.random(300)
    acc.add_predictions(300, scores.tolist())
    labels = (rng.random(300) < 0.5).astype(int)  # labels the scores know nothing of
    acc.update_many(scores.tolist(), labels.tolist(), span=(f"labels:{partition}", first, last))
    return Partial(kind="performance", partition=partition, watermark=None, model_name="m",
                   model_version="1", window_start=0.0, window_end=300.0, performance=acc)


def _the_event(profile, shares: list[Partial]):
    """The one event a merger of two partitions raises from their performance ``shares``,
    once both partitions have passed the window."""
    merger = WindowMerger(partitions=2, profiles=lambda n, v: profile,
                          baselines=lambda n, v: {"roc_auc": 0.83, "accuracy": 0.75},
                          policy=DriftPolicy(raise_after=1), idle_timeout=1e9, started=0.0)
    beats = [Partial(kind="watermark", partition=p, watermark=400.0,
                     performance_watermark=400.0) for p in (0, 1)]
    judged = [j for partial in [*shares, *beats] for j in merger.add(partial, now=0.0)]
    [event] = [e for j in judged for e in j.events]
    return event


def test_a_performance_event_names_every_partitions_offsets_as_its_evidence() -> None:
    profile = _profile()
    rng = np.random.default_rng(5)
    event = _the_event(profile, [_share(1, 40, 339, rng), _share(0, 7, 306, rng)])
    assert event.kind == "performance"
    assert event.evidence == [
        OffsetRange(topic="labels", partition=0, first_offset=7, last_offset=306),
        OffsetRange(topic="labels", partition=1, first_offset=40, last_offset=339),
    ]


def test_a_performance_estimate_event_names_the_offsets_of_the_windows_predictions() -> None:
    rng = np.random.default_rng(7)
    reference = rng.random(2_000)
    profile = with_calibration(_profile(), reference, rng.random(2_000) < reference)
    partials = []
    for partition, first in ((0, 12), (1, 30)):
        acc = PerformanceAccumulator()
        scores = rng.beta(6, 6, 1_500)  # scores near 0.5: an AUC far under the baseline's
        acc.add_predictions(1_500, scores.tolist(),
                            span=(f"predictions:{partition}", first, first + 1_499))
        partials.append(Partial(kind="performance", partition=partition, watermark=None,
                                model_name="m", model_version="1", window_start=0.0,
                                window_end=300.0, performance=acc))
    event = _the_event(profile, partials)
    assert event.kind == "performance-estimate"
    assert event.evidence == [
        OffsetRange(topic="predictions", partition=0, first_offset=12, last_offset=1511),
        OffsetRange(topic="predictions", partition=1, first_offset=30, last_offset=1529),
    ]
