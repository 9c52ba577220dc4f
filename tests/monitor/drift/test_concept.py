"""Concept detectors: increases only, warm-up, the contract's threshold per model, and
snapshots that resume identically."""

from __future__ import annotations

import random

import msgspec
import pytest

from monitor.drift.concept import ConceptDriftDetector, ConceptState


def stream(seed: int, n: int, change_at: int, before: float, after: float):
    rng = random.Random(seed)
    for i in range(n):
        wrong = rng.random() < (before if i < change_at else after)
        label = int(rng.random() < 0.4)
        confident = 0.55 + 0.4 * rng.random()
        score = (1 - confident) if (label == 1) == wrong else confident
        yield score, label


def alarms(detector: ConceptDriftDetector, events) -> list[int]:
    events = list(events)
    found = detector.update_many([s for s, _ in events], [y for _, y in events])
    return [d.index for d in found]


def test_a_worse_model_is_detected_soon_after_the_change():
    found = alarms(ConceptDriftDetector(), stream(1, 8000, 4000, 0.1, 0.35))
    assert found, "no detection"
    assert 4000 <= found[0] < 4300
    assert all(i >= 4000 for i in found)


def test_a_better_model_raises_nothing():
    assert alarms(ConceptDriftDetector(), stream(2, 8000, 4000, 0.35, 0.1)) == []


def test_no_alarm_during_warmup():
    # The change at 500 falls in the warm-up; once armed, the scan compares the later
    # events with the warm-up's, so a model bad from nearly its first labels is still found
    assert alarms(ConceptDriftDetector(warmup=6000), stream(3, 6000, 500, 0.05, 0.6)) == []
    found = alarms(ConceptDriftDetector(warmup=100), stream(3, 6000, 500, 0.05, 0.6))
    assert found and 500 <= found[0] < 600


def test_a_detection_says_from_which_error_rate_it_rose():
    events = list(stream(1, 8000, 4000, 0.1, 0.35))
    fired = ConceptDriftDetector().update_many([s for s, _ in events], [y for _, y in events])
    assert fired, "no detection"
    first = fired[0]
    assert first.detectors == ["glr"]
    assert 0.08 < first.error_rate_before < 0.12  # the older part: the old regime
    assert first.error_rate > 0.3  # the newer part: the new one


def test_a_stricter_contract_or_more_labels_raise_the_threshold():
    base = ConceptDriftDetector()
    assert ConceptDriftDetector(false_alarms=0.1).glr_threshold > base.glr_threshold
    assert ConceptDriftDetector(label_rate=20.0).glr_threshold > base.glr_threshold
    assert ConceptDriftDetector(false_alarms=8.0).glr_threshold < base.glr_threshold


def test_scores_and_labels_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        ConceptDriftDetector().update_many([0.1, 0.2, 0.3], [0, 1])


def _json(value, kind):
    return msgspec.json.decode(msgspec.json.encode(value), type=kind)


def test_concept_detectors_restored_mid_stream_fire_at_the_same_pairs():
    rng = random.Random(3)
    pairs = []
    for i in range(8000):
        label = int(rng.random() < 0.4)
        wrong = rng.random() < (0.1 if i < 4000 else 0.4)
        score = 0.8 if (label == 1) != wrong else 0.2
        pairs.append((score, label))

    def run(stop_at: int | None) -> list[tuple[int, list[str], float]]:
        det, fired = ConceptDriftDetector(warmup=500), []
        for start in range(0, len(pairs), 250):
            if stop_at is not None and start == stop_at:
                state = _json(det.state(), ConceptState)
                det = ConceptDriftDetector(warmup=500)
                det.restore(state)
            chunk = pairs[start:start + 250]
            found = det.update_many([s for s, _ in chunk], [y for _, y in chunk])
            fired += [(start + d.index, d.detectors, d.error_rate) for d in found]
        return fired

    whole = run(None)
    assert whole and whole[0][0] >= 4000
    for stop_at in (250, 4000, 4250, 6000):
        assert run(stop_at) == whole


def test_errors_fed_directly_fire_as_their_scores_and_labels_do():
    events = list(stream(5, 6000, 3000, 0.1, 0.4))
    scores, labels = [s for s, _ in events], [y for _, y in events]
    errors = [int((s >= 0.5) != bool(y)) for s, y in events]
    by_pairs = ConceptDriftDetector(warmup=200).update_many(scores, labels)
    assert by_pairs and ConceptDriftDetector(warmup=200).update_errors(errors) == by_pairs


def test_one_pair_at_a_time_fires_as_a_batch():
    events = list(stream(4, 6000, 3000, 0.1, 0.4))
    batch = ConceptDriftDetector(warmup=200)
    found = [(d.index, d.detectors, d.error_rate)
             for d in batch.update_many([s for s, _ in events], [y for _, y in events])]
    single = ConceptDriftDetector(warmup=200)
    one_by_one = [(i, names, single.error_rate) for i, (s, y) in enumerate(events)
                  if (names := single.update(s, y))]
    assert found and found == one_by_one
    assert single.state() == batch.state()
