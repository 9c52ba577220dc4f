"""One partition's state machine and the merge stage, without a broker: exact counts across a
simulated crash, and a shift judged once per kind."""

from __future__ import annotations

import msgspec

from driftline.events import LabelEvent, PredictionEvent
from monitor.drift.windows import EventTimeWindows
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.partition import Partial, PartitionConfig, PartitionState
from producers.generator import GeneratorParams, LoanGenerator

CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=30, join_ttl=3600)


def _stream(n: int, seed: int = 3, params: GeneratorParams | None = None, start: float = 0.0,
            ids: str = "p"):
    """Interleaved predictions and labels (labels 20 s later) with their source offsets."""
    batch = LoanGenerator(seed).sample(n, params)
    rows = batch.rows()
    events: list[tuple[float, str, object]] = []
    for i, (row, label) in enumerate(zip(rows, batch.labels.tolist(), strict=True)):
        t = start + i * 0.5
        pid = f"{ids}{i}"
        events.append((t, "predictions", PredictionEvent(
            prediction_id=pid, event_time=t, model_name="credit-risk", model_version="1",
            features=row, score=float(batch.probabilities[i]), decision="LOW")))
        events.append((t + 20, "labels", LabelEvent(prediction_id=pid, event_time=t + 20,
                                                   label=label)))
    events.sort(key=lambda e: e[0])
    offsets = {"predictions": 0, "labels": 0}
    out = []
    for _, topic, event in events:
        out.append((topic, offsets[topic], event))
        offsets[topic] += 1
    return out


def _feed(state: PartitionState, events) -> tuple[list, list]:
    labeled, partials = [], []
    for topic, offset, event in events:
        if topic == "predictions":
            step = state.on_prediction(event, topic, offset)
        else:
            step = state.on_label(event, topic, offset)
        labeled.extend(step.labeled)
        partials.extend(step.partials)
    return labeled, partials


def _summary(state: PartitionState) -> dict:
    snap = PartitionState.decode_snapshot(state.snapshot())
    return msgspec.to_builtins(snap)


def test_a_restart_from_an_older_checkpoint_ends_with_the_same_counts(loan_profile):
    events = _stream(600)
    profiles = {("credit-risk", "1"): loan_profile}.get

    def lookup(name, version):
        return profiles((name, version))

    whole = PartitionState(0, CONFIG, {}, lookup)
    labeled_whole, _partials_whole = _feed(whole, events)

    store: dict = {}
    first = PartitionState(0, CONFIG, store, lookup)
    _feed(first, events[:500])
    checkpoint = first.snapshot()
    _feed(first, events[500:800])  # processed (slots written) but never checkpointed: crash
    resumed = PartitionState(0, CONFIG, store, lookup,
                             PartitionState.decode_snapshot(checkpoint))
    # The consumer resumes from its committed offsets, at or before the checkpoint.
    labeled_rest, _partials_rest = _feed(resumed, events[400:])

    assert _summary(resumed) == _summary(whole)
    assert resumed.join.counts.joined == 600 and resumed.join.counts.duplicate_labels == 0
    # Every pair after the checkpoint is emitted again, none lost.
    ids_whole = {e.prediction.prediction_id for e in labeled_whole}
    ids_after = {e.prediction.prediction_id for e in labeled_rest}
    first_ids = {e.prediction.prediction_id for e in _feed(
        PartitionState(0, CONFIG, {}, lookup), events[:500])[0]}
    assert ids_whole == first_ids | ids_after


def test_a_real_duplicate_is_still_a_duplicate(loan_profile):
    events = _stream(50)
    state = PartitionState(0, CONFIG, {}, lambda n, v: loan_profile)
    _feed(state, events)
    topic, _offset, event = next(e for e in events if e[0] == "predictions")
    state.on_prediction(event, topic, 10_000)  # same prediction id, new offset
    assert state.join.counts.duplicate_predictions == 1


