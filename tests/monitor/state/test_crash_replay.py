"""A worker killed between writing its join changelog and its checkpoint, restored from an
older checkpoint and the newer changelog, and fed the rest of both topics in another
interleaving: every window's first share (the merger keeps the first) must equal an
uninterrupted run's. Without a broker; the source loop's protocol, step by step."""

from __future__ import annotations

import random

import pytest

from driftline.events import LabelEvent, PredictionEvent
from monitor.drift.windows import EventTimeWindows
from monitor.state.changelog import ChangelogStore
from monitor.state.join import decode_slot, encode_slot
from monitor.state.partition import PartitionConfig, PartitionState
from producers.generator import LoanGenerator
from tests.monitor.state.test_changelog import compacted

# A few slots a segment: segments die and get tombstones all through a run
SEGMENT = 3_000
def _store() -> ChangelogStore:
    return ChangelogStore(encode_slot, segment_bytes=SEGMENT)


CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=40, join_ttl=86_400,
                         join_retention=3_600)


def _topics(n: int) -> dict[str, list]:
    """The integration test's traffic on one partition: 10 predictions per second of event
    time, labels 30 s later, every 4th label written before its prediction, every 10th
    label twice."""
    batch = LoanGenerator(5).sample(n)
    predictions, labels = [], []
    for i, (row, y, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                        batch.probabilities.tolist(), strict=True)):
        t = 1_700_000_040.0 + i / 10.0
        pid = f"p{i:06d}"
        predictions.append(PredictionEvent(prediction_id=pid, event_time=t,
                                           model_name="credit-risk", model_version="1",
                                           features=row, score=p, decision="LOW"))
        label = LabelEvent(prediction_id=pid, event_time=t + 30.0, label=y)
        labels.append(label)
        if i % 10 == 0:
            labels.append(label)
    return {"predictions": predictions, "labels": labels}


def _interleave(topics: dict[str, list], starts: dict[str, int], rng: random.Random,
                chunk: int) -> list[tuple[str, int, object]]:
    """Both topics from ``starts`` in fetch-like runs of up to ``chunk`` messages, the
    topic of each run chosen at random (each topic stays in offset order)."""
    pos = dict(starts)
    out = []
    while any(pos[t] < len(topics[t]) for t in topics):
        live = [t for t in topics if pos[t] < len(topics[t])]
        topic = rng.choice(live)
        for _ in range(rng.randint(1, chunk)):
            if pos[topic] >= len(topics[topic]):
                break
            out.append((topic, pos[topic], topics[topic][pos[topic]]))
            pos[topic] += 1
    return out


def _apply(state: PartitionState, batch) -> list:
    for topic, offset, event in batch:
        if topic == "predictions":
            state.on_prediction(event, topic, offset, close=False)
        else:
            state.on_label(event, topic, offset, close=False)
    return state.close()


def _shares(partials) -> dict[tuple[str, float], tuple]:
    """Each window's first share, as the merger keeps it."""
    out: dict[tuple[str, float], tuple] = {}
    for p in partials:
        key = (p.kind, p.window_start)
        if p.kind == "drift":
            out.setdefault(key, (p.drift.rows,))
        elif p.kind == "performance":
            out.setdefault(key, (p.performance.predictions, p.performance.labeled,
                                 p.performance.tp, p.performance.fn))
    return out


def _profile(loan_profile):
    return lambda name, version: loan_profile


