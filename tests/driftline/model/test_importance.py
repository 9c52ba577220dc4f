"""Permutation-importance shares of a model version, and their place in the profile."""

from __future__ import annotations

import msgspec
import numpy as np
from sklearn.linear_model import LogisticRegression

from driftline.model.importance import importance_shares
from driftline.profile import PROFILE_FORMAT, ReferenceProfile, build_profile, with_importance


def _seeded(rows: int = 4000):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(rows, 3))  # decisive, weak, pure noise
    logit = 3.0 * x[:, 0] + 0.4 * x[:, 1]
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    return LogisticRegression().fit(x, y), x, y


def test_a_pure_noise_feature_gets_about_no_share_and_a_decisive_one_most():
    model, x, y = _seeded()
    shares = importance_shares(model, x, y, ["decisive", "weak", "noise"])
    assert shares is not None
    assert abs(sum(shares.values()) - 1.0) < 1e-9
    assert shares["noise"] < 0.01
    assert shares["decisive"] > 0.85
    assert shares["decisive"] > shares["weak"] > shares["noise"]


def test_shares_are_the_same_on_a_second_run():
    model, x, y = _seeded()
    names = ["decisive", "weak", "noise"]
    assert importance_shares(model, x, y, names) == importance_shares(model, x, y, names)


def test_rows_past_the_cap_are_sampled_and_shares_stay_close():
    model, x, y = _seeded(rows=6000)
    names = ["decisive", "weak", "noise"]
    capped = importance_shares(model, x, y, names, max_rows=2000)
    full = importance_shares(model, x, y, names, max_rows=6000)
    assert capped is not None and full is not None
    assert abs(capped["decisive"] - full["decisive"]) < 0.05


def test_labels_of_one_class_give_no_importance():
    model, x, _ = _seeded()
    assert importance_shares(model, x, np.zeros(len(x), dtype=int), ["a", "b", "c"]) is None


def test_the_served_positive_column_is_scored_when_it_is_not_the_second():
    _, x, y = _seeded()
    named = LogisticRegression().fit(x, np.where(y == 1, "1", "no"))  # classes_: "1", "no"
    shares = importance_shares(named, x, y, ["decisive", "weak", "noise"])
    assert shares is not None and shares["decisive"] > 0.85


def _profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    return build_profile({"x": rng.normal(size=200), "c": np.array(["a", "b"] * 100)},
                         rng.random(200), numeric=["x"], categorical=["c"])


def test_a_profile_with_importance_round_trips_through_json():
    profile = with_importance(_profile(), {"x": 0.75, "c": 0.25})
    assert profile.schema_version == PROFILE_FORMAT == 3
    assert ReferenceProfile.from_json(profile.to_json()) == profile


def test_a_profile_written_before_importance_still_loads_without_one():
    data = msgspec.json.decode(_profile().to_json())
    data.pop("importance")
    data["schema_version"] = 2
    profile = ReferenceProfile.from_json(msgspec.json.encode(data))
    assert profile.importance is None and profile.schema_version == 2