def test_shifted_traffic_raises_one_covariate_event_through_the_merge(loan_profile):
    # 6 minutes stable then 6 minutes with the loan-amount shift, 2 predictions/s, split by
    # key over two partitions (labels follow their prediction's partition).
    timed = [(e.event_time, t, e) for t, _, e in _stream(720, seed=5)]
    timed += [(e.event_time, t, e) for t, _, e in _stream(
        720, seed=6, params=GeneratorParams(loan_mean=850_000.0), start=360.0, ids="s")]
    timed.sort(key=lambda x: (x[0], x[1]))
    partitions = [PartitionState(p, CONFIG, {}, lambda n, v: loan_profile) for p in (0, 1)]
    merger = WindowMerger(partitions=2, profiles=lambda n, v: loan_profile,
                          policy=DriftPolicy(), idle_timeout=1e9, started=0.0)
    offsets: dict[tuple[str, int], int] = {}
    judged = []
    for _, topic, event in timed:
        p = int(event.prediction_id[1:]) % 2
        off = offsets.get((topic, p), 0)
        offsets[(topic, p)] = off + 1
        state = partitions[p]
        step = (state.on_prediction if topic == "predictions" else state.on_label)(
            event, topic, off)
        for partial in step.partials:
            judged.extend(merger.add(partial, now=0.0))
    drift_windows = [j for j in judged if j.kind == "drift"]
    assert drift_windows and all(j.partitions == 2 for j in drift_windows)
    onset = 360.0
    before = [j for j in drift_windows if j.window_end <= onset]
    after = [j for j in drift_windows if j.window_start >= onset]
    assert all(not j.drift.dataset_drifted and "loan_amount" not in j.drift.drifted_features
               for j in before)
    assert after and "loan_amount" in after[0].drift.drifted_features
    covariate = [e for j in judged for e in j.events if e.kind == "covariate"]
    assert len(covariate) == 1 and covariate[0].window_start == onset
    performance = [j for j in judged if j.kind == "performance"]
    assert performance and performance[0].performance.labeled > 0


def _feed_batched(state: PartitionState, events, batch: int) -> list:
    """As the worker does: apply a batch without closing, then close once."""
    partials = []
    for i in range(0, len(events), batch):
        for topic, offset, event in events[i:i + batch]:
            if topic == "predictions":
                state.on_prediction(event, topic, offset, close=False)
            else:
                state.on_label(event, topic, offset, close=False)
        partials.extend(state.close())
    return partials


def _window_counts(partials) -> dict:
    out = {}
    for p in partials:
        if p.kind == "drift":
            out[("drift", p.window_start)] = p.drift.rows
        elif p.kind == "performance":
            out[("performance", p.window_start)] = (p.performance.predictions,
                                                    p.performance.labeled)
    return out


def test_closing_once_per_batch_counts_exactly_as_closing_per_event(loan_profile):
    events = _stream(900, seed=8)
    per_event = PartitionState(0, CONFIG, {}, lambda n, v: loan_profile)
    _labeled, partials = _feed(per_event, events)
    for batch in (7, 250, len(events)):
        batched = PartitionState(0, CONFIG, {}, lambda n, v: loan_profile)
        got = _feed_batched(batched, events, batch)
        assert _window_counts(got) == _window_counts(partials), batch
        assert _summary(batched) == _summary(per_event), batch


def test_a_batch_closing_many_windows_is_merged_whole_while_another_partition_lags(
    loan_profile,
):
    # Partition 0 reads its whole backlog in one batch (every window closes at once); only
    # then does partition 1 read. Each judged window must hold both partitions' rows.
    events = {p: _stream(600, seed=10 + p, ids=f"q{p}-") for p in (0, 1)}
    states = {p: PartitionState(p, CONFIG, {}, lambda n, v: loan_profile) for p in (0, 1)}
    merger = WindowMerger(partitions=2, profiles=lambda n, v: loan_profile,
                          policy=DriftPolicy(), idle_timeout=1e9, started=0.0)
    judged = []
    for p in (0, 1):
        for partial in _feed_batched(states[p], events[p], len(events[p])):
            judged.extend(merger.add(partial, now=0.0))
    drift = {j.window_start: j.drift.rows for j in judged if j.kind == "drift"}
    expected = {}
    for p in (0, 1):
        for start, rows in _window_counts(
            _feed(PartitionState(p, CONFIG, {}, lambda n, v: loan_profile), events[p])[1]
        ).items():
            if start[0] == "drift":
                expected[start[1]] = expected.get(start[1], 0) + rows
    assert drift and drift == {s: n for s, n in expected.items() if s in drift}
    assert all(j.partitions == 2 for j in judged if j.kind == "drift")


