"""Performance estimated before the labels: a window's scores, with the labels that came by
its end, leave as an ``estimate`` share once both topics have passed it, are judged on the
calibration map then, and the window's estimate is revised, not judged again, when its
labels close it."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.events import LabelEvent, PredictionEvent
from driftline.profile import ReferenceProfile, with_calibration
from monitor.drift.performance import PerformanceAccumulator
from monitor.drift.windows import EventTimeWindows
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.partition import Partial, PartitionConfig, PartitionState
from producers.generator import LoanGenerator

CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=30, join_ttl=3600)


@pytest.fixture(scope="module")
def calibrated(loan_profile: ReferenceProfile) -> ReferenceProfile:
    rng = np.random.default_rng(4)
    s = rng.random(5_000)
    return with_calibration(loan_profile, s, rng.random(5_000) < s)


def _predictions(n: int, start: float, seed: int = 3) -> list[PredictionEvent]:
    batch = LoanGenerator(seed).sample(n)
    return [PredictionEvent(prediction_id=f"p{start}-{i}", event_time=start + i * 0.1,
                            model_name="credit-risk", model_version="1", features=row,
                            score=float(batch.probabilities[i]), decision="LOW")
            for i, row in enumerate(batch.rows())]


def _state(profile: ReferenceProfile, store: dict | None = None,
           snapshot: bytes | None = None) -> PartitionState:
    return PartitionState(0, CONFIG, {} if store is None else store, lambda n, v: profile,
                          None if snapshot is None else PartitionState.decode_snapshot(snapshot))


def _kinds(partials: list[Partial]) -> list[str]:
    return [p.kind for p in partials if p.kind != "watermark"]


def _label(prediction: PredictionEvent, at: float, label: int = 1) -> LabelEvent:
    return LabelEvent(prediction_id=prediction.prediction_id, event_time=at, label=label)


def test_a_window_sends_an_estimate_share_once_both_topics_have_passed_it(calibrated) -> None:
    state = _state(calibrated)
    first = _predictions(500, 0.0)  # event times 0-49.9: window [0, 60)
    state.on_predictions("predictions", list(range(500)), first)
    state.on_labels("labels", list(range(40)), [_label(p, p.event_time + 1) for p in first[:40]])
    assert _kinds(state.close()) == []
    # a prediction at 66 moves the predictions' watermark (66 - grace) past the window's end
    state.on_predictions("predictions", [500], _predictions(1, 66.0, seed=4))
    assert _kinds(state.close()) == ["drift"]
    # a label made at 62 comes after the window's end; the labels' watermark is not past it
    state.on_labels("labels", [40], [_label(first[40], 62.0)])
    assert _kinds(state.close()) == []
    state.on_labels("labels", [41], [_label(first[41], 66.0)])
    out = state.close()
    assert _kinds(out) == ["estimate"]
    (estimate,) = [p for p in out if p.kind == "estimate"]
    assert estimate.window_end == 60.0 and estimate.performance is not None
    assert estimate.performance.predictions == 500 and sum(estimate.performance.scored) == 500
    assert estimate.performance.labeled == 40  # the labels that came by 60
    # the window keeps every label, and closes when they have had label_wait
    state.on_predictions("predictions", [501], _predictions(1, 67.0, seed=5))
    assert _kinds(state.close()) == []  # sent once
    state.on_labels("labels", [42], [_label(first[42], 100.0)])
    out = state.close()
    assert _kinds(out) == ["performance"]
    assert [p.performance.labeled for p in out if p.performance is not None] == [43]


def _history(seed: int = 5) -> list[tuple[str, int, object]]:
    """Two minutes of predictions, each labeled after an exponential delay (mean 40 s), as
    (topic, offset, event) in order of event time."""
    rng = np.random.default_rng(seed)
    predictions = _predictions(1_200, 0.0, seed=seed)
    labels = sorted((_label(p, p.event_time + float(rng.exponential(40.0)),
                            int(rng.random() < p.score)) for p in predictions),
                    key=lambda e: e.event_time)
    timed = sorted([(p.event_time, "predictions", i, p) for i, p in enumerate(predictions)]
                   + [(e.event_time, "labels", i, e) for i, e in enumerate(labels)],
                   key=lambda e: (e[0], e[1]))
    return [(topic, offset, event) for _, topic, offset, event in timed]


def _estimates(state: PartitionState, runs: list[list[tuple[str, int, object]]]) -> list:
    out = []
    for run in runs:
        topic = run[0][0]
        offsets, events = [o for _, o, _ in run], [e for _, _, e in run]
        if topic == "predictions":
            state.on_predictions(topic, offsets, events)
        else:
            state.on_labels(topic, offsets, events)
        out += [p for p in state.close() if p.kind == "estimate"]
    return out


def test_the_estimate_share_does_not_depend_on_how_the_topics_were_read(calibrated) -> None:
    history = _history()
    # one event at a time in event-time order, as the topics were written
    in_step = _estimates(_state(calibrated), [[e] for e in history])
    # every prediction first, then the labels in runs of 500
    predictions = [e for e in history if e[0] == "predictions"]
    labels = [e for e in history if e[0] == "labels"]
    ahead = _estimates(_state(calibrated), [predictions] + [labels[i:i + 500]
                                                             for i in range(0, len(labels), 500)])
    assert [e.window_end for e in in_step] == [60.0] and len(ahead) == 1
    assert 0 < in_step[0].performance.labeled < 600
    assert ahead[0] == in_step[0]


def test_a_restored_partition_does_not_send_an_estimate_share_again(calibrated) -> None:
    store: dict = {}
    state = _state(calibrated, store)
    first = _predictions(500, 0.0)
    state.on_predictions("predictions", list(range(500)), first)
    state.on_labels("labels", [0], [_label(first[0], 10.0)])
    checkpoint = state.snapshot()  # with the early label counted apart
    state.on_predictions("predictions", [500], _predictions(1, 66.0, seed=4))
    state.on_labels("labels", [1], [_label(first[1], 66.0)])
    (sent,) = [p for p in state.close() if p.kind == "estimate"]
    resumed = _state(calibrated, store, checkpoint)
    resumed.on_predictions("predictions", [500], _predictions(1, 66.0, seed=4))
    resumed.on_labels("labels", [1], [_label(first[1], 66.0)])
    (again,) = [p for p in resumed.close() if p.kind == "estimate"]
    assert again == sent and sent.performance.labeled == 1
    later = _state(calibrated, store, resumed.snapshot())
    later.on_predictions("predictions", [501], _predictions(1, 70.0, seed=5))
    later.on_labels("labels", [2], [_label(first[2], 80.0)])
    assert _kinds(later.close()) == []


def test_the_end_of_a_backtest_sends_the_estimate_before_the_labeled_window(
        calibrated) -> None:
    state = _state(calibrated)
    state.on_predictions("predictions", list(range(500)), _predictions(500, 0.0))
    assert _kinds(state.finish(120.0)) == ["drift", "estimate", "performance"]


def test_a_version_without_a_calibration_map_sends_no_estimate_share(loan_profile) -> None:
    assert loan_profile.calibration is None
    state = _state(loan_profile)
    state.on_predictions("predictions", list(range(500)), _predictions(500, 0.0))
    assert _kinds(state.finish(120.0)) == ["drift", "performance"]


def _low_scores(n: int, seed: int = 8) -> list[float]:
    """Scores bunched in the middle: on a calibrated map, a poor model."""
    return np.random.default_rng(seed).beta(6, 6, n).tolist()


def _merger(profile: ReferenceProfile, **policy) -> WindowMerger:
    return WindowMerger(partitions=2, profiles=lambda n, v: profile,
                        baselines=lambda n, v: {"roc_auc": 0.83, "accuracy": 0.75},
                        policy=DriftPolicy(**policy), idle_timeout=1e9, started=0.0)


def _share(kind: str, partition: int, scores: list[float], labels: int = 0,
           start: float = 0.0) -> Partial:
    acc = PerformanceAccumulator()
    acc.add_predictions(len(scores), scores)
    if labels:
        drawn = np.random.default_rng(partition).random(labels)  # calibrated labels
        acc.update_many(scores[:labels], (drawn < np.asarray(scores[:labels])).tolist())
    return Partial(kind=kind, partition=partition, watermark=None, model_name="credit-risk",
                   model_version="1", window_start=start, window_end=start + 60.0,
                   performance=acc.predictions_only() if kind == "estimate" else acc)


def _beat(partition: int, watermark: float, performance: float | None,
          labels: float | None = None) -> Partial:
    return Partial(kind="watermark", partition=partition, watermark=watermark,
                   performance_watermark=performance,
                   labels_watermark=watermark if labels is None else labels)


def test_the_estimate_is_judged_when_every_partition_has_its_predictions_in(
        calibrated) -> None:
    merger = _merger(calibrated, raise_after=1)
    scores = _low_scores(3_000)
    judged = []
    for partition in (0, 1):
        judged += merger.add(_share("estimate", partition, scores[partition::2]), now=0.0)
    judged += merger.add(_beat(0, 70.0, None), now=0.0)
    assert judged == []  # partition 1 has not passed the window yet
    judged += merger.add(_beat(1, 70.0, None, labels=55.0), now=0.0)
    assert judged == []  # ... nor have its labels: its share may still hold some
    judged += merger.add(_beat(1, 70.0, None, labels=61.0), now=0.0)
    (window,) = judged
    assert window.kind == "estimate" and window.partitions == 2
    assert window.estimate is not None and window.estimate.predictions == 3_000
    assert window.estimate.labeled == 0 and window.performance is None
    assert [e.kind for e in window.events] == ["performance-estimate"]


def test_the_labeled_window_revises_the_estimate_without_judging_it_again(
        calibrated) -> None:
    # raise_after=2: a window judged twice would raise on its own
    merger = _merger(calibrated, raise_after=2, cooldown=0)
    scores = _low_scores(3_000)
    judged = []
    for partition in (0, 1):
        judged += merger.add(_share("estimate", partition, scores[partition::2]), now=0.0)
    for partition in (0, 1):
        judged += merger.add(_beat(partition, 70.0, None), now=0.0)
    for partition in (0, 1):
        # a few labels in: too few for the realized metrics, the estimate still low
        judged += merger.add(_share("performance", partition, scores[partition::2],
                                    labels=50), now=0.0)
    for partition in (0, 1):
        judged += merger.add(_beat(partition, 100.0, 100.0), now=0.0)
    assert [j.kind for j in judged] == ["estimate", "performance"]
    first, final = judged
    assert first.estimate is not None and final.estimate is not None
    assert first.estimate.labeled == 0 and final.estimate.labeled == 100
    assert final.estimate.roc_auc != first.estimate.roc_auc  # revised by the labels
    assert [e.kind for j in judged for e in j.events] == []


def test_without_an_estimate_share_the_labeled_window_judges_its_estimate(
        calibrated) -> None:
    merger = _merger(calibrated, raise_after=1)
    judged = merger.add(_share("performance", 0, _low_scores(3_000)), now=0.0)
    judged += merger.add(_beat(0, 100.0, 100.0), now=0.0)
    judged += merger.add(_beat(1, 100.0, 100.0), now=0.0)
    (window,) = judged
    assert window.kind == "performance"
    assert [e.kind for e in window.events] == ["performance-estimate"]
