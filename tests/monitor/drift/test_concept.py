"""Concept detectors: increases only, warm-up, and snapshots that resume identically."""

from __future__ import annotations

import random

from monitor.drift.concept import ConceptDriftDetector


def stream(seed: int, n: int, change_at: int, before: float, after: float):
    rng = random.Random(seed)
    for i in range(n):
        wrong = rng.random() < (before if i < change_at else after)
        label = int(rng.random() < 0.4)
        confident = 0.55 + 0.4 * rng.random()
        score = (1 - confident) if (label == 1) == wrong else confident
        yield score, label


def alarms(detector: ConceptDriftDetector, events) -> list[tuple[int, str]]:
    return [(i, name) for i, (s, y) in enumerate(events) for name in detector.update(s, y)]


def test_a_worse_model_is_detected_soon_after_the_change():
    found = alarms(ConceptDriftDetector(), stream(1, 8000, 4000, 0.1, 0.35))
    assert found, "no detection"
    assert 4000 <= found[0][0] < 4400
    assert all(i >= 4000 for i, _ in found)


def test_a_better_model_raises_nothing():
    assert alarms(ConceptDriftDetector(), stream(2, 8000, 4000, 0.35, 0.1)) == []


def test_no_alarm_during_warmup():
    # The change at 500 falls in the warm-up: ADWIN adapts to it then, silently, and a model
    # that is bad from its first labels is left to the performance check against its baseline.
    assert alarms(ConceptDriftDetector(warmup=3000), stream(3, 6000, 500, 0.05, 0.6)) == []
    found = alarms(ConceptDriftDetector(warmup=100), stream(3, 6000, 500, 0.05, 0.6))
    assert found and 500 <= found[0][0] < 700


def test_a_detection_says_from_which_error_rate_it_rose():
    events = list(stream(1, 8000, 4000, 0.1, 0.35))
    fired = ConceptDriftDetector().update_many([s for s, _ in events], [y for _, y in events])
    adwin = [d for d in fired if "adwin" in d.detectors]
    assert adwin, "no ADWIN detection"
    first = adwin[0]
    # before the cut: the whole window, mostly the old regime (0.1); after it: less of it
    assert 0.05 < first.error_rate_before < 0.15
    assert first.error_rate > first.error_rate_before
