"""Runs of events applied in one call (the source loop's hot path) end exactly as the same
events applied one at a time: join outcomes and counts, slots, windows, partials, joined
records, checkpoints and concept detections; and a run holding bad messages sends those to
the dead-letter topic and applies the rest. Without a broker."""

from __future__ import annotations

import dataclasses
import random

import msgspec
import pytest

from driftline.events import LabelEvent, PredictionEvent, encode, encode_labeled
from monitor.drift.concept import ConceptDriftDetector
from monitor.drift.windows import EventTimeWindows
from monitor.settings import MonitorSettings
from monitor.state.changelog import ChangelogStore
from monitor.state.join import encode_slot
from monitor.state.partition import PartitionConfig, PartitionState
from monitor.worker.metrics import SourceMetrics
from monitor.worker.source_loop import SourceLoop
from producers.generator import LoanGenerator

# a short TTL and retention, so predictions expire, labels come late and tombstones go
CONFIG = PartitionConfig(EventTimeWindows(size=60, step=30, grace=5), label_wait=20,
                         join_ttl=90, join_retention=120)


def _topics(n: int, seed: int) -> dict[str, list]:
    """One partition's traffic, every case of the join in it: two model versions, labels
    that stop agreeing with the scores half way,
    20-150 s after their prediction (some after the TTL), some before it, duplicate
    predictions and labels, predictions never labeled, labels without a prediction."""
    rng = random.Random(seed)
    batch = LoanGenerator(seed).sample(n)
    predictions, labels = [], []
    for i, (row, y, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                        batch.probabilities.tolist(), strict=True)):
        t = 1_000.0 + i * 0.25
        pid = f"p{i}"
        prediction = PredictionEvent(prediction_id=pid, event_time=t, model_name="credit-risk",
                                     model_version=str(1 + (i // 50) % 2), features=row,
                                     score=p, decision="LOW")
        predictions.append(prediction)
        if rng.random() < 0.05:
            predictions.append(prediction)  # sent twice
        if rng.random() < 0.1:
            continue  # never labeled: expires
        if i > n // 2 and rng.random() < 0.6:
            y = 1 - y  # the concept changes half way: the detectors fire
        label = LabelEvent(prediction_id=pid, event_time=t + rng.uniform(20, 150), label=y)
        labels.append(label)
        if rng.random() < 0.05:
            labels.append(label)
        if rng.random() < 0.02:
            labels.append(LabelEvent(prediction_id=f"orphan{i}", event_time=t + 5, label=y))
    labels.sort(key=lambda e: e.event_time)
    # a label written before its prediction: move some labels ahead in the topic
    for _ in range(n // 20):
        j = rng.randrange(len(labels))
        labels.insert(max(0, j - rng.randrange(30)), labels.pop(j))
    return {"predictions": predictions, "labels": labels}


def _batches(topics: dict[str, list], rng: random.Random,
             longest: int = 60) -> list[list[tuple[str, list]]]:
    """Both topics in fetch-like runs of 1-``longest`` events, a few runs per batch; mostly the
    topic whose next event is older is read next (as a consumer keeping up would), so most
    pairs join before the TTL."""
    pos = {t: 0 for t in topics}
    runs = []
    while any(pos[t] < len(topics[t]) for t in topics):
        live = sorted((topics[t][pos[t]].event_time, t) for t in topics if pos[t] < len(topics[t]))
        topic = live[0][1] if len(live) == 1 or rng.random() < 0.8 else live[1][1]
        size = rng.randint(1, longest)
        run = [(offset, topics[topic][offset])
               for offset in range(pos[topic], min(pos[topic] + size, len(topics[topic])))]
        pos[topic] += len(run)
        runs.append((topic, run))
    out, i = [], 0
    while i < len(runs):
        k = rng.randint(1, 4)
        out.append(runs[i:i + k])
        i += k
    return out


def _state(loan_profile, start: PartitionState | None = None,
           config: PartitionConfig = CONFIG) -> PartitionState:
    profiles = {("credit-risk", "1"): loan_profile, ("credit-risk", "2"): loan_profile}.get
    snapshot = None if start is None else PartitionState.decode_snapshot(start.snapshot())
    store = ChangelogStore(encode_slot)
    return PartitionState(0, config, store, lambda n, v: profiles((n, v)), snapshot)


def _run_all(state: PartitionState, batches, *, one_by_one: bool) -> dict:
    """Apply every batch (run by run or event by event), close and expire after each and
    checkpoint every 7th; return everything the state put out and kept."""
    labeled, partials, expired, writes, detections = [], [], [], [], []
    detector = ConceptDriftDetector(warmup=50)
    for b, batch in enumerate(batches):
        for topic, run in batch:
            offsets = [offset for offset, _ in run]
            events = [event for _, event in run]
            raws = [encode(event) for event in events]
            if one_by_one:
                steps = [
                    (state.on_prediction if topic == "predictions" else state.on_label)(
                        event, topic, offset, close=False, raw=raw)
                    for offset, event, raw in zip(offsets, events, raws, strict=True)
                ]
                joined = [(x, r) for s in steps
                          for x, r in zip(s.labeled, s.prediction_raws, strict=True)]
                fired = [(i, names, detector.error_rate) for i, (x, _) in enumerate(joined)
                         if (names := detector.update(x.prediction.score, x.label))]
            else:
                apply = state.on_predictions if topic == "predictions" else state.on_labels
                step = apply(topic, offsets, events, raws)
                joined = list(zip(step.labeled, step.prediction_raws, strict=True))
                fired = [tuple(d)[:3] for d in detector.update_many(
                    [x.prediction.score for x, _ in joined], [x.label for x, _ in joined])]
            labeled.extend(encode_labeled(x, r) for x, r in joined)
            detections.append(fired)
        partials.extend(msgspec.json.encode(p) for p in state.close())
        expired.extend(p.prediction_id for p in state.expire())
        if b % 7 == 6:
            store = state.join.store
            assert isinstance(store, ChangelogStore)
            writes.append(store.take_writes())
            writes.append([(b"checkpoint", state.snapshot())])
    return {"labeled": labeled, "partials": partials, "expired": expired, "writes": writes,
            "detections": detections, "counts": msgspec.to_builtins(state.join.counts),
            "snapshot": state.snapshot(), "slots": sorted(state.join.store)}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_runs_end_exactly_as_events_one_at_a_time(loan_profile, seed):
    topics = _topics(1_500, seed)
    batches = _batches(topics, random.Random(seed))
    by_event = _run_all(_state(loan_profile), batches, one_by_one=True)
    by_run = _run_all(_state(loan_profile), batches, one_by_one=False)
    counts = by_event["counts"]
    # the traffic reaches every outcome of the join
    assert counts["joined"] and counts["duplicate_predictions"] and counts["duplicate_labels"]
    assert counts["expired_predictions"] and counts["late_labels"] and counts["expired_labels"]
    assert any(by_event["detections"])
    for what in by_event:
        assert by_run[what] == by_event[what], what


@pytest.mark.parametrize("longest", [60, 1_500])
def test_long_runs_of_one_version_in_tumbling_windows_end_as_events_one_at_a_time(
        loan_profile, longest):
    """The common shape of a backlog: one model version, labels a little later in order,
    read in long runs, so a run of labels has its predictions in the same windows (or, in
    the longest runs, in several windows one after the other)."""
    rng = random.Random(5)
    batch = LoanGenerator(5).sample(2_000)
    predictions, labels = [], []
    for i, (row, y, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                        batch.probabilities.tolist(), strict=True)):
        t = 1_000.0 + i * 0.05
        predictions.append(PredictionEvent(prediction_id=f"p{i}", event_time=t,
                                           model_name="credit-risk", model_version="1",
                                           features=row, score=p, decision="LOW"))
        labels.append(LabelEvent(prediction_id=f"p{i}", event_time=t + rng.uniform(2, 4),
                                 label=y))
    labels.sort(key=lambda e: e.event_time)
    batches = _batches({"predictions": predictions, "labels": labels}, rng, longest)
    config = PartitionConfig(EventTimeWindows(size=30, grace=5), label_wait=20, join_ttl=90)
    by_event = _run_all(_state(loan_profile, config=config), batches, one_by_one=True)
    by_run = _run_all(_state(loan_profile, config=config), batches, one_by_one=False)
    assert by_event["counts"]["joined"] == 2_000
    assert any(b'"kind":"performance"' in p for p in by_event["partials"])
    for what in by_event:
        assert by_run[what] == by_event[what], what


def test_a_run_straddling_the_checkpoint_applies_only_what_it_does_not_include(loan_profile):
    """After a restart the first run read may start before the checkpoint's offset."""
    topics = _topics(600, 4)
    batches = _batches(topics, random.Random(4))
    half = len(batches) // 2
    first = _state(loan_profile)
    _run_all(first, batches[:half], one_by_one=False)
    # read again from 25 events before the checkpoint on each topic, in runs of 40
    starts = {t: max(0, first.offsets[f"{t}"] - 25) for t in topics}
    again = [[(t, [(o, topics[t][o]) for o in range(s, min(s + 40, len(topics[t])))])
              for t, s in starts.items()]]
    resumed_run, resumed_event = _state(loan_profile, first), _state(loan_profile, first)
    run_out = _run_all(resumed_run, again, one_by_one=False)
    event_out = _run_all(resumed_event, again, one_by_one=True)
    assert run_out == event_out
    step = resumed_run.on_predictions("predictions", [0, 1], topics["predictions"][:2])
    assert step.skipped == 2 and not step.labeled


class _Message:
    """What the source loop reads of a confluent-kafka message."""

    def __init__(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        self._topic, self._partition, self._offset, self._value = topic, partition, offset, value

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return None

    def headers(self) -> None:
        return None

    def error(self) -> None:
        return None


class _Producer:
    failed, last_error = 0, None

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def produce(self, topic, value, key=None, **_kw) -> None:
        self.sent.append((topic, value))

    def produce_many(self, topic, messages, **_kw) -> None:
        self.sent.extend((topic, m["value"]) for m in messages)

    def send(self, topic, event) -> None:
        self.sent.append((topic, encode(event)))

    def poll(self, timeout: float = 0.0) -> int:
        return 0


def _source(loan_profile, metrics: SourceMetrics, **settings_given: float,
            ) -> tuple[SourceLoop, _Producer]:
    """A source loop owning partition 0 of ``t.predictions`` and ``t.labels``, writing to a
    fake producer (``settings_given``: monitor settings besides the defaults)."""
    settings = MonitorSettings(
        event_time_floor="1970-01-01T00:00:00Z",
        kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t."}, **settings_given)
    loop = SourceLoop(settings, "t.mon", lambda n, v: loan_profile, metrics)
    producer = _Producer()
    loop._producer = producer  # type: ignore[assignment]
    loop._dead._producer = producer  # type: ignore[attr-defined]
    loop.states[0] = PartitionState(0, loop.config, ChangelogStore(encode_slot),
                                    lambda n, v: loan_profile)
    return loop, producer


def test_bad_messages_in_a_run_go_to_the_dead_letter_topic_and_the_rest_is_applied(
        loan_profile, monitor_metrics):
    topics = _topics(200, 5)
    good_p = [encode(p) for p in topics["predictions"][:100]]
    first = {p.prediction_id for p in topics["predictions"][:100]}
    good_l = [encode(x) for x in topics["labels"] if x.prediction_id in first][:80]
    later = [encode(p) for p in topics["predictions"][150:152]]
    bad = {3: b"{not json", 40: None, 41: b'{"prediction_id": 7}', 99: b"[]",
           # hostile values, each alone between valid events
           5: later[0] + b"," + later[1], 6: b"", 7: good_p[7][:-2] + b'\xff"}',
           8: good_p[8][:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
           9: good_p[9][:-1] + b',"pad":"' + b"x" * (1 << 20) + b'"}'}
    values = list(good_p)
    for at in sorted(bad):
        values.insert(at, bad[at])
    messages = [_Message("t.predictions", 0, o, v) for o, v in enumerate(values)]
    messages += [_Message("t.labels", 0, o, v) for o, v in enumerate(good_l)]
    loop, producer = _source(loan_profile, monitor_metrics)
    loop.apply(messages)

    clean, clean_producer = _source(loan_profile, monitor_metrics)
    clean.apply([_Message("t.predictions", 0, o, v) for o, v in enumerate(good_p)]
                + [_Message("t.labels", 0, o, v) for o, v in enumerate(good_l)])

    dead = [msgspec.json.decode(v) for t, v in producer.sent if t == "t.dead-letter"]
    # the offsets after the insertions, in order
    assert sorted(d["source_offset"] for d in dead) == sorted(
        o for o, v in enumerate(values) if v not in good_p)
    assert all(d["source_topic"] == "t.predictions" and d["error"] for d in dead)
    assert all(len(v) < 64_000 for t, v in producer.sent if t == "t.dead-letter")
    assert "no value" in next(d["error"] for d in dead if d["source_offset"] == 40)
    state, reference = loop.states[0], clean.states[0]
    assert state.dead_letters == len(bad)
    assert state.offsets == {"t.predictions": len(values) - 1, "t.labels": len(good_l) - 1}
    assert msgspec.to_builtins(state.join.counts) == msgspec.to_builtins(reference.join.counts)
    assert state.join.counts.joined > 0
    joined = [v for t, v in producer.sent if t == "t.labeled"]
    assert joined == [v for t, v in clean_producer.sent if t == "t.labeled"]


def _outputs_without_checkpoints(state: PartitionState, batches) -> dict:
    """Apply every batch run by run, closing and expiring after each; what came out."""
    labeled, partials, expired = [], [], []
    for batch in batches:
        for topic, run in batch:
            apply = state.on_predictions if topic == "predictions" else state.on_labels
            events = [event for _, event in run]
            step = apply(topic, [offset for offset, _ in run], events,
                         [encode(event) for event in events])
            labeled.extend(encode_labeled(x, r)
                           for x, r in zip(step.labeled, step.prediction_raws, strict=True))
        partials.extend(msgspec.json.encode(p) for p in state.close())
        expired.extend(p.prediction_id for p in state.expire())
    return {"labeled": labeled, "partials": partials, "expired": expired,
            "counts": msgspec.to_builtins(state.join.counts)}


def test_a_join_keeping_no_sources_gives_what_one_keeping_them_gives(loan_profile):
    """A backtest's states keep no sources (they are never checkpointed)."""
    topics = _topics(1_500, 4)
    batches = _batches(topics, random.Random(4))
    profiles = lambda n, v: loan_profile  # noqa: E731
    bare = dataclasses.replace(CONFIG, join_sources=False)
    kept = _outputs_without_checkpoints(PartitionState(0, CONFIG, {}, profiles), batches)
    plain = _outputs_without_checkpoints(PartitionState(0, bare, {}, profiles), batches)
    assert kept["counts"]["joined"] and kept["counts"]["expired_labels"]
    assert plain == kept


def test_a_state_keeping_no_sources_refuses_a_checkpoint(loan_profile):
    state = PartitionState(0, dataclasses.replace(CONFIG, join_sources=False), {},
                           lambda n, v: loan_profile)
    with pytest.raises(RuntimeError, match="cannot be checkpointed"):
        state.snapshot()
