"""The consumer wrapper at its seam: a stand-in for librdkafka's client checks which calls wait,
how errors are sorted, and how watermark queries ride out a moving partition leader (the real
broker path runs in every integration test that reads a topic)."""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from driftline.kafka import Consumer
from driftline.settings import KafkaSettings

KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:1")


class _Message:
    def __init__(self, value: str, error: KafkaError | None = None) -> None:
        self._value, self._error = value, error

    def value(self) -> str:
        return self._value

    def error(self) -> KafkaError | None:
        return self._error

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0


class _Client:
    def __init__(self, queued: list, errors: list[int] | None = None) -> None:
        self.queued = [m if isinstance(m, _Message) else _Message(m) for m in queued]
        self.errors = list(errors or [])
        self.calls: list[tuple] = []

    def poll(self, timeout: float):
        self.calls.append(("poll", timeout))
        return self.queued.pop(0) if self.queued else None

    def consume(self, n: int, timeout: float):
        self.calls.append(("consume", n, timeout))
        taken, self.queued = self.queued[:n], self.queued[n:]
        return taken

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        self.calls.append(("watermarks", tp.partition))
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return (0, 42)


def _values(batch: list) -> list[str]:
    return [m.value() for m in batch]


def test_only_the_first_message_is_waited_for_the_rest_is_what_is_queued():
    client = _Client(["a", "b", "c", "d"])
    consumer = Consumer(KAFKA, "g", client=client)
    assert _values(consumer.poll_batch(3, 0.5)) == ["a", "b", "c"]
    assert client.calls == [("poll", 0.5), ("consume", 2, 0)]
    assert _values(consumer.poll_batch(3, 0.5)) == ["d"]


def test_nothing_within_the_timeout_gives_an_empty_batch_and_one_message_asks_no_more():
    empty = _Client([])
    assert Consumer(KAFKA, "g", client=empty).poll_batch(100, 0.25) == []
    assert empty.calls == [("poll", 0.25)]
    single = _Client(["a", "b"])
    assert _values(Consumer(KAFKA, "g", client=single).poll_batch(1, 0.25)) == ["a"]
    assert single.calls == [("poll", 0.25)]


def test_transient_errors_are_logged_once_and_skipped_fatal_ones_raise(caplog):
    transient = KafkaError(KafkaError._TRANSPORT)
    eof = KafkaError(KafkaError._PARTITION_EOF)
    client = _Client(["a", _Message("", transient), _Message("", eof), "b",
                      _Message("", transient)])
    consumer = Consumer(KAFKA, "g", client=client)
    with caplog.at_level(logging.WARNING, logger="driftline.kafka.consumer"):
        assert _values(consumer.consume(10, 0.1)) == ["a", "b"]
    assert len(caplog.records) == 1  # the same error code again within the interval is quiet
    fatal = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    with pytest.raises(KafkaException, match="fenced"):
        Consumer(KAFKA, "g", client=_Client([_Message("", fatal)])).consume(10, 0.1)


def test_strict_raises_on_every_error_but_the_end_of_a_partition():
    eof, transient = KafkaError(KafkaError._PARTITION_EOF), KafkaError(KafkaError._TRANSPORT)
    strict = Consumer(KAFKA, "g", strict=True, client=_Client([_Message("", eof), "a"]))
    assert _values(strict.consume(10, 0.1)) == ["a"]
    failing = Consumer(KAFKA, "g", strict=True, client=_Client([_Message("", transient)]))
    with pytest.raises(KafkaException, match=r"t \[0\]"):
        failing.consume(10, 0.1)


def test_commit_policy_sets_what_librdkafka_commits():
    stored = Consumer(KAFKA, "g")
    assert stored.config["enable.auto.commit"] is True
    assert stored.config["enable.auto.offset.store"] is False  # only what was stored
    assert Consumer(KAFKA, "g", commit="manual").config["enable.auto.commit"] is False
    assert Consumer(KAFKA).config["enable.auto.commit"] is False  # no group: never commits
    assert Consumer(KAFKA, "g", options={"fetch.max.bytes": 7}).config["fetch.max.bytes"] == 7
    with pytest.raises(ValueError, match="commit"):
        Consumer(KAFKA, "g", commit="auto")  # type: ignore[arg-type]


def test_a_partition_without_a_leader_yet_is_asked_again():
    client = _Client([], errors=[KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._TRANSPORT])
    assert Consumer(KAFKA, client=client).watermarks("t", 0, timeout=5) == (0, 42)
    assert len(client.calls) == 3


def test_other_errors_and_the_deadline_still_raise():
    with pytest.raises(KafkaException):
        Consumer(KAFKA, client=_Client([], [KafkaError.TOPIC_AUTHORIZATION_FAILED])).watermarks(
            "t", 0, timeout=5)
    stuck = _Client([], [KafkaError.NOT_LEADER_FOR_PARTITION] * 100)
    with pytest.raises(KafkaException):
        Consumer(KAFKA, client=stuck).watermarks("t", 0, timeout=0.5)
    assert 1 < len(stuck.calls) < 100


class _ClosingClient:
    """A group member whose close() runs the revoke callback, as librdkafka's does."""

    def __init__(self) -> None:
        self.on_revoke = None
        self.commits: list[tuple[list, bool]] = []
        self.closed = 0

    def commit(self, offsets, asynchronous: bool) -> None:
        self.commits.append(([(tp.topic, tp.partition, tp.offset) for tp in offsets],
                             asynchronous))

    def close(self) -> None:
        self.closed += 1
        if self.on_revoke is not None:
            self.on_revoke()


def test_the_revoke_run_by_close_commits_on_the_closing_client_and_then_it_stays_closed():
    client = _ClosingClient()
    consumer = Consumer(KAFKA, "g", commit="manual", client=client)
    client.on_revoke = lambda: consumer.commit([TopicPartition("t", 0, 7)], wait=False)
    consumer.close()
    # the member's last commit went through the member, not through a new client
    assert client.commits == [([("t", 0, 7)], True)] and client.closed == 1
    assert not consumer.created
    with pytest.raises(RuntimeError, match="closed"):
        consumer.commit([TopicPartition("t", 0, 8)])
    consumer.close()  # a second close does nothing
    assert client.closed == 1 and not consumer.created
