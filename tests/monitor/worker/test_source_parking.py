"""The source loop keeps a partition's two topics in step by parking what runs ahead (fakes
for the consumer and the producer; the real broker path is tests/integration/test_monitor.py,
test_a_backlog_far_longer_than_the_ttl_...)."""

from __future__ import annotations

import msgspec
import pytest

from driftline.events import LabeledEvent, LabelEvent, PredictionEvent, decode
from driftline.kafka import Consumer
from monitor.settings import MonitorSettings
from monitor.state.changelog import ChangelogStore
from monitor.state.join import encode_slot
from monitor.state.partition import PartitionState
from monitor.worker.metrics import SourceMetrics
from monitor.worker.source_loop import SourceLoop

P = 3  # the partition under test
PREDICTIONS, LABELS = "t.predictions", "t.labels"


class Msg:
    def __init__(self, topic: str, offset: int, value: bytes, key: bytes = b"k") -> None:
        self._topic, self._offset, self._value, self._key = topic, offset, value, key

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return P

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return self._key

    def error(self) -> None:
        return None


class FakeConsumer:
    """High watermarks as set by the test; pauses and resumes recorded."""

    def __init__(self) -> None:
        self.high = {PREDICTIONS: 0, LABELS: 0}
        self.calls: list[tuple[str, str]] = []

    def get_watermark_offsets(self, tp, cached: bool = False) -> tuple[int, int]:
        return 0, self.high[tp.topic]

    def pause(self, tps) -> None:
        self.calls += [("pause", tp.topic) for tp in tps]

    def resume(self, tps) -> None:
        self.calls += [("resume", tp.topic) for tp in tps]


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self.letters: list[tuple[str, object]] = []

    def send(self, topic, event) -> None:
        self.letters.append((topic, event))

    def produce(self, topic, value, key=None, *, partition=None, **_kw) -> None:
        self.sent.append((topic, value))

    def produce_many(self, topic, messages, *, partition=None) -> None:
        for m in messages:
            self.produce(topic, m["value"], m.get("key"), partition=partition)

    def poll(self, timeout: float = 0) -> int:
        return 0


@pytest.fixture
def loop_of(loan_profile, monitor_metrics: SourceMetrics):
    def make(**settings) -> tuple[SourceLoop, FakeConsumer, FakeProducer]:
        monitor = MonitorSettings(
        event_time_floor="1970-01-01T00:00:00Z",
        kafka={"bootstrap_servers": "127.0.0.1:1", "topic_prefix": "t."},
                                  source_align=300.0, join_ttl=3600.0, **settings)
        loop = SourceLoop(monitor, "t.mon", lambda n, v: loan_profile, monitor_metrics)
        consumer, producer = FakeConsumer(), FakeProducer()
        loop._consumer = Consumer(monitor.kafka, client=consumer)
        loop._producer = producer  # type: ignore[assignment]
        loop._dead._producer = producer  # type: ignore[attr-defined]
        loop.states[P] = PartitionState(P, loop.config, ChangelogStore(encode_slot),
                                        lambda n, v: loan_profile)
        return loop, consumer, producer
    return make


def _prediction(i: int, t: float) -> Msg:
    return Msg(PREDICTIONS, i, msgspec.json.encode(PredictionEvent(
        prediction_id=f"p{i}", event_time=t, model_name="credit-risk", model_version="1",
        features={"loan_amount": 1000.0}, score=0.3, decision="LOW")))


def _label(i: int, t: float) -> Msg:
    return Msg(LABELS, i, msgspec.json.encode(LabelEvent(prediction_id=f"p{i}", event_time=t,
                                                         label=i % 2)))


def _joined(producer: FakeProducer) -> list[str]:
    return [decode(LabeledEvent, v).prediction.prediction_id
            for topic, v in producer.sent if topic == "t.labeled"]


def _parked(metrics: SourceMetrics, topic: str) -> float:
    return metrics.parked.labels(topic)._value.get()


def test_labels_further_ahead_than_the_slack_wait_until_their_predictions_are_read(loop_of):
    loop, consumer, producer = loop_of()
    consumer.high = {PREDICTIONS: 10, LABELS: 10}
    # predictions every 100 s of event time; each label 30 s after its prediction
    loop.apply([_prediction(i, 1000.0 + 100 * i) for i in range(3)]
               + [_label(i, 1030.0 + 100 * i) for i in range(10)])
    # predictions read up to 1200 and seven more to read: labels up to 1500 applied
    state = loop.states[P]
    assert state.label_max == 1430.0
    assert state.offsets[LABELS] == 4
    assert _joined(producer) == ["p0", "p1", "p2"]
    assert _parked(loop.metrics, LABELS) == 5
    loop.apply([_prediction(i, 1000.0 + 100 * i) for i in range(3, 10)])
    # the predictions have nothing left to read: nothing waits for them any more
    assert _joined(producer) == [f"p{i}" for i in range(10)]
    assert state.offsets == {PREDICTIONS: 9, LABELS: 9}
    assert _parked(loop.metrics, LABELS) == 0
    assert not loop._parked


