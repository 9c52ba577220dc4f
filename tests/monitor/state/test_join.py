"""The prediction/label join as a state machine: order, duplicates, expiry, restart."""

from __future__ import annotations

import random

import msgspec
import pytest

from driftline.events import LabelEvent, PredictionEvent
from monitor.state.changelog import ChangelogStore
from monitor.state.join import JoinCounts, JoinState, decode_slot, encode_slot


def prediction(pid: str, t: float, score: float = 0.7) -> PredictionEvent:
    return PredictionEvent(prediction_id=pid, event_time=t, model_name="credit-risk",
                           model_version="3", features={"loan_amount": 1.0}, score=score,
                           decision="HIGH")


def label(pid: str, t: float, y: int = 1) -> LabelEvent:
    return LabelEvent(prediction_id=pid, label=y, event_time=t)


def test_prediction_then_label_joins_with_the_delay():
    join = JoinState(ttl=100)
    assert join.add_prediction(prediction("a", 10)).outcome == "waiting"
    result = join.add_label(label("a", 40, 0))
    assert result.outcome == "joined"
    assert result.labeled is not None
    assert (result.labeled.event_time, result.labeled.label, result.labeled.delay_seconds) == (
        10, 0, 30
    )
    assert result.labeled.prediction == prediction("a", 10)


def test_label_then_prediction_joins_too():
    join = JoinState(ttl=100)
    assert join.add_label(label("a", 40)).outcome == "waiting"
    result = join.add_prediction(prediction("a", 10))
    assert result.outcome == "joined"
    assert result.labeled is not None and result.labeled.delay_seconds == 30


def test_duplicates_are_counted_and_never_joined_twice():
    join = JoinState(ttl=100)
    outcomes = [
        join.add_prediction(prediction("a", 10)).outcome,
        join.add_prediction(prediction("a", 10)).outcome,  # duplicate while waiting
        join.add_label(label("a", 20)).outcome,
        join.add_label(label("a", 20)).outcome,  # duplicate after the join
        join.add_prediction(prediction("a", 10)).outcome,  # duplicate after the join
        join.add_label(label("b", 21)).outcome,
        join.add_label(label("b", 22)).outcome,  # duplicate label while waiting
    ]
    assert outcomes == ["waiting", "duplicate", "joined", "duplicate", "duplicate", "waiting",
                        "duplicate"]
    assert join.counts == JoinCounts(predictions=3, labels=4, joined=1, duplicate_predictions=2,
                                     duplicate_labels=2)


def test_unlabeled_predictions_expire_after_the_ttl_in_event_time():
    join = JoinState(ttl=100)
    join.add_prediction(prediction("a", 0))
    join.add_prediction(prediction("b", 50))
    join.add_prediction(prediction("c", 100))  # clock 100: "a" waited exactly the ttl
    assert join.expire() == []
    join.add_label(label("c", 101))  # clock 101: "a" waited longer than the ttl
    assert [p.prediction_id for p in join.expire()] == ["a"]
    assert join.add_label(label("a", 102)).outcome == "late"
    assert [p.prediction_id for p in join.expire(now=151)] == ["b"]
    assert join.counts.expired_predictions == 2
    assert join.counts.late_labels == 1


def test_orphan_labels_expire_and_tombstones_are_dropped_after_retention():
    join = JoinState(ttl=10, retention=5)
    join.add_label(label("orphan", 0))
    join.add_prediction(prediction("a", 1))
    join.add_label(label("a", 2))  # joined at 2, tombstone kept until 7
    assert join.pending() == {"prediction": 0, "label": 1, "joined": 1, "expired": 0}
    join.expire(now=8)
    assert join.pending() == {"prediction": 0, "label": 1, "joined": 0, "expired": 0}
    join.expire(now=11)
    assert len(join) == 0
    assert join.counts.expired_labels == 1
    assert join.counts.expired_predictions == 0


