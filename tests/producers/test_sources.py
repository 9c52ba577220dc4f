"""river's benchmark streams as sources: their own schemas, a concept switch at the onset."""

from __future__ import annotations

import numpy as np
import pytest

from producers.delays import Fixed, LabelDelays
from producers.scenarios import parse_scenario
from producers.sources import AGRAWAL, SEA, parse_source
from producers.traffic import Traffic

# SEA's thresholds on x0 + x1 for variants 0..3 (label 1 when the sum is above the threshold)
SEA_THRESHOLDS = {0: 8.0, 1: 9.0, 2: 7.0, 3: 9.5}


def _traffic(scenario: str, source: str, n: int) -> list:
    return Traffic(
        parse_scenario(scenario), LabelDelays(Fixed(1.0)), seed=4, per_second=10.0,
        source=source,
    ).take(n)


def test_sea_switches_its_threshold_at_the_onset():
    apps = _traffic("stable:100s,concept-flip", "sea:variant=0:to=3", 2_000)
    for app in apps:
        total = app.features["x0"] + app.features["x1"]
        threshold = SEA_THRESHOLDS[0 if app.sim_time < 100 else 3]
        assert app.label == int(total > threshold)


def test_sea_gradual_switch_mixes_both_concepts():
    apps = _traffic("stable:100s,concept-flip:gradual=100s", "sea:variant=0:to=3", 3_000)
    middle = [a for a in apps if 140 <= a.sim_time < 160]

    def fits(app, variant):
        return app.label == int(app.features["x0"] + app.features["x1"] > SEA_THRESHOLDS[variant])

    ambiguous = [a for a in middle if fits(a, 0) != fits(a, 3)]
    share_new = np.mean([fits(a, 3) for a in ambiguous])
    assert 0.2 < share_new < 0.8


def test_agrawal_rows_follow_its_schema():
    apps = _traffic("stable:50s,concept-flip", "agrawal:function=0:to=4", 1_000)
    numeric = {f.name: f for f in AGRAWAL.numeric}
    categorical = {f.name: f for f in AGRAWAL.categorical}
    for app in apps:
        assert set(app.features) == set(AGRAWAL.names)
        for name, value in app.features.items():
            if name in numeric:
                assert numeric[name].minimum <= value <= numeric[name].maximum, name
            else:
                assert value in categorical[name].categories, name
        assert app.label in (0, 1)


def test_agrawal_concept_switch_changes_the_labels_not_the_features():
    apps = _traffic("stable:100s,concept-flip", "agrawal:function=0:to=4", 2_000)
    before = [a for a in apps if a.sim_time < 100]
    after = [a for a in apps if a.sim_time >= 100]
    ages = [np.array([a.features["age"] for a in part]) for part in (before, after)]
    assert abs(ages[0].mean() - ages[1].mean()) < 3.0
    # Function 0 labels by age alone (class 0 exactly when 40 <= age < 60): the age band
    # decides every label before the switch, and no longer after it.
    def purity(part):
        labels = np.array([a.label for a in part])
        age = np.array([a.features["age"] for a in part])
        band = (age >= 40) & (age < 60)
        return max(labels[band].mean(), 1 - labels[band].mean()), max(
            labels[~band].mean(), 1 - labels[~band].mean()
        )
    assert min(purity(before)) == 1.0
    assert min(purity(after)) < 0.95


def test_source_specs_are_checked():
    assert parse_source("sea").schema is SEA
    with pytest.raises(ValueError, match=r"agrawal: classification functions are 0\.\.9"):
        parse_source("agrawal:function=12")
    with pytest.raises(ValueError, match="unexpected 'variant=1'; agrawal takes"):
        parse_source("agrawal:variant=1")
    with pytest.raises(ValueError, match="to must be a number"):
        parse_source("sea:to=x")