def test_nothing_waits_when_the_other_topic_has_nothing_left_to_read(loop_of):
    loop, consumer, producer = loop_of()
    consumer.high = {PREDICTIONS: 1, LABELS: 5}
    loop.apply([_prediction(0, 1000.0)] + [_label(i, 90_000.0 + i) for i in range(5)])
    assert loop.states[P].offsets == {PREDICTIONS: 0, LABELS: 4}
    assert _joined(producer) == ["p0"]


def test_a_topic_waits_for_the_first_fetch_of_the_other(loop_of):
    loop, consumer, _ = loop_of()
    consumer.high = {PREDICTIONS: 5, LABELS: -1}  # labels not fetched yet: perhaps behind
    loop.apply([_prediction(i, 1000.0 + i) for i in range(5)])
    assert PREDICTIONS not in loop.states[P].offsets
    consumer.high[LABELS] = 0  # fetched: nothing there
    loop.apply([])  # (the loop drains what is parked even when a fetch brings nothing)
    assert loop.states[P].offsets == {PREDICTIONS: 4}


def test_two_topics_each_ahead_of_the_other_never_wait_for_each_other(loop_of):
    loop, consumer, producer = loop_of()
    consumer.high = {PREDICTIONS: 10, LABELS: 10}
    loop.apply([_prediction(0, 1000.0), _label(0, 1000.0)])
    # both jump far past the other's clock, both with more to read: of the two heads the
    # earlier goes first, then the other is within the slack of it
    loop.apply([_prediction(1, 5000.0), _label(1, 5100.0)])
    assert loop.states[P].offsets == {PREDICTIONS: 1, LABELS: 1}
    assert _joined(producer) == ["p0", "p1"]


def test_a_bad_message_waits_its_turn_and_goes_to_the_dead_letter_topic(loop_of):
    loop, consumer, producer = loop_of()
    consumer.high = {PREDICTIONS: 10, LABELS: 10}
    loop.apply([_prediction(0, 1000.0), _label(0, 1030.0), _label(1, 5000.0),
                Msg(LABELS, 2, b"{not json"), _label(3, 5010.0)])
    assert loop.states[P].offsets[LABELS] == 0  # 5000 waits, and what came after it
    assert not producer.letters
    loop.apply([_prediction(1, 4800.0)])
    assert loop.states[P].offsets[LABELS] == 3
    ((topic, letter),) = producer.letters
    assert (topic, letter.source_topic, letter.source_offset) == ("t.dead-letter", LABELS, 2)
    assert letter.value == b"{not json"
    assert _joined(producer) == ["p0", "p1"]


def test_a_topic_partition_that_parked_too_much_stops_fetching_until_half_is_applied(loop_of):
    loop, consumer, _ = loop_of(source_park_bytes=1000)
    consumer.high = {PREDICTIONS: 100, LABELS: 100}
    labels = [_label(i, 2000.0 + i) for i in range(30)]  # about 1,700 bytes
    loop.apply([_prediction(0, 1000.0), *labels])
    assert consumer.calls == [("pause", LABELS)]
    assert _parked(loop.metrics, LABELS) == 30
    loop.apply([_prediction(i, 1700.0 + i) for i in range(1, 11)])  # labels up to 2009 go
    assert consumer.calls == [("pause", LABELS)]  # 20 labels left: still over half
    loop.apply([_prediction(i, 1710.0 + i) for i in range(11, 31)])
    assert consumer.calls == [("pause", LABELS), ("resume", LABELS)]
    assert _parked(loop.metrics, LABELS) == 0


def test_a_partition_taken_away_forgets_what_it_parked(loop_of):
    loop, consumer, _ = loop_of(source_park_bytes=1000)
    consumer.high = {PREDICTIONS: 100, LABELS: 100}
    loop.apply([_prediction(0, 1000.0)] + [_label(i, 2000.0 + i) for i in range(30)])
    loop._drop([P])
    assert not loop._parked and not loop._paused and not loop._parked_bytes
    loop.apply([_label(31, 3000.0)])  # a message of it still in flight: ignored
    assert not loop._parked
