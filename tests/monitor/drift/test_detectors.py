"""The plain-data ADWIN and Page-Hinkley decide exactly as river's, and a detector restored
from its JSON state at any point goes on exactly as one never stopped."""

from __future__ import annotations

import random

import msgspec
import pytest
from river import drift

from monitor.drift.concept import ConceptDetectors, ConceptState
from monitor.drift.detectors import Adwin, AdwinState, PageHinkley, PageHinkleyState

PH = {"min_instances": 30, "delta": 0.05, "threshold": 100.0, "alpha": 0.9999, "mode": "up"}


def errors_and_losses(seed: int, n: int = 12_000):
    """A 0/1 error stream whose rate moves up and down, and a loss per event."""
    rng = random.Random(seed)
    rates = [0.1, 0.35, 0.05, 0.3]
    for i in range(n):
        wrong = int(rng.random() < rates[(i * len(rates)) // n])
        yield wrong, rng.random() * (3.0 if wrong else 0.5)


@pytest.mark.parametrize("seed", range(6))
def test_adwin_and_page_hinkley_answer_exactly_as_rivers(seed):
    ours, theirs = Adwin(), drift.ADWIN()
    ph, river_ph = PageHinkley(**PH), drift.PageHinkley(**PH)
    cuts = alarms = 0
    for error, loss in errors_and_losses(seed):
        theirs.update(error)
        river_ph.update(loss)
        assert ours.update(error) == theirs.drift_detected
        assert (ours.width, ours.estimation) == (theirs.width, theirs.estimation)
        assert ph.update(loss) == river_ph.drift_detected
        cuts += ours.drift_detected
        alarms += ph.drift_detected
    assert cuts and alarms  # the streams exercise both


def _json(value, kind):
    return msgspec.json.decode(msgspec.json.encode(value), type=kind)


def test_detectors_restored_from_json_at_any_point_go_on_identically():
    stream = list(errors_and_losses(7, 6000))
    whole_adwin, whole_ph = Adwin(), PageHinkley(**PH)
    adwin, ph = Adwin(), PageHinkley(**PH)
    for i, (error, loss) in enumerate(stream):
        if i % 97 == 0:
            adwin = Adwin.from_state(_json(adwin.state(), AdwinState))
            ph = PageHinkley.from_state(_json(ph.state(), PageHinkleyState), **PH)
        assert adwin.update(error) == whole_adwin.update(error)
        assert adwin.estimation == whole_adwin.estimation
        assert ph.update(loss) == whole_ph.update(loss)


def test_concept_detectors_restored_mid_stream_fire_at_the_same_pairs():
    rng = random.Random(3)
    pairs = []
    for i in range(8000):
        label = int(rng.random() < 0.4)
        wrong = rng.random() < (0.1 if i < 4000 else 0.4)
        score = 0.8 if (label == 1) != wrong else 0.2
        pairs.append((score, label))

    def run(stop_at: int | None) -> list[tuple[int, list[str]]]:
        dets, fired = ConceptDetectors(warmup=500), []
        for start in range(0, len(pairs), 250):
            if stop_at is not None and start == stop_at:
                states = _json(dets.state(), dict[str, ConceptState])
                dets = ConceptDetectors(warmup=500)
                dets.restore(states)
            chunk = pairs[start:start + 250]
            found = dets.update_many("credit-risk", "1", [s for s, _ in chunk],
                                     [y for _, y in chunk])
            fired += [(start + d.index, d.detectors) for d in found]
        return fired

    whole = run(None)
    assert whole and whole[0][0] >= 4000
    for stop_at in (250, 4000, 4250, 6000):
        assert run(stop_at) == whole
