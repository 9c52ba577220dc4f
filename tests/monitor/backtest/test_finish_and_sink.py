"""The backtest's pure pieces: a partition closing its windows at the end of a range, the
memory sink taking the source loop's output, and the judging of partials per policy."""

from __future__ import annotations

import msgspec

from driftline.events import DeadLetter, LabelEvent, PredictionEvent, encode
from monitor.backtest.judging import PolicyJudge
from monitor.backtest.sink import MemorySink
from monitor.drift.windows import EventTimeWindows
from monitor.merging.policy_file import MonitoringPolicy
from monitor.state.partition import Partial, PartitionConfig, PartitionState
from producers.generator import LoanGenerator

CONFIG = PartitionConfig(EventTimeWindows(size=60, grace=5), label_wait=40, join_ttl=86_400,
                         join_retention=3_600)
T0 = 1_700_000_040.0  # a window boundary


def _fed(profile, seconds: float) -> PartitionState:
    """A partition fed 10 predictions a second for ``seconds`` and every label, 30 s late."""
    state = PartitionState(0, CONFIG, {}, lambda n, v: profile)
    n = int(seconds * 10)
    batch = LoanGenerator(5).sample(n)
    preds, labels = [], []
    for i, (row, y, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                        batch.probabilities.tolist(), strict=True)):
        t = T0 + i / 10.0
        preds.append(PredictionEvent(prediction_id=f"p{i}", event_time=t,
                                     model_name="credit-risk", model_version="1",
                                     features=row, score=p, decision="LOW"))
        labels.append(LabelEvent(prediction_id=f"p{i}", event_time=t + 30.0, label=y))
    state.on_predictions("predictions", list(range(n)), preds, [encode(e) for e in preds])
    state.on_labels("labels", list(range(n)), labels, [encode(e) for e in labels])
    return state


def _windows(partials: list[Partial], kind: str) -> list[float]:
    return sorted(p.window_start for p in partials if p.kind == kind)


def test_finish_closes_every_window_that_ends_by_the_watermark_and_no_later_one(loan_profile):
    state = _fed(loan_profile, 300)  # five windows of predictions, the last still open
    closed = state.close()
    assert _windows(closed, "drift") == [T0, T0 + 60, T0 + 120, T0 + 180]
    finished = state.finish(T0 + 300)
    assert _windows(finished, "drift") == [T0 + 240]
    # labels came 30 s after their predictions: the last windows' labels are all in, and
    # finishing closes the performance windows that wait for label_wait to pass
    assert set(_windows(closed + finished, "performance")) == {T0 + 60 * i for i in range(5)}
    assert finished[-1].kind == "watermark" and finished[-1].watermark == T0 + 300
    assert state.finish(T0 + 300) == [finished[-1]]  # nothing closes twice


def test_finish_keeps_windows_ending_after_the_watermark_open(loan_profile):
    state = _fed(loan_profile, 300)
    state.close()
    finished = state.finish(T0 + 290)
    assert _windows(finished, "drift") == []


def test_the_memory_sink_sorts_the_loops_output_by_topic():
    got: list[Partial] = []
    sink = MemorySink(partials="x-partials", labeled="labeled", dead_letter="dead-letter",
                      on_partial=got.append)
    partial = Partial(kind="watermark", partition=3, watermark=10.0)
    sink.produce("x-partials", msgspec.json.encode(partial), partial.key, partition=0)
    sink.produce_many("labeled", [{"key": b"a", "value": b"{}"}, {"key": b"b", "value": b"{}"}])
    sink.send("dead-letter", DeadLetter(event_time=T0, source_topic="predictions", error="bad"))
    sink.produce("predictions", b"{}", b"k", partition=2)
    handed = Partial(kind="watermark", partition=4, watermark=11.0)
    sink.take(handed)
    assert got == [partial, handed] and got[1] is handed  # taken as it is, not encoded
    assert sink.joined == 2 and sink.labeled == []  # counted, not kept unless asked
    assert [d.error for d in sink.dead_letters] == ["bad"]
    assert sink.not_moved == {"predictions": 1}


def test_a_policy_judge_judges_once_every_partition_has_passed_and_keeps_the_range(
        loan_profile):
    judge = PolicyJudge("p", "test", MonitoringPolicy(), partitions=2,
                        profiles=lambda n, v: loan_profile, baselines=lambda n, v: {},
                        min_labeled=50, start=T0 + 60, end=T0 + 300)
    states = [_fed(loan_profile, 300), _fed(loan_profile, 300)]
    states[1].partition = 1
    for partial in states[0].close() + states[0].finish(T0 + 300):
        judge.add(partial)
    assert judge.outcome.windows == []  # partition 1 has said nothing yet
    for state in states[1:]:
        for partial in state.close() + state.finish(T0 + 300):
            judge.add(msgspec.structs.replace(partial, partition=1))
    drift = sorted(j.window_start for j in judge.outcome.windows if j.kind == "drift")
    assert drift == [T0 + 60, T0 + 120, T0 + 180, T0 + 240]  # the first is before the range
    assert all(j.partitions == 2 for j in judge.outcome.windows)


def test_judges_given_the_same_partials_unencoded_judge_as_from_their_json_and_change_none(
        loan_profile):
    states = [_fed(loan_profile, 300), _fed(loan_profile, 300)]
    states[1].partition = 1
    partials = [p for state in states for p in state.close() + state.finish(T0 + 300)]
    before = [msgspec.json.encode(p) for p in partials]

    def judge() -> PolicyJudge:
        return PolicyJudge("p", "test", MonitoringPolicy(), partitions=2,
                           profiles=lambda n, v: loan_profile, baselines=lambda n, v: {},
                           min_labeled=50, start=T0, end=T0 + 300)

    shared, again, decoded = judge(), judge(), judge()
    for partial, data in zip(partials, before, strict=True):
        shared.add(partial)
        again.add(partial)
        decoded.add(msgspec.json.decode(data, type=Partial))
    assert [msgspec.json.encode(p) for p in partials] == before
    assert shared.outcome.windows
    assert shared.outcome == again.outcome == decoded.outcome
