"""The source loop moves a message read from a partition its key does not belong to (another
client's partitioner wrote it) to the partition of its key, counted, and goes on (fakes for
the consumer and the producer; the real broker path is tests/integration/test_contract.py)."""

from __future__ import annotations

import msgspec
import pytest

from driftline.events import LabelEvent, PredictionEvent
from driftline.kafka import Consumer
from driftline.partitioning import partition_of
from monitor.settings import MonitorSettings
from monitor.state.changelog import ChangelogStore
from monitor.state.join import encode_slot
from monitor.state.partition import PartitionState
from monitor.worker.metrics import SourceMetrics
from monitor.worker.source_loop import SourceLoop
from tests.monitor.worker.test_source_parking import LABELS, PREDICTIONS, FakeConsumer, Msg

P, PARTITIONS = 3, 6
HOME = [f"p{i}" for i in range(200) if partition_of(f"p{i}".encode(), PARTITIONS) == P][:3]
AWAY = [f"p{i}" for i in range(200) if partition_of(f"p{i}".encode(), PARTITIONS) != P][:3]


class KeyedMsg(Msg):
    def headers(self) -> list[tuple[str, bytes]]:
        return [("source", b"test")]


class PlacingProducer:
    """Records what is produced, with the partition asked for."""

    def __init__(self) -> None:
        self.placed: list[tuple[str, bytes, int | None]] = []

    def produce(self, topic, value, key=None, *, partition=None, **_kw) -> None:
        self.placed.append((topic, key, partition))

    def produce_many(self, topic, messages, *, partition=None) -> None:
        for m in messages:
            self.produce(topic, m["value"], m.get("key"), partition=partition)

    def send(self, topic, event) -> None:
        self.placed.append((topic, event.key, None))


@pytest.fixture
def loop(loan_profile, monitor_metrics: SourceMetrics) -> SourceLoop:
    monitor = MonitorSettings(kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t."},
                              event_time_floor="1970-01-01T00:00:00Z")  # events near 0
    loop = SourceLoop(monitor, "t.mon", lambda n, v: loan_profile, monitor_metrics)
    loop._consumer = Consumer(monitor.kafka, client=FakeConsumer())
    loop._producer = loop._dead._producer = PlacingProducer()  # type: ignore[assignment]
    loop._partition_counts = {PREDICTIONS: PARTITIONS, LABELS: PARTITIONS}
    loop.states[P] = PartitionState(P, loop.config, ChangelogStore(encode_slot),
                                    lambda n, v: loan_profile)
    return loop


def _prediction(offset: int, pid: str) -> KeyedMsg:
    return KeyedMsg(PREDICTIONS, offset, msgspec.json.encode(PredictionEvent(
        prediction_id=pid, event_time=1000.0 + offset, model_name="credit-risk",
        model_version="1", features={"loan_amount": 1000.0}, score=0.3, decision="LOW")),
        key=pid.encode())


def _label(offset: int, pid: str) -> KeyedMsg:
    return KeyedMsg(LABELS, offset, msgspec.json.encode(LabelEvent(
        prediction_id=pid, event_time=1030.0 + offset, label=1)), key=pid.encode())


def _rerouted(metrics: SourceMetrics, topic: str) -> float:
    return metrics.rerouted.labels(topic)._value.get()


def test_a_message_of_another_partition_is_produced_there_and_not_applied_here(loop):
    before = (_rerouted(loop.metrics, PREDICTIONS), _rerouted(loop.metrics, LABELS))
    applied = loop.metrics.events.labels(PREDICTIONS, "prediction")._value.get()
    loop.apply([_prediction(0, HOME[0]), _prediction(1, AWAY[0]), _prediction(2, HOME[1]),
                _label(0, AWAY[1]), _label(1, HOME[0])])
    moved = {(t, k, p) for t, k, p in loop._producer.placed if t in (PREDICTIONS, LABELS)}
    assert moved == {
        (PREDICTIONS, AWAY[0].encode(), partition_of(AWAY[0].encode(), PARTITIONS)),
        (LABELS, AWAY[1].encode(), partition_of(AWAY[1].encode(), PARTITIONS)),
    }
    state = loop.states[P]
    assert state.offsets == {PREDICTIONS: 2, LABELS: 1}  # the moved ones' offsets advance too
    assert loop.metrics.events.labels(PREDICTIONS, "prediction")._value.get() == applied + 2
    assert (_rerouted(loop.metrics, PREDICTIONS), _rerouted(loop.metrics, LABELS)) == (
        before[0] + 1, before[1] + 1)


def test_a_moved_message_read_again_after_its_checkpoint_is_not_moved_twice(loop):
    loop.apply([_prediction(0, AWAY[0]), _prediction(1, HOME[0])])
    loop.apply([_prediction(0, AWAY[0]), _prediction(1, HOME[0])])  # replayed
    assert [t for t, _, _ in loop._producer.placed].count(PREDICTIONS) == 1


def test_every_message_stays_when_every_key_belongs_here(loop):
    loop.apply([_prediction(i, pid) for i, pid in enumerate(HOME)]
               + [_label(i, pid) for i, pid in enumerate(HOME)])
    assert not [t for t, _, _ in loop._producer.placed if t in (PREDICTIONS, LABELS)]
    assert loop.states[P].offsets == {PREDICTIONS: 2, LABELS: 2}
