"""The producer wrapper's delivery callbacks may produce (a failed message to the dead-letter
topic) even while the local queue is full: the message is held and enqueued once the poll or
flush that ran the callback has returned. A blocking call on the client from inside its own
callback would make confluent-kafka abort the process at the next delivery report, so the
real client runs here (librdkafka with no broker behind 127.0.0.1:1, its messages timing
out), in a child process whose abort fails the test instead of stopping pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from driftline.kafka import Producer
from driftline.settings import KafkaSettings

_SCRIPT = textwrap.dedent("""
    import time
    from driftline.kafka import Producer
    from driftline.settings import KafkaSettings

    producer = Producer(KafkaSettings(bootstrap_servers="127.0.0.1:1"), options={
        "queue.buffering.max.messages": 10, "message.timeout.ms": 300, "log_level": 0})
    seen = {"failed": 0, "letters": 0}

    def letter(err, msg):
        seen["letters"] += 1

    def failed(err, msg):  # the queue is full when the first reports come
        seen["failed"] += 1
        producer.produce("dead-letter", msg.value(), on_delivery=letter)

    for i in range(10):
        producer.produce("t", b"v%d" % i, on_delivery=failed)
    time.sleep(0.5)
    left = producer.flush(5.0)
    print(seen["failed"], seen["letters"], left, producer.pending())
""")


def test_a_callback_producing_into_a_full_queue_neither_aborts_nor_loses_its_message():
    run = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    # every message timed out (no broker); each callback's message was enqueued after the
    # flush that ran it, and reported in turn
    assert run.stdout.split() == ["10", "10", "0", "0"]


class _FullClient:
    """A client whose queue holds ``room`` messages; poll() serves one queued report."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.queued: list[tuple[str, bytes, object]] = []
        self.produced: list[bytes] = []
        self.serving = False

    def produce(self, topic, value, on_delivery=None, **_kw) -> None:
        if len(self.queued) >= self.room:
            raise BufferError
        self.queued.append((topic, value, on_delivery))
        self.produced.append(value)

    def poll(self, timeout: float) -> int:
        assert not self.serving, "a poll from inside a delivery callback"
        if not self.queued:
            return 0
        self.serving = True
        try:
            _topic, value, report = self.queued.pop(0)
            self.room -= 1  # the queue stays full: the callback's message cannot fit now
            report(None, _Msg(value))
        finally:
            self.serving = False
        self.room += 1
        return 1

    def __len__(self) -> int:
        return len(self.queued)


class _Msg:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "t"


def test_messages_held_back_by_callbacks_are_enqueued_in_order_after_the_poll():
    producer = Producer(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    client = producer._client = _FullClient(room=2)  # type: ignore[assignment]

    def again(_err, msg) -> None:
        producer.produce("dead-letter", msg.value() + b"!")
        producer.produce("dead-letter", msg.value() + b"?")

    producer.produce("t", b"a", on_delivery=again)
    producer.produce("t", b"b", on_delivery=again)
    assert producer.pending() == 2
    producer.poll(0)  # serves a: its two messages do not fit while it runs
    assert client.produced == [b"a", b"b", b"a!"] and producer.pending() == 3
    for _ in range(10):  # each poll serves one report and makes room for one held back
        producer.poll(0)
    assert producer.pending() == 0
    assert client.produced == [b"a", b"b", b"a!", b"a?", b"b!", b"b?"]  # in their order


def test_a_poll_from_a_delivery_callback_raises_instead_of_reaching_the_client():
    producer = Producer(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    producer._client = _FullClient(room=1)  # type: ignore[assignment]
    producer.produce("t", b"a", on_delivery=lambda _err, _msg: producer.poll(0))
    with pytest.raises(RuntimeError, match="delivery callback"):
        producer.poll(0)


_CLOSE_SCRIPT = textwrap.dedent("""
    import os
    from driftline.errors import PublishError
    from driftline.kafka import Producer
    from driftline.settings import KafkaSettings

    def threads():  # this process's threads, librdkafka's native ones included
        return len(os.listdir("/proc/self/task"))

    before = threads()
    producer = Producer(KafkaSettings(bootstrap_servers="127.0.0.1:1"), background_poll=True,
                        options={"log_level": 0})
    producer.client
    opened = threads()
    left = producer.close(timeout=1.0)
    closed = threads()
    try:
        producer.produce("t", b"late")
        late = "produced"
    except PublishError as e:
        late = "refused" if "closed" in str(e) else str(e)
    print(before, opened, closed, left, late, producer.close(), producer.pending())
""")


def test_close_destroys_the_client_and_its_threads_while_the_producer_lives_on():
    # librdkafka's threads keep reconnecting to a gone broker for as long as the client
    # lives, so a closed producer that something still holds must not keep its client.
    # (In a child process: no other client's threads come or go meanwhile.)
    run = subprocess.run([sys.executable, "-c", _CLOSE_SCRIPT], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    before, opened, closed, left, late, again, pending = run.stdout.split()
    assert int(opened) > int(before) and closed == before
    assert (left, late, again, pending) == ("0", "refused", "0", "0")
