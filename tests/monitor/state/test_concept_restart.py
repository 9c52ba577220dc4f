"""A partition killed mid-stream and resumed from its last checkpoint (snapshot and join
changelog) raises its concept detections at the same labeled pairs as a run without the
kill: the detectors' state is in the checkpoint, and the pairs after it are fed again in the
same order. Without a broker; the source loop's protocol, step by step."""

from __future__ import annotations

import json
import random

import pytest

from driftline.events import LabelEvent, PredictionEvent
from monitor.drift.concept import glr_threshold
from monitor.drift.windows import EventTimeWindows
from monitor.state.changelog import ChangelogStore
from monitor.state.join import decode_slot, encode_slot
from monitor.state.partition import PartitionConfig, PartitionState
from tests.monitor.state.test_changelog import compacted

CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=40, join_ttl=86_400,
                         join_retention=3_600)
T0 = 1_700_000_040.0


def _events(n: int, change_at: int, seed: int) -> list[tuple[str, int, object]]:
    """One partition's predictions (10 a second) and labels (30 s later), read in event-time
    order as the source loop's alignment applies them; the model gets much worse at
    ``change_at``."""
    rng = random.Random(seed)
    predictions, labels = [], []
    for i in range(n):
        t = T0 + i / 10.0
        label = int(rng.random() < 0.4)
        wrong = rng.random() < (0.1 if i < change_at else 0.45)
        score = 0.8 if (label == 1) != wrong else 0.2
        pid = f"p{i:06d}"
        predictions.append((t, "predictions", PredictionEvent(
            prediction_id=pid, event_time=t, model_name="credit-risk", model_version="1",
            features={"x": 1.0}, score=score, decision="LOW")))
        labels.append((t + 30.0, "labels", LabelEvent(prediction_id=pid, event_time=t + 30.0,
                                                      label=label)))
    merged = sorted(predictions + labels, key=lambda e: (e[0], e[1] == "labels"))
    offsets = {"predictions": 0, "labels": 0}
    out = []
    for _, topic, event in merged:
        out.append((topic, offsets[topic], event))
        offsets[topic] += 1
    return out


def _apply(state: PartitionState, batch) -> list:
    """Apply events as the source loop does; the detections they raise."""
    found = []
    for topic, offset, event in batch:
        apply = state.on_prediction if topic == "predictions" else state.on_label
        step = apply(event, topic, offset, close=False)
        found += state.detections(topic, step)
    state.close()
    return found


def _at(detections) -> list[tuple[float, int, list[str]]]:
    """Where each detection was raised: label time, the completing event's offset, and
    which detectors fired."""
    return [(d.event_time, d.evidence[0].last_offset, [s.statistic for s in d.detection])
            for d in detections]


def _no_profile(_name, _version):
    return None


@pytest.mark.parametrize("seed", range(4))
def test_a_partition_killed_mid_stream_detects_concept_drift_at_the_same_pair(seed):
    rng = random.Random(seed)
    events = _events(8_000, 4_000, seed)
    whole = _at(_apply(PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile),
                       events))
    assert whole, "no detection in the uninterrupted run"
    assert all(t >= T0 + 400.0 for t, _, _ in whole)  # after the change, not before

    # killed between the warm-up and the change, or after the first detections
    kill_at = rng.randint(len(events) // 3, 3 * len(events) // 4)
    state = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile)
    changelog, checkpoint, raised, i = [], None, [], 0
    while i < kill_at:
        end = min(i + rng.randint(100, 900), kill_at)
        raised += _apply(state, events[i:end])
        i = end
        if rng.random() < 0.5 and i < kill_at:  # a checkpoint round
            writes = state.join.store.take_writes()  # type: ignore[attr-defined]
            changelog += writes.records
            checkpoint = (state.snapshot(), len(raised))
            state.join.forget_halves(writes.keys)
    assert checkpoint is not None
    snapshot = PartitionState.decode_snapshot(checkpoint[0])
    assert snapshot.format == 3 and snapshot.concept  # the detectors are in it
    store = ChangelogStore.restore(compacted(changelog, rng), encode=encode_slot,
                                   decode=decode_slot)
    resumed = PartitionState(0, CONFIG, store, _no_profile, snapshot)
    starts = {t: snapshot.offsets.get(t, -1) + 1 for t in ("predictions", "labels")}
    again = _apply(resumed, [e for e in events if e[1] >= starts[e[0]]])

    # what was raised before the checkpoint, then everything after it: as without the kill
    assert _at(raised[:checkpoint[1]]) + _at(again) == whole


@pytest.mark.parametrize("old_format", [1, 2])
def test_a_checkpoint_of_an_older_format_restores_with_fresh_detectors(old_format):
    state = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile)
    _apply(state, _events(300, 300, 1))
    document = json.loads(state.snapshot())
    if old_format == 1:  # no concept detectors at all
        del document["concept"]
    else:  # ADWIN and Page-Hinkley's state, which the GLR scan cannot take over
        document["concept"] = {"credit-risk\t1": {
            "n": 150, "detections": {"adwin": 0, "page_hinkley": 0},
            "adwin": {"total": 12.0}, "page_hinkley": {"sum": 1.5}}}
    snapshot = PartitionState.decode_snapshot(
        json.dumps({**document, "format": old_format}).encode())
    restored = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile, snapshot)
    assert restored.offsets == state.offsets
    assert restored.detectors.versions() == []  # started afresh, with their warm-up
    with pytest.raises(ValueError, match="format 4"):
        PartitionState.decode_snapshot(json.dumps({**document, "format": 4}).encode())


def test_a_partition_gives_each_model_the_thresholds_of_its_contract_and_label_rate():
    contracts = {"strict": 0.1}
    config = PartitionConfig(EventTimeWindows(size=60, grace=5),
                             concept_false_alarms=lambda name: contracts.get(name, 1.0),
                             concept_label_rate=5.0, concept_warmup=10)
    state = PartitionState(0, config, ChangelogStore(encode_slot), _no_profile)
    assert state.detectors.get("strict", "1").glr_threshold == glr_threshold(0.1, 5.0)
    assert state.detectors.get("other", "2").glr_threshold == glr_threshold(1.0, 5.0)
    assert state.detectors.get("other", "2").warmup == 10