def test_a_restarted_merger_ignores_a_share_resent_for_a_window_it_already_judged(
    loan_profile,
):
    events = _stream(600, seed=12)
    partials = _feed(PartitionState(0, CONFIG, {}, lambda n, v: loan_profile), events)[1]
    judged_store: dict[str, bytes] = {}

    def merger() -> WindowMerger:
        return WindowMerger(partitions=1, profiles=lambda n, v: loan_profile,
                            policy=DriftPolicy(), idle_timeout=1e9, started=0.0,
                            judged=judged_store)

    first = merger()
    judged = [j for p in partials for j in first.add(p, now=0.0)]
    drift = [j for j in judged if j.kind == "drift"]
    assert len(drift) >= 3
    # The worker restarts: the source replays from its checkpoint and sends the share of an
    # already judged window again, followed by its heartbeat.
    resent = [p for p in partials if p.kind == "drift" and p.window_start == drift[1].window_start]
    heartbeat = next(p for p in partials if p.kind == "watermark" and p.watermark is not None)
    second = merger()
    again = [j for p in [*resent, heartbeat] for j in second.add(p, now=0.0)]
    assert again == [] and second.late_partials == 1 and second.is_judged(resent[0])


def test_a_judge_that_gets_its_partials_late_still_waits_for_every_partition(loan_profile):
    # The publisher started at t=0 but, after a restart, received its partials only at
    # t=100 (the group's session timeout): partition 0's share and heartbeat come first, and
    # partition 1's a moment later. The window must hold both shares.
    shares = {p: _feed(PartitionState(p, CONFIG, {}, lambda n, v: loan_profile),
                       _stream(300, seed=20 + p, ids=f"r{p}-"))[1] for p in (0, 1)}
    merger = WindowMerger(partitions=2, profiles=lambda n, v: loan_profile,
                          policy=DriftPolicy(), idle_timeout=3.0)
    judged = [j for p in shares[0] for j in merger.add(p, now=100.0)]
    judged += [j for p in shares[1] for j in merger.add(p, now=100.5)]
    drift = [j for j in judged if j.kind == "drift"]
    assert drift and all(j.partitions == 2 for j in drift)


def _beat(partition: int, watermark: float | None, caught_up: bool = True) -> Partial:
    return Partial(kind="watermark", partition=partition, watermark=watermark,
                   caught_up=caught_up)


def _two_partitions(loan_profile):
    """Partition 0's partials for 300 predictions (t = 0..150 s, windows of 60 s), and a
    merger that has heard a caught-up heartbeat from both at t=100 (partition 1 at 30 s)."""
    shares = _feed(PartitionState(0, CONFIG, {}, lambda n, v: loan_profile),
                   _stream(300, seed=30, ids="q0-"))[1]
    merger = WindowMerger(partitions=2, profiles=lambda n, v: loan_profile,
                          policy=DriftPolicy(), idle_timeout=3.0)
    merger.add(_beat(1, 30.0), now=100.0)
    judged = [j for p in shares for j in merger.add(p, now=100.0)]
    return merger, judged


def test_a_silent_partition_is_waited_for_until_its_next_owner_reports(loan_profile):
    # Partition 1's worker died after a caught-up heartbeat (the stream went on meanwhile):
    # no heartbeat comes until the group hands it to another worker. Its shares must not be
    # left out of the windows partition 0 has closed, however long that takes.
    merger, judged = _two_partitions(loan_profile)
    for second in range(101, 161):  # partition 0's worker lives on, caught up
        judged += merger.add(_beat(0, 145.0), now=float(second))
    assert [j for j in judged if j.kind == "drift"] == []
    # The next owner resumes partition 1 from its checkpoint and closes the same windows.
    shares = _feed(PartitionState(1, CONFIG, {}, lambda n, v: loan_profile),
                   _stream(300, seed=31, ids="q1-"))[1]
    judged += [j for p in shares for j in merger.add(p, now=161.0)]
    drift = [j for j in judged if j.kind == "drift"]
    assert [j.window_start for j in drift] == [0.0, 60.0]  # [120, 180) is still open
    assert [j.partitions for j in drift] == [2, 2], [(j.window_start, j.partitions) for j in judged]


