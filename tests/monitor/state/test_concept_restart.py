"""A partition killed mid-stream and resumed from its last checkpoint (snapshot and join
changelog), with the merger restarted on its stored state and every partial read again,
raises its concept detections at the same bucket, label time and evidence as a run without
the kill: the open error buckets are in the checkpoint, the pooled detector's state in the
merger's store, and shares sent again are dropped. Without a broker; the source loop's and
the publisher's protocol, step by step."""

from __future__ import annotations

import json
import random

import pytest

from driftline.events import LabelEvent, PredictionEvent
from monitor.drift.windows import EventTimeWindows
from monitor.merging.concept import ConceptParams
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.changelog import ChangelogStore
from monitor.state.join import decode_slot, encode_slot
from monitor.state.partition import Partial, PartitionConfig, PartitionState
from tests.monitor.state.test_changelog import compacted

CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=40, join_ttl=86_400,
                         join_retention=3_600)
T0 = 1_700_000_040.0
PARAMS = ConceptParams(label_rate=10.0, warmup=1000)


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


def _apply(state: PartitionState, batch) -> list[Partial]:
    """Apply events as the source loop does; the partials it sends."""
    sent = []
    for topic, offset, event in batch:
        apply = state.on_prediction if topic == "predictions" else state.on_label
        step = apply(event, topic, offset, close=False)
        sent += state.error_shares(topic, step)
    return sent + state.close()


def _merger(store: dict) -> WindowMerger:
    """A publisher's merger over ``store`` (its faust table: policy, concept state)."""
    return WindowMerger(partitions=1, profiles=_no_profile, concept_params=PARAMS,
                        policy=DriftPolicy(store=store.setdefault("policy", {})),
                        judged=store.setdefault("judged", {}),
                        concept=store.setdefault("concept", {}))


def _raised(merger: WindowMerger, partials: list[Partial]) -> list[tuple]:
    """The concept events the partials raise: label time, evidence."""
    out = []
    for partial in partials:
        for judged in merger.add(partial, now=0.0):
            out += [(e.event_time, e.evidence) for e in judged.events if e.kind == "concept"]
    return out


def _unacked(merger: WindowMerger, sent: list[Partial]) -> list[Partial]:
    """What a restarted publisher reads again: every partial from the first one not done
    (a window share not judged, error buckets not fed), as it acknowledges in order."""
    for i, partial in enumerate(sent):
        done = (merger.concept.is_fed(partial.model_name, partial.model_version,
                                      partial.partition, partial.buckets or [])
                if partial.kind == "errors" else
                partial.kind == "watermark" or merger.is_judged(partial))
        if not done:
            return sent[i:]
    return []


def _no_profile(_name, _version):
    return None


@pytest.mark.parametrize("seed", range(4))
def test_a_partition_killed_mid_stream_detects_concept_drift_at_the_same_bucket(seed):
    rng = random.Random(seed)
    events = _events(8_000, 4_000, seed)
    whole_state = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile)
    whole = _raised(_merger({}), _apply(whole_state, events))
    assert whole, "no concept event in the uninterrupted run"
    assert all(t >= T0 + 430.0 for t, _ in whole)  # labels after the change, not before

    # killed between the warm-up and the change, or after the first detections
    kill_at = rng.randint(len(events) // 3, 3 * len(events) // 4)
    state = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile)
    store: dict = {}
    merger = _merger(store)
    changelog, checkpoint, sent, raised, i = [], None, [], [], 0
    while i < kill_at:
        end = min(i + rng.randint(100, 900), kill_at)
        batch = _apply(state, events[i:end])
        sent += batch
        raised += _raised(merger, batch)
        i = end
        if rng.random() < 0.5 and i < kill_at:  # a checkpoint round
            writes = state.join.store.take_writes()  # type: ignore[attr-defined]
            changelog += writes.records
            checkpoint = state.snapshot()
            state.join.forget_halves(writes.keys)
    assert checkpoint is not None
    snapshot = PartitionState.decode_snapshot(checkpoint)
    assert snapshot.format == 4
    store_ = ChangelogStore.restore(compacted(changelog, rng), encode=encode_slot,
                                    decode=decode_slot)
    resumed = PartitionState(0, CONFIG, store_, _no_profile, snapshot)
    starts = {t: snapshot.offsets.get(t, -1) + 1 for t in ("predictions", "labels")}
    # the publisher restarts too: it reads again what it had not acknowledged, then what the
    # resumed partition sends again and anew
    again = _unacked(merger, sent)
    merger = _merger(store)
    raised += _raised(merger, again)
    raised += _raised(merger, _apply(resumed, [e for e in events if e[1] >= starts[e[0]]]))

    assert raised == whole
    assert merger.concept.duplicates > 0  # what was sent again was dropped


@pytest.mark.parametrize("old_format", [1, 2, 3])
def test_a_checkpoint_of_an_older_format_restores_with_fresh_error_buckets(old_format):
    state = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile)
    _apply(state, _events(300, 300, 1))
    document = json.loads(state.snapshot())
    assert document["errors"]["through"] is not None
    del document["errors"]
    if old_format == 2:  # ADWIN and Page-Hinkley's state of the partition's own detectors
        document["concept"] = {"credit-risk\t1": {
            "n": 150, "detections": {"adwin": 0, "page_hinkley": 0},
            "adwin": {"total": 12.0}, "page_hinkley": {"sum": 1.5}}}
    elif old_format == 3:  # the partition's own GLR detectors
        document["concept"] = {"credit-risk\t1": {"n": 150, "detections": {"glr": 0}}}
    snapshot = PartitionState.decode_snapshot(
        json.dumps({**document, "format": old_format}).encode())
    restored = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile, snapshot)
    assert restored.offsets == state.offsets
    assert restored.error_buckets.state().open == {}  # started afresh
    assert restored.error_buckets.through is None
    with pytest.raises(ValueError, match="format 5"):
        PartitionState.decode_snapshot(json.dumps({**document, "format": 5}).encode())