@pytest.mark.parametrize("back", [1, 3], ids=["last-checkpoint", "an-older-checkpoint"])
@pytest.mark.parametrize("order", ["same", "other"], ids=["read-alike", "read-otherwise"])
@pytest.mark.parametrize("seed", range(6))
def test_a_kill_between_changelog_and_checkpoint_loses_and_doubles_nothing(
    loan_profile, seed, back, order
):
    rng = random.Random(seed)
    topics = _topics(3_000)
    profiles = _profile(loan_profile)

    whole = PartitionState(0, CONFIG, _store(), profiles)
    expected = _shares(_apply(whole, _interleave(topics, {"predictions": 0, "labels": 0},
                                                 random.Random(99), 400)))

    # The first worker: batches of fetch runs, a checkpoint round every few batches.
    state = PartitionState(0, CONFIG, _store(), profiles)
    changelog: list[tuple[bytes, bytes | None]] = []
    checkpoints: list[bytes] = []
    emitted = []
    events = _interleave(topics, {"predictions": 0, "labels": 0}, rng, 400)
    kill_at = rng.randint(len(events) // 4, 3 * len(events) // 4)
    i, rounds = 0, 0
    while i < kill_at:
        size = rng.randint(50, 800)
        emitted += _apply(state, events[i:min(i + size, kill_at)])
        i = min(i + size, kill_at)
        rounds += 1
        if rounds % rng.randint(1, 3) == 0 or i >= kill_at:
            state.expire()
            writes = state.join.store.take_writes()  # type: ignore[attr-defined]
            changelog += writes.records
            if i >= kill_at:
                break  # killed after the changelog was acknowledged, before the checkpoint
            checkpoints.append(state.snapshot())
            state.join.forget_halves(writes.keys)
    assert checkpoints, "the kill came before any checkpoint"
    back = min(back, len(checkpoints))

    # The next owner: the newer changelog, an older checkpoint (the last, or one before it:
    # any checkpoint is a consistent point to resume from), the rest read anew.
    snapshot = PartitionState.decode_snapshot(checkpoints[-back])
    store = ChangelogStore.restore(compacted(changelog, rng), encode=encode_slot,
                                   decode=decode_slot)
    resumed = PartitionState(0, CONFIG, store, profiles, snapshot)
    starts = {t: snapshot.offsets.get(t, -1) + 1 for t in topics}
    if order == "same":  # both topics read again in the order they were read before
        rest = [e for e in events if e[1] >= starts[e[0]]]
    else:
        rest = _interleave(topics, starts, rng, 400)
    for j in range(0, len(rest), 500):
        emitted += _apply(resumed, rest[j:j + 500])

    assert _shares(emitted) == expected


@pytest.mark.parametrize("seed", range(8))
def test_predictions_expiring_after_the_checkpoint_are_expired_once_after_the_restart(
    loan_profile, seed
):
    # A short TTL and retention, labels that never come, predictions that never come and
    # labels sent again long after their pair's tombstone is gone: predictions and orphan
    # labels expire and tombstones are deleted all along, some between the checkpoint and
    # the kill. Read again in the same order, the run must end with the counts of the
    # uninterrupted run (each expiry counted once, each deletion seen the same way).
    config = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=40, join_ttl=40,
                             join_retention=30)
    rng = random.Random(seed)
    topics = _topics(2_000)
    topics["labels"] = [e for e in topics["labels"] if int(e.prediction_id[1:]) % 7]
    topics["predictions"] = [e for e in topics["predictions"] if int(e.prediction_id[1:]) % 11]
    for i in range(0, len(topics["labels"]) - 600, 50):  # again, 60-70 s of labels later
        topics["labels"].insert(i + 600, topics["labels"][i])
    events = _interleave(topics, {"predictions": 0, "labels": 0}, rng, 40)
    profiles = _profile(loan_profile)

    def run(batches, state, changelog=None, checkpoints=None, kill_at=None):
        emitted, i, rounds = [], 0, 0
        end = len(batches) if kill_at is None else kill_at
        while i < end:
            size = rng.randint(50, 400)
            emitted += _apply(state, batches[i:min(i + size, end)])
            i = min(i + size, end)
            rounds += 1
            if changelog is not None and (rounds % 2 == 0 or i >= end):
                state.expire()
                writes = state.join.store.take_writes()
                changelog += writes.records
                if kill_at is not None and i >= end:
                    break
                checkpoints.append(state.snapshot())
                state.join.forget_halves(writes.keys)
        return emitted

    whole = PartitionState(0, config, _store(), profiles)
    expected = _shares(run(events, whole))
    whole.expire()

    first = PartitionState(0, config, _store(), profiles)
    changelog, checkpoints = [], []
    emitted = run(events, first, changelog, checkpoints,
                  kill_at=rng.randint(len(events) // 3, 2 * len(events) // 3))
    snapshot = PartitionState.decode_snapshot(checkpoints[-1])
    resumed = PartitionState(0, config, ChangelogStore.restore(
        compacted(changelog, rng), encode=encode_slot, decode=decode_slot), profiles, snapshot)
    rest = [e for e in events if e[1] > snapshot.offsets.get(e[0], -1)]
    emitted += run(rest, resumed)
    resumed.expire()

    counts = whole.join.counts
    assert counts.expired_predictions and counts.expired_labels and counts.duplicate_labels
    assert resumed.join.counts == whole.join.counts
    assert _shares(emitted) == expected