def test_a_quiet_partition_stops_holding_windows_after_the_idle_timeout(loan_profile):
    # Partition 1's worker is alive and caught up, but no event comes for partition 1: its
    # watermark stays at 30 s. Windows partition 0 closed wait idle_timeout, then go without it.
    merger, judged = _two_partitions(loan_profile)
    for second in (101.0, 102.0, 103.0):
        judged += merger.add(_beat(1, 30.0), now=second)
    assert [j for j in judged if j.kind == "drift"] == []
    judged += merger.add(_beat(1, 30.0), now=104.0)
    drift = [j for j in judged if j.kind == "drift"]
    assert [j.window_start for j in drift] == [0.0, 60.0] and drift[0].partitions == 1
    # A partition with a backlog is never idle, however still its watermark.
    busy, judged = _two_partitions(loan_profile)
    for second in (101.0, 102.0, 103.0, 104.0, 110.0):
        judged += busy.add(_beat(1, 30.0, caught_up=False), now=second)
    assert [j for j in judged if j.kind == "drift"] == []


def test_the_configured_retention_drops_tombstones_before_the_ttl(loan_profile):
    config = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=30, join_ttl=3600,
                             join_retention=100)
    state = PartitionState(0, config, {}, lambda n, v: loan_profile)
    _feed(state, _stream(400))  # 200 s of predictions, labels 20 s later
    state.expire()
    # joined at 20-220 s; the clock is at 219.5 s: tombstones older than 100 s are gone
    # (dropped: kept until a checkpoint covers their deletion, then deleted)
    live = [slot for slot in state.join.store.values() if not slot.dropped]
    assert 0 < len(live) < 400
    assert all(slot.since >= 219.5 - 100 for slot in live)
    state.join.forget_halves(list(state.join.store))  # a checkpoint written with them all
    assert len(state.join) == len(live)


def test_heartbeats_read_again_after_a_rebalance_are_no_sign_of_life(loan_profile):
    # Partition 1's last live heartbeat was sent and read at wall time 100 (caught up,
    # watermark 30). The publisher's group then rebalanced and it read that heartbeat again at
    # 100.9, while partition 1 moved to a worker still restoring it. Partition 0 is busy and
    # past the windows. At 103.5 partition 1 has been silent for 3.5 s (idle_timeout 3): it
    # must be waited for, not taken for a live, idle partition because it was *read* lately.
    wall = [100.0]
    merger = WindowMerger(partitions=2, profiles=lambda n, v: loan_profile,
                          policy=DriftPolicy(), idle_timeout=3.0, clock=lambda: wall[0])
    last = Partial(kind="watermark", partition=1, watermark=30.0, caught_up=True,
                   sent_at=100.0)
    judged = merger.add(last, now=100.0)
    judged += [j for p in _feed(PartitionState(0, CONFIG, {}, lambda n, v: loan_profile),
                                _stream(300, seed=30, ids="q0-"))[1]
               for j in merger.add(p, now=100.0)]
    wall[0] = 100.9
    judged += merger.add(last, now=100.9)  # read again
    wall[0] = 103.5
    judged += merger.add(_beat(0, 145.0, caught_up=False), now=103.5)
    assert [j for j in judged if j.kind == "drift"] == []


def test_performance_windows_count_every_predictions_score_one_at_a_time_or_in_runs(
    loan_profile,
):
    events = _stream(600, seed=14)
    predictions = [(o, e) for topic, o, e in events if topic == "predictions"]
    one = PartitionState(0, CONFIG, {}, lambda n, v: loan_profile)
    for offset, event in predictions:
        one.on_prediction(event, "predictions", offset, close=False)
    runs = PartitionState(0, CONFIG, {}, lambda n, v: loan_profile)
    runs.on_predictions("predictions", [o for o, _ in predictions], [e for _, e in predictions])
    singly = {k: a.scored for k, a in one._perf.items()}
    assert singly == {k: a.scored for k, a in runs._perf.items()}
    assert sum(sum(s) for s in singly.values()) == len(predictions)
    assert all(sum(a.scored) == a.predictions for a in one._perf.values())