def test_a_restarted_join_resumes_from_its_store_and_counts():
    events = []
    rng = random.Random(5)
    for i in range(400):
        t = float(i)
        events.append(prediction(f"p{i}", t))
        if rng.random() < 0.8:  # some labels never come
            events.append(label(f"p{i}", t + rng.uniform(0, 40)))
        if rng.random() < 0.1:  # redelivered
            events.append(events[-1])
    rng.shuffle(events[100:300])  # out of order in the middle

    def feed(join: JoinState, batch: list) -> list[str]:
        out = []
        for e in batch:
            r = join.add_prediction(e) if isinstance(e, PredictionEvent) else join.add_label(e)
            if r.labeled is not None:
                out.append(r.labeled.prediction.prediction_id)
            out.extend(f"expired:{p.prediction_id}" for p in join.expire())
        return out

    whole = JoinState(ttl=60)
    expected = feed(whole, events)

    first = JoinState(ttl=60)
    got = feed(first, events[:333])
    # the worker dies; the table (store) and the counts come back from their changelogs
    second = JoinState(ttl=60, store=dict(first.store),
                       counts=JoinCounts(**{f: getattr(first.counts, f)
                                            for f in first.counts.__struct_fields__}))
    got += feed(second, events[333:])
    assert got == expected
    assert second.counts == whole.counts
    # every prediction is joined, expired or still waiting: none lost, none twice
    counts = second.counts
    assert counts.joined + counts.expired_predictions + second.pending()["prediction"] == 400


def test_slots_written_with_the_bytes_as_read_restore_and_replay_the_same_pair():
    # The changelog record embeds each half's JSON as read (here spaced unlike driftline's
    # encoder); a worker restored from it replays the pair exactly.
    from driftline.events import encode
    from monitor.state.changelog import ChangelogStore
    from monitor.state.join import decode_slot, encode_slot

    p, y = prediction("a", 10), label("a", 40, 0)
    p_raw = encode(p).replace(b",", b", ")
    store: ChangelogStore = ChangelogStore(encode_slot)
    join = JoinState(ttl=100, store=store)
    join.add_prediction(p, source=("predictions", 0, 5), raw=p_raw)
    records = store.take_writes().records
    join.checkpoint_taken({"predictions": 5})  # a checkpoint with the prediction waiting
    joined = join.add_label(y, source=("labels", 0, 9), raw=encode(y))
    assert joined.prediction_raw == p_raw
    records += store.take_writes().records
    assert b'"prediction":' + p_raw in records[1][1]  # embedded, not encoded again

    restored = JoinState(ttl=100, store=ChangelogStore.restore(
        records, encode=encode_slot, decode=decode_slot))
    restored.resume({"predictions": 5})  # its checkpoint includes the prediction, not the label
    again = restored.add_label(y, source=("labels", 0, 9))
    assert again.outcome == "joined" and again.labeled == joined.labeled
    assert again.prediction_raw == p_raw
    assert restored.add_label(y, source=("labels", 0, 10)).outcome == "duplicate"


def test_a_pair_joined_wholly_after_the_last_checkpoint_is_written_without_its_halves():
    # Every checkpoint a restart can resume from includes both events or neither, so the
    # changelog record holds only where they were read; a resume deletes the slot (both are
    # read again) or keeps a tombstone, and one that includes only one half is refused.
    from driftline.events import encode

    def restored(records):
        return JoinState(ttl=100, store=ChangelogStore.restore(
            records, encode=encode_slot, decode=decode_slot))

    store: ChangelogStore = ChangelogStore(encode_slot)
    join = JoinState(ttl=100, store=store)
    before = {"predictions": 4, "labels": 8}
    join.checkpoint_taken(before)
    p, y = prediction("a", 10), label("a", 40, 1)
    join.add_label(y, source=("labels", 0, 9), raw=encode(y))
    first = join.add_prediction(p, source=("predictions", 0, 5), raw=encode(p))
    assert first.outcome == "joined" and join.store["a"].prediction is None  # nothing kept
    records = store.take_writes().records
    [(_, segment)] = records
    assert segment == (b'[["a"],[{"status":"joined","since":40,'
                       b'"prediction_source":"predictions:0:5","label_source":"labels:0:9"}]]')

    older = restored(records)
    assert older.resume(before, 9.0) == 1 and len(older) == 0
    assert older.add_prediction(p, source=("predictions", 0, 5)).outcome == "waiting"
    assert older.add_label(y, source=("labels", 0, 9)).labeled == first.labeled

    newer = restored(records)
    newer.resume({"predictions": 5, "labels": 9}, 40.0)
    assert msgspec.structs.asdict(newer.store["a"])["prediction_source"] is None  # bare
    assert newer.add_label(y, source=("labels", 0, 10)).outcome == "duplicate"

    with pytest.raises(RuntimeError, match="disagree"):
        restored(records).resume({"predictions": 5, "labels": 8}, 40.0)


