"""Severity weighed by the model's feature importance, and the drivers an event names."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from driftline.events import DriftEvent, Driver, decode, encode
from driftline.model.importance import importance_shares
from driftline.profile import ReferenceProfile, build_profile, with_importance
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.windows import Window
from monitor.merging.policy import DriftPolicy

NAMES = ["decisive", "noise", "channel"]


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    """A model that leans on ``decisive`` and ignores ``noise`` and ``channel``, profiled
    with the importance shares measured on its holdout."""
    rng = np.random.default_rng(11)
    rows = 6000
    x = rng.normal(size=(rows, 2))
    channel = rng.choice(["web", "mobile"], rows)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-3.0 * x[:, 0]))).astype(int)
    model = LogisticRegression().fit(x[:4000], y[:4000])
    holdout = np.column_stack([x[4000:], rng.random(2000)])  # channel: unused by the model

    class Served:  # the model as served: three columns, the third ignored
        classes_ = model.classes_

        def fit(self, *_):
            return self

        def predict_proba(self, rows):
            return model.predict_proba(np.asarray(rows, dtype=float)[:, :2])

    shares = importance_shares(Served(), holdout, y[4000:], NAMES)
    base = build_profile({"decisive": x[:4000, 0], "noise": x[:4000, 1],
                          "channel": channel[:4000]},
                         model.predict_proba(x[:4000])[:, 1],
                         numeric=["decisive", "noise"], categorical=["channel"])
    return with_importance(base, shares)


def _window(profile: ReferenceProfile, shift: dict[str, float], start: float):
    rng = np.random.default_rng(int(start) + 1)
    acc = WindowAccumulator(profile, Window(start, start + 300.0))
    for i in range(3000):
        row = {"decisive": float(rng.normal(shift.get("decisive", 0.0))),
               "noise": float(rng.normal(shift.get("noise", 0.0))),
               "channel": str(rng.choice(["web", "mobile"]))}
        acc.update(row, score=0.5, evidence=("predictions", 0, int(start) + i))
    return acc.evaluate()


def _covariate(profile: ReferenceProfile, shift: dict[str, float]) -> DriftEvent:
    policy = DriftPolicy(raise_after=2)
    events = [e for t in (0.0, 300.0) for e in policy.observe_window(_window(profile, shift, t))
              if e.kind == "covariate"]
    assert len(events) == 1, events
    return events[0]


def test_the_measured_importance_gives_the_ignored_features_about_nothing(profile):
    assert profile.importance is not None
    assert profile.importance["decisive"] > 0.95
    assert profile.importance["noise"] < 0.01 and profile.importance["channel"] < 0.01


def test_huge_drift_on_only_an_ignored_feature_is_low_and_names_it(profile):
    event = _covariate(profile, {"noise": 4.0})
    assert event.severity == "low"
    (driver,) = event.drivers
    assert driver.feature == "noise" and driver.severity == "low"
    assert driver.importance is not None and driver.importance < 0.01
    assert driver.effect > 4.0  # PSI far past four times its threshold: "high" unweighed


def test_drift_on_the_feature_the_model_relies_on_is_high(profile):
    policy = DriftPolicy(raise_after=2)
    events = policy.observe_window(_window(profile, {"decisive": 2.0, "noise": 4.0}, 0.0))
    (event,) = [e for e in events if e.kind == "covariate"]  # high: raised at once
    assert event.severity == "high"
    assert [d.feature for d in event.drivers] == ["decisive", "noise"]
    assert [d.severity for d in event.drivers] == ["high", "low"]


def test_a_profile_without_importance_keeps_the_effect_severity(profile):
    older = msgspec.structs.replace(profile, importance=None, schema_version=2)
    policy = DriftPolicy(raise_after=2)
    events = policy.observe_window(_window(older, {"noise": 4.0}, 0.0))
    (event,) = [e for e in events if e.kind == "covariate"]  # high unweighed: at once
    assert event.severity == "high"
    assert [(d.feature, d.importance, d.severity) for d in event.drivers] == [
        ("noise", None, "high")]


def _dataset(report, threshold: float = 0.1) -> DriftEvent:
    """The dataset event of ``report`` judged against a share ``threshold``."""
    rules = msgspec.structs.replace(report, dataset_threshold=threshold, dataset_drifted=True)
    (event,) = [e for e in DriftPolicy(raise_after=1).observe_window(rules)
                if e.kind == "dataset"]
    return event


def test_a_dataset_event_is_capped_by_the_drifted_features_summed_importance(profile):
    ignored = _window(profile, {"noise": 4.0}, 0.0)  # a third drifted: 3.3 x 0.1
    assert _dataset(msgspec.structs.replace(ignored, importance=None)).severity == "medium"
    event = _dataset(ignored)
    assert event.severity == "low" and [d.feature for d in event.drivers] == ["noise"]
    relied = _window(profile, {"decisive": 2.0, "noise": 4.0}, 0.0)  # two thirds: 6.7 x 0.1
    assert _dataset(relied).severity == "high"


def test_prediction_events_are_not_weighed_or_attributed(profile):
    policy = DriftPolicy(raise_after=1)
    report = _window(profile, {"noise": 4.0}, 0.0)
    (prediction,) = [e for e in policy.observe_window(report) if e.kind == "prediction"]
    assert prediction.drivers == []
    assert prediction.severity == "high"  # every score 0.5: far from the reference's


def test_an_event_with_drivers_round_trips_and_an_older_one_decodes_without():
    event = _covariate_plain()
    assert decode(DriftEvent, encode(event)) == event
    data = msgspec.json.decode(encode(event))
    data.pop("drivers")
    assert decode(DriftEvent, msgspec.json.encode(data)).drivers == []


def _covariate_plain() -> DriftEvent:
    return DriftEvent(event_id="e", event_time=1.0, model_name="m", model_version="1",
                      kind="covariate", severity="low", window_start=0.0, window_end=1.0,
                      drivers=[Driver(feature="noise", effect=21.0, importance=0.001,
                                      severity="low")])
