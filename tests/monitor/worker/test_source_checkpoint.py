"""The source loop's checkpoint protocol at its Kafka seams (fakes for the producer and the
consumer; the real broker path is tests/integration/test_monitor.py): the order of writes,
and that after a lost write nothing more is checkpointed or committed."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition

from driftline.events import LabelEvent, PredictionEvent
from driftline.kafka import Consumer
from monitor.settings import MonitorSettings
from monitor.state.changelog import ChangelogStore
from monitor.state.join import decode_slot, encode_slot
from monitor.state.partition import PartitionConfig, PartitionState
from monitor.worker import source_loop
from monitor.worker.metrics import SourceMetrics
from monitor.worker.source_loop import SourceLoop


class FakeProducer:
    def __init__(self) -> None:
        self.log: list[tuple[str, object]] = []
        self.values: list[bytes | None] = []  # what was produced, in order
        self.failed = 0
        self.last_error = None

    def produce(self, topic, value, key=None, *, partition=None, **_kw) -> None:
        self.log.append(("produce", (topic, key, partition, value is None)))
        self.values.append(value)

    def produce_many(self, topic, messages, *, partition=None) -> None:
        for m in messages:
            self.produce(topic, m["value"], m.get("key"), partition=partition)

    def flush(self, timeout: float = 30.0) -> int:
        self.log.append(("flush", None))
        return 0


class FakeConsumer:
    """The group member's client. A rebalance callback must make no blocking call on it
    (confluent-kafka aborts at the next callback of the same poll): metadata requests and
    commits that wait fail here."""

    def __init__(self) -> None:
        self.commits: list[list] = []
        self.waited: list[bool] = []  # per commit: whether it waited for the broker
        self.calls: list[str] = []

    def commit(self, offsets, asynchronous: bool = True) -> None:
        self.commits.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])
        self.waited.append(not asynchronous)

    def list_topics(self, *_a, **_kw):
        raise AssertionError("a metadata request on the group member's client")

    def assign(self, positions) -> None:
        self.calls.append("assign")

    def unassign(self) -> None:
        self.calls.append("unassign")

    def resume(self, positions) -> None:
        self.calls.append("resume")

    def pause(self, positions) -> None:
        self.calls.append("pause")


def _loop(loan_profile, metrics: SourceMetrics) -> tuple[SourceLoop, FakeProducer, FakeConsumer]:
    settings = MonitorSettings(
        event_time_floor="1970-01-01T00:00:00Z",
        kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t."})
    loop = SourceLoop(settings, "t.mon", lambda n, v: loan_profile, metrics)
    producer, consumer = FakeProducer(), FakeConsumer()
    loop._producer = producer  # type: ignore[assignment]
    loop._consumer = Consumer(settings.kafka, client=consumer)
    store = ChangelogStore(encode_slot)
    loop.states[3] = PartitionState(3, PartitionConfig(settings.windows()), store,
                                    lambda n, v: loan_profile)
    return loop, producer, consumer


def _apply_pair(loop: SourceLoop, offset: int) -> None:
    state = loop.states[3]
    pid = f"p{offset}"
    state.on_prediction(PredictionEvent(
        prediction_id=pid, event_time=100.0 + offset, model_name="credit-risk",
        model_version="1", features={}, score=0.2, decision="LOW"), "t.predictions", offset,
        close=False)
    state.on_label(LabelEvent(prediction_id=pid, event_time=130.0 + offset, label=0),
                   "t.labels", offset, close=False)


def test_slots_then_flush_then_checkpoint_then_flush_then_commit(loan_profile, monitor_metrics):
    loop, producer, consumer = _loop(loan_profile, monitor_metrics)
    _apply_pair(loop, 0)
    _apply_pair(loop, 1)
    loop.checkpoint([3])
    kinds = [(k, v[0] if v else None) for k, v in producer.log]
    assert kinds == [
        ("produce", "t.mon-join-changelog"), ("flush", None),
        ("produce", "t.mon-checkpoints"), ("flush", None),
    ]
    # both slots went out once (waiting then joined within the interval), in one segment,
    # on partition 3
    segments = [v for k, v in producer.log if v and v[0] == "t.mon-join-changelog"]
    assert [v[1] for v in segments] == [b"segment-0"]
    assert all(v[2] == 3 for k, v in producer.log if v)
    restored = ChangelogStore.restore([(b"segment-0", producer.values[0])],
                                      encode=encode_slot, decode=decode_slot)
    assert {k: s.status for k, s in restored.items()} == {"p0": "joined", "p1": "joined"}
    assert consumer.commits == [[("t.predictions", 3, 2), ("t.labels", 3, 2)]]


def test_after_a_lost_write_nothing_more_is_checkpointed_or_committed(
        loan_profile, monitor_metrics):
    loop, producer, consumer = _loop(loan_profile, monitor_metrics)
    _apply_pair(loop, 0)
    producer.failed = 1  # a delivery report said a message was lost
    with pytest.raises(RuntimeError, match="could not write the join changelog"):
        loop.checkpoint([3])
    assert not any(v and v[0] == "t.mon-checkpoints" for _, v in producer.log)
    producer.failed = 0
    producer.log.clear()
    _apply_pair(loop, 1)
    loop.checkpoint([3])  # e.g. from the revoke callback while leaving the group
    assert producer.log == [] and consumer.commits == []


class PausingConsumer:
    def __init__(self) -> None:
        self.paused: list[int] = []

    def pause(self, positions) -> None:
        self.paused.append(len(positions))


@pytest.mark.parametrize(("siblings", "taken", "waits"), [
    (2, 6, True),  # the group formed before the other joined: a rebalance is coming
    (2, 3, False),  # its share
    (3, 2, False),
    (3, 3, True),
    (1, 6, False),  # alone in the worker: every partition may be its share
])
def test_a_source_process_holding_more_than_its_share_at_start_waits_for_its_siblings(
    loan_profile, monitor_metrics, siblings: int, taken: int, waits: bool
):
    settings = MonitorSettings(kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t.",
                                      "partitions": 6})
    loop = SourceLoop(settings, "t.mon", lambda n, v: loan_profile, monitor_metrics,
                      siblings=siblings)
    consumer = PausingConsumer()
    positions = [None] * (2 * taken)
    loop._wait_for_siblings(Consumer(settings.kafka, client=consumer), positions, taken)  # type: ignore[arg-type]
    assert loop._waiting is waits
    assert consumer.paused == ([2 * taken] if waits else [])


def test_the_wait_for_siblings_ends_with_the_start_up(loan_profile, monitor_metrics):
    settings = MonitorSettings(
        event_time_floor="1970-01-01T00:00:00Z",
        kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t."})
    loop = SourceLoop(settings, "t.mon", lambda n, v: loan_profile, monitor_metrics,
                      siblings=2)
    consumer = PausingConsumer()
    loop._wait_for_siblings(Consumer(settings.kafka, client=consumer), [], 6)
    assert loop._waiting
    loop._settle_by = 0.0  # the wait is over: a later lopsided assignment reads at once
    loop._wait_for_siblings(Consumer(settings.kafka, client=consumer), [], 6)
    assert not loop._waiting


@pytest.mark.parametrize(("instance", "siblings", "member"), [
    (None, 1, None), ("worker-1", 1, "worker-1-source"), ("worker-1", 2, "worker-1-source-1"),
])
def test_the_source_group_takes_the_session_timeout_and_a_member_id_per_source_process(
    loan_profile, monitor_metrics, instance: str | None, siblings: int, member: str | None
):
    settings = MonitorSettings(monitor_session_timeout=10, monitor_instance_id=instance,
                               kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t."})
    loop = SourceLoop(settings, "t.mon", lambda n, v: loan_profile, monitor_metrics,
                      instance=siblings - 1, siblings=siblings)
    options = loop.group_options()
    assert options["session.timeout.ms"] == 10_000
    assert options["heartbeat.interval.ms"] < options["session.timeout.ms"] / 3
    assert options.get("group.instance.id") == member


def test_the_rebalance_callbacks_make_no_blocking_call_on_the_group_members_client(
    loan_profile, monitor_metrics, monkeypatch
):
    loop, _producer, consumer = _loop(loan_profile, monitor_metrics)
    _apply_pair(loop, 1)
    # revoked: checkpointed, the commit sent without waiting, the partition dropped
    loop._revoked(None, [TopicPartition("t.predictions", 3), TopicPartition("t.labels", 3)])
    assert consumer.commits == [[("t.predictions", 3, 2), ("t.labels", 3, 2)]]
    assert consumer.waited == [False]
    assert consumer.calls == ["unassign"] and 3 not in loop.states
    # assigned: the partition counts come through a client of their own
    asked: list[tuple[str, ...]] = []

    def counts(_kafka, topics):
        asked.append(tuple(topics))
        return dict.fromkeys(topics, 6)

    monkeypatch.setattr(source_loop, "partition_counts", counts)
    monkeypatch.setattr(loop._checkpoints, "read", lambda mine, _reject: (
        {}, {p: ChangelogStore(encode_slot) for p in mine}))
    loop._assigned(None, [TopicPartition("t.predictions", 3, -1001),
                          TopicPartition("t.labels", 3, -1001)])
    assert asked == [("t.predictions", "t.labels")]
    assert loop._partition_counts == {"t.predictions": 6, "t.labels": 6}
    assert consumer.calls == ["unassign", "assign", "resume"] and 3 in loop.states


def test_a_checkpoint_outside_the_callbacks_waits_for_its_commit(loan_profile, monitor_metrics):
    loop, _producer, consumer = _loop(loan_profile, monitor_metrics)
    _apply_pair(loop, 1)
    loop.checkpoint([3])
    assert consumer.waited == [True]
