"""Performance estimation for unlabeled predictions (CBPE) on small seeded data."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from driftline.calibration import CalibrationMap, fit_calibration
from driftline.events import DriftEvent
from driftline.policy_file import DEFAULT_RETRAIN_KINDS
from driftline.profile import (
    PROFILE_FORMAT,
    ReferenceProfile,
    build_profile,
    with_calibration,
)
from monitor.drift.estimation import estimate_performance, judge_estimate
from monitor.drift.performance import PerformanceAccumulator
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.partition import Partial

# Estimated and realized metrics of 20,000 predictions agree this closely when the scores
# are calibrated (the realized value's own sampling error is about a third of it)
TOLERANCE = 0.015


def _calibration(seed: int = 0) -> CalibrationMap:
    rng = np.random.default_rng(seed)
    s = rng.random(20_000)
    cal = fit_calibration(s, rng.random(20_000) < s)
    assert cal is not None
    return cal


def _window(scores: np.ndarray, labels: np.ndarray, labeled: int) -> PerformanceAccumulator:
    """A window of every score with the first ``labeled`` labels in."""
    acc = PerformanceAccumulator()
    acc.add_predictions(len(scores), scores.tolist())
    acc.update_many(scores[:labeled].tolist(), labels[:labeled].tolist())
    return acc


def _realized(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    acc = PerformanceAccumulator()
    acc.update_many(scores.tolist(), labels.tolist())
    report = acc.evaluate()
    assert report.roc_auc is not None and report.accuracy is not None
    return report.roc_auc, report.accuracy


def test_calibrated_scores_give_an_estimate_within_tolerance_of_the_realized_metrics() -> None:
    rng = np.random.default_rng(1)
    s = rng.random(20_000)
    y = (rng.random(20_000) < s).astype(int)
    est = estimate_performance(_window(s, y, 1_000), _calibration())
    auc, accuracy = _realized(s, y)
    assert est.label_coverage == pytest.approx(0.05)
    assert est.roc_auc is not None and est.accuracy is not None
    assert abs(est.roc_auc - auc) < TOLERANCE
    assert abs(est.accuracy - accuracy) < TOLERANCE
    assert est.unlabeled == 19_000 and not est.recalibrated


def test_the_estimate_moves_with_a_covariate_shift_of_the_scores() -> None:
    rng = np.random.default_rng(2)
    cal = _calibration()
    before = rng.random(20_000)
    after = rng.beta(6, 6, 20_000)  # scores crowd around 0.5: the same model ranks worse
    y_before = (rng.random(20_000) < before).astype(int)
    y_after = (rng.random(20_000) < after).astype(int)  # P(y | x) unchanged
    est_before = estimate_performance(_window(before, y_before, 0), cal)
    est_after = estimate_performance(_window(after, y_after, 0), cal)
    auc_after, accuracy_after = _realized(after, y_after)
    assert est_before.roc_auc is not None and est_after.roc_auc is not None
    assert est_before.roc_auc - est_after.roc_auc > 0.1
    assert abs(est_after.roc_auc - auc_after) < TOLERANCE
    assert est_after.accuracy is not None
    assert abs(est_after.accuracy - accuracy_after) < TOLERANCE


def test_a_concept_flip_escapes_the_estimate_but_not_the_realized_metrics() -> None:
    rng = np.random.default_rng(3)
    s = rng.random(20_000)
    y = (rng.random(20_000) < 1.0 - s).astype(int)  # P(y | x) flipped, scores unchanged
    blind = estimate_performance(_window(s, y, 50), _calibration())  # too few to check
    assert blind.roc_auc is not None and blind.roc_auc > 0.8  # as before the flip
    assert blind.realized_roc_auc is not None and blind.realized_roc_auc < 0.4
    interval = blind.realized_roc_auc_interval
    assert interval is not None and interval[1] < 0.5  # the labels alone show the drop
    auc, _ = _realized(s, y)
    assert auc < 0.4


def test_labeled_pairs_that_reject_the_calibration_relearn_it() -> None:
    rng = np.random.default_rng(4)
    s = rng.random(20_000)
    y = (rng.random(20_000) < 1.0 - s).astype(int)
    est = estimate_performance(_window(s, y, 1_000), _calibration())
    auc, _ = _realized(s, y)
    assert est.recalibrated
    assert est.calibration_p_value is not None and est.calibration_p_value < 1e-6
    # relearned in groups of bins, it ranks within a group as ties: coarser than calibrated
    assert est.roc_auc is not None and abs(est.roc_auc - auc) < 0.05
    assert est.roc_auc < 0.5


def test_calibrated_labels_do_not_reject_the_calibration() -> None:
    rng = np.random.default_rng(5)
    s = rng.random(20_000)
    y = (rng.random(20_000) < s).astype(int)
    est = estimate_performance(_window(s, y, 2_000), _calibration())
    assert est.calibration_p_value is not None and est.calibration_p_value > 0.01
    assert not est.recalibrated


def test_a_window_counted_without_scores_has_no_estimate_of_its_unlabeled_part() -> None:
    acc = PerformanceAccumulator()
    acc.add_predictions(500)  # counted without scores (a checkpoint from before scores)
    acc.update_many([0.2, 0.8] * 50, [0, 1] * 50)
    est = estimate_performance(acc, _calibration())
    assert est.unlabeled == 0 and est.unlabeled_roc_auc is None
    assert est.roc_auc == est.realized_roc_auc
    assert judge_estimate(est, {"roc_auc": 0.99}) and not any(
        j.drifted for j in judge_estimate(est, {"roc_auc": 0.99}))


def test_an_accumulator_checkpointed_without_score_counts_decodes_with_empty_ones() -> None:
    old = msgspec.json.encode({"threshold": 0.5, "bins": 4, "predictions": 3})
    acc = PerformanceAccumulator.decode(old)
    assert acc.scored == [0, 0, 0, 0] and acc.predictions == 3


def test_merged_windows_add_their_score_counts() -> None:
    a, b = PerformanceAccumulator(bins=4), PerformanceAccumulator(bins=4)
    a.add_predictions(2, [0.1, 0.9])
    b.add_score(0.3)
    assert a.merge(b).scored == [1, 1, 0, 1] and a.predictions == 3


def test_an_estimated_drop_is_judged_drifted_only_with_unlabeled_predictions() -> None:
    rng = np.random.default_rng(6)
    s = rng.beta(6, 6, 5_000)
    y = (rng.random(5_000) < s).astype(int)
    est = estimate_performance(_window(s, y, 0), _calibration())
    judged = {j.feature: j for j in judge_estimate(est, {"roc_auc": 0.83, "accuracy": 0.75})}
    assert judged["roc_auc"].drifted and judged["roc_auc"].method == "estimated_roc_auc"
    assert judged["accuracy"].drifted
    done = estimate_performance(_window(s, y, 5_000), _calibration())
    assert done.unlabeled == 0
    assert not any(j.drifted for j in judge_estimate(done, {"roc_auc": 0.83}))


def _profile(calibrated: bool) -> ReferenceProfile:
    rng = np.random.default_rng(7)
    s = rng.random(2_000)
    profile = build_profile({"x": rng.normal(size=2_000)}, s, numeric=["x"], categorical=[],
                            model_name="m", model_version="1")
    return with_calibration(profile, s, rng.random(2_000) < s) if calibrated else profile


def _judge_window(profile: ReferenceProfile, scores: np.ndarray,
                  labels: np.ndarray | None = None) -> tuple[list, list]:
    """One window of ``scores`` judged by a merger; the first ``len(labels)`` labeled."""
    merger = WindowMerger(partitions=1, profiles=lambda n, v: profile,
                          baselines=lambda n, v: {"roc_auc": 0.83, "accuracy": 0.75},
                          policy=DriftPolicy(raise_after=1), idle_timeout=1e9, started=0.0)
    acc = PerformanceAccumulator()
    acc.add_predictions(len(scores), scores.tolist())
    if labels is not None:
        acc.update_many(scores[:len(labels)].tolist(), labels.tolist())
    share = Partial(kind="performance", partition=0, watermark=None, model_name="m",
                    model_version="1", window_start=0.0, window_end=300.0, performance=acc)
    beat = Partial(kind="watermark", partition=0, watermark=400.0,
                   performance_watermark=400.0)
    judged = merger.add(share, now=0.0) + merger.add(beat, now=0.0)
    events: list[DriftEvent] = [e for j in judged for e in j.events]
    return judged, events


def test_the_merger_raises_a_performance_estimate_event_when_the_estimate_drops() -> None:
    scores = np.random.default_rng(8).beta(6, 6, 3_000)
    judged, events = _judge_window(_profile(calibrated=True), scores)
    (window,) = [j for j in judged if j.kind == "performance"]
    assert window.estimate is not None and window.estimate.labeled == 0
    assert [e.kind for e in events] == ["performance-estimate"]
    assert {s.statistic for s in events[0].statistics} >= {"estimated_roc_auc"}


def test_a_drop_the_realized_metrics_raise_is_not_raised_again_by_the_estimate() -> None:
    rng = np.random.default_rng(8)
    scores = rng.beta(6, 6, 3_000)
    labels = (rng.random(2_900) < 0.5).astype(int)  # labels the scores know nothing of
    judged, events = _judge_window(_profile(calibrated=True), scores, labels)
    (window,) = [j for j in judged if j.kind == "performance"]
    assert window.estimate is not None and window.estimate.unlabeled == 100
    assert [e.kind for e in events] == ["performance"]


def test_a_version_without_calibration_gets_no_estimate() -> None:
    scores = np.random.default_rng(8).beta(6, 6, 3_000)
    judged, events = _judge_window(_profile(calibrated=False), scores)
    (window,) = [j for j in judged if j.kind == "performance"]
    assert window.estimate is None and events == []


def test_a_profile_written_before_calibration_still_loads_without_one() -> None:
    old = msgspec.json.encode(_profile(calibrated=False))
    data = msgspec.json.decode(old)
    data.pop("calibration")
    data["schema_version"] = 1
    profile = ReferenceProfile.from_json(msgspec.json.encode(data))
    assert profile.calibration is None and profile.schema_version == 1
    assert _profile(calibrated=True).schema_version == PROFILE_FORMAT


def test_the_retrainer_ignores_estimate_events_unless_its_policy_lists_them() -> None:
    assert "performance-estimate" not in DEFAULT_RETRAIN_KINDS


def test_two_mergers_given_the_same_partials_each_count_them_once() -> None:
    # a backtest gives every policy's merger the same partial objects
    profile = _profile(calibrated=False)
    rng = np.random.default_rng(3)
    shares = []
    for partition in (0, 1):
        acc = PerformanceAccumulator()
        scores = rng.random(300)
        acc.add_predictions(300, scores.tolist())
        acc.update_many(scores.tolist(), (rng.random(300) < scores).astype(int).tolist())
        shares.append(Partial(kind="performance", partition=partition, watermark=None,
                              model_name="m", model_version="1", window_start=0.0,
                              window_end=300.0, performance=acc))
    beats = [Partial(kind="watermark", partition=p, watermark=400.0, performance_watermark=400.0)
             for p in (0, 1)]
    mergers = [WindowMerger(partitions=2, profiles=lambda n, v: profile,
                            baselines=lambda n, v: {}, policy=DriftPolicy(),
                            idle_timeout=1e9, started=0.0) for _ in range(2)]
    judged: list[list] = [[], []]
    for partial in [*shares, *beats]:
        for i, merger in enumerate(mergers):
            judged[i] += merger.add(partial, now=0.0)
    for windows in judged:
        (window,) = [j for j in windows if j.kind == "performance"]
        assert window.performance.predictions == 600 and window.performance.labeled == 600
    assert shares[0].performance.labeled == 300  # the partial itself is left as it came