def test_joined_slots_shrink_to_tombstones_once_a_checkpoint_covers_them():
    join = JoinState(ttl=100)
    join.add_prediction(prediction("a", 10), source=("t.predictions", 0, 5))
    join.add_prediction(prediction("b", 11), source=("t.predictions", 0, 6))
    join.add_prediction(prediction("c", 12), source=("t.predictions", 0, 7))  # waiting
    join.checkpoint_taken({"t.predictions": 7})  # the predictions were there: halves kept
    join.add_label(label("a", 40), source=("t.labels", 0, 9))
    join.add_label(label("b", 41), source=("t.labels", 0, 12))
    # A restored checkpoint that includes labels up to offset 10: only "a" is covered.
    assert join.forget_halves(applied={"t.predictions": 7, "t.labels": 10}) == 1
    assert join.store["a"].prediction is None and join.store["b"].prediction is not None
    # After a durable checkpoint of the slots just written: "b" too; "c" still waits.
    assert join.forget_halves(keys=["b", "c"]) == 1
    assert join.store["b"].status == "joined" and join.store["b"].label is None
    assert join.store["c"].prediction is not None
    # A real duplicate is still recognised by the tombstone.
    assert join.add_label(label("a", 50), source=("t.labels", 0, 20)).outcome == "duplicate"
    assert join.add_prediction(prediction("b", 11), source=("t.predictions", 0, 30)).outcome \
        == "duplicate"


def _due_by_scan(join: JoinState, clock: float) -> tuple[list[str], set[str]]:
    """What expire(clock) must do, by scanning every slot: the predictions that expire (in
    deadline order, then id; with those an event found already due since the last call) and
    the keys still in the store afterwards."""
    expiring = [(p.event_time + join.ttl, p.prediction_id) for p in join._expired_early]
    gone = set()
    for key, slot in join.store.items():
        wait = join.ttl if slot.status in ("prediction", "label") else join.retention
        if slot.since + wait < clock:
            if slot.status == "prediction":
                expiring.append((slot.since + wait, key))
                # its tombstone lives ``retention`` from the deadline: perhaps gone already
                if slot.since + wait + join.retention < clock:
                    gone.add(key)
            else:
                gone.add(key)
    return [k for _, k in sorted(expiring)], set(join.store) - gone


def test_expiry_takes_exactly_what_is_due_at_fractional_clocks_and_keeps_no_stale_entries():
    # The deadline index files keys by whole seconds; a scan of every slot is the reference,
    # with fractional times, a retention shorter than the ttl (deadlines that move earlier),
    # duplicates and expiry called at arbitrary clocks, inside a second and across many.
    rng = random.Random(11)
    join = JoinState(ttl=7.5, retention=2.25)
    t = 0.0
    for _ in range(3_000):
        t += rng.uniform(0.0, 0.05)
        pid = f"p{rng.randrange(1_000)}"  # ids come back: duplicates, late labels
        if rng.random() < 0.5:
            join.add_prediction(prediction(pid, t))
        else:
            join.add_label(label(pid, t + rng.uniform(-3.0, 3.0)))
        if rng.random() < 0.05:
            clock = max(join.clock, t + rng.choice([0.0, 0.3, 2.0, 9.0]))
            expected_ids, expected_left = _due_by_scan(join, clock)
            assert [p.prediction_id for p in join.expire(now=clock)] == expected_ids
            assert set(join.store) == expected_left
            assert all(join.store[k].status == "expired" for k in expected_ids
                       if k in join.store)
    end = join.clock
    join.expire(now=end + 100)  # the last predictions expire, leaving tombstones
    join.expire(now=end + 200)
    assert len(join) == 0 and join._due == {}  # nothing left filed: no stale entry kept


def test_what_an_event_does_does_not_depend_on_when_expire_last_ran():
    # The worker expires at checkpoints, a replay of the same topics at other moments: every
    # event's outcome, the counts, the slots and the expired predictions must be the same
    # whether expire() runs after every event, every 37 events or only at the end. (Before,
    # a label arriving after its prediction's TTL joined if no checkpoint had expired the
    # prediction yet, and was late if one had.)
    rng = random.Random(23)
    events = []
    t = 0.0
    for _ in range(4_000):
        t += rng.expovariate(20.0)
        pid = f"p{rng.randrange(1_500)}"
        if rng.random() < 0.5:
            events.append(prediction(pid, t))
        else:  # labels from long before to after: late, orphan, joined, duplicate
            events.append(label(pid, t + rng.uniform(-12.0, 4.0)))

    def run(every: int | None):
        join = JoinState(ttl=6.0, retention=3.0)
        outcomes, expired = [], []
        for i, e in enumerate(events):
            r = join.add_prediction(e) if isinstance(e, PredictionEvent) else join.add_label(e)
            outcomes.append((r.outcome, r.labeled))
            if every is not None and i % every == 0:
                expired += [p.prediction_id for p in join.expire()]
        expired += [p.prediction_id for p in join.expire()]
        return outcomes, sorted(expired), join.counts, dict(join.store)

    each, sometimes, at_end = run(1), run(37), run(None)
    assert sometimes == each
    assert at_end == each
    assert each[2].expired_predictions > 50 and each[2].late_labels > 20  # it was exercised


def test_deletions_after_the_checkpoint_are_undone_by_a_restart_from_it():
    # ttl 10: the orphan label "a" expires before the checkpoint, "b" after it, and a late
    # prediction for "b" then takes its place; the changelog is written again just before
    # the kill. A restart from the checkpoint must find "b" waiting again (and not "a"), so
    # that reading the predictions again counts what the uninterrupted run counted.
    before = [("labels", 0, label("a", 0)), ("labels", 1, label("b", 5)),
              ("predictions", 0, prediction("x", 10.5))]
    after = [("predictions", 1, prediction("y", 16)), ("predictions", 2, prediction("b", 3))]

    def feed(join: JoinState, events) -> None:
        for topic, offset, event in events:
            add = join.add_label if topic == "labels" else join.add_prediction
            add(event, (topic, 0, offset))
            join.expire()

    whole = JoinState(ttl=10, retention=5)
    feed(whole, before + after)

    first = JoinState(ttl=10, retention=5, store=ChangelogStore(encode_slot))
    feed(first, before)
    writes = first.store.take_writes()
    changelog = writes.records
    applied, clock = {"labels": 1, "predictions": 0}, first.clock
    counts = JoinCounts(**msgspec.structs.asdict(first.counts))
    first.forget_halves(writes.keys)  # the checkpoint is durable
    assert "a" not in first.store and first.counts.expired_labels == 1
    feed(first, after)
    assert first.store["b"].status == "expired"  # the late prediction, at once
    assert first.store["b"].replaced.label == label("b", 5)  # what it took the place of
    changelog += first.store.take_writes().records  # then the kill

    restored = ChangelogStore.restore(changelog, encode=encode_slot, decode=decode_slot)
    second = JoinState(ttl=10, retention=5, store=restored, counts=counts)
    second.resume(applied, clock)
    assert second.store["b"].status == "label" and not second.store["b"].dropped
    assert "y" not in second.store and "a" not in second.store
    feed(second, after)
    assert second.counts == whole.counts
    assert second.pending() == whole.pending()
