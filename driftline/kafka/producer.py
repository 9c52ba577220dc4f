"""A thin, lazy, typed producer over confluent-kafka shared by every service.

Idempotent with ``acks=all``; every delivery report is counted; a full local queue is retried
by polling for a bounded time before :class:`~driftline.errors.PublishError`; ``close``
flushes, then destroys the client (its threads and connections end then, not whenever the
object is collected). No network call happens until the first message is produced.

A delivery callback may produce (a failed message sent again, or to the dead-letter topic),
but it runs inside the producer's own poll or flush, where no blocking call on the same
client is safe: confluent-kafka clears the client's call state when such a call returns,
and the next delivery report of the same poll aborts the process
(``CallState_get: Assertion `cs != NULL' failed``). So a message a callback produces while
the local queue is full is held in memory and enqueued once the poll or flush has returned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, Message
from confluent_kafka import Producer as _ConfluentProducer

from driftline.errors import PublishError
from driftline.events import Event, encode
from driftline.logs import client_logging
from driftline.settings import KafkaSettings

__all__ = ["DeliveryCallback", "Producer"]

log = logging.getLogger(__name__)

DeliveryCallback = Callable[[KafkaError | None, Message], None]
Headers = Sequence[tuple[str, bytes | str]] | dict[str, bytes | str] | None

_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "batch.num.messages": 10000,
    # murmur2 like the Java client and aiokafka (faust): the same key lands on the same
    # partition whichever client wrote it, which the monitor's co-partitioned join needs.
    "partitioner": "murmur2_random",
}


class Producer:
    """Produce bytes or events to Kafka.

    ``options`` are librdkafka settings layered over driftline's defaults and the cluster's
    security settings. With ``background_poll=True`` a daemon thread serves delivery reports,
    so callers on an event loop only ever enqueue (``produce`` never waits on the network).
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        options: dict[str, Any] | None = None,
        background_poll: bool = False,
        buffer_wait_s: float = 5.0,
    ) -> None:
        self._config = {**_DEFAULTS, **settings.confluent_config(), **client_logging(),
                        **(options or {})}
        self._client: _ConfluentProducer | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._background_poll = background_poll
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._buffer_wait_s = buffer_wait_s
        # per thread: whether it is inside a poll or flush of the client (serving callbacks)
        self._serving = threading.local()
        # messages produced by callbacks while the queue was full: (topic, value, options)
        self._deferred: deque[tuple[str, bytes | None, dict[str, Any]]] = deque()
        self._deferred_lock = threading.Lock()
        self.delivered = 0
        self.failed = 0
        self.last_error: KafkaError | None = None
        self._report = self._on_delivery(None)  # shared by every produce without a callback

    @property
    def client(self) -> _ConfluentProducer:
        """The underlying confluent-kafka producer, created on first use; PublishError once
        the producer is closed."""
        if self._client is None:
            with self._lock:
                if self._closed:
                    raise PublishError("the producer is closed")
                if self._client is None:
                    self._client = _ConfluentProducer(self._config)
                    if self._background_poll:
                        self._poller = threading.Thread(
                            target=self._poll_forever, name="driftline-producer-poll", daemon=True
                        )
                        self._poller.start()
        return self._client

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            self._serve("poll", 0.1)

    def _serve(self, call: str, timeout: float) -> int:
        """``poll`` or ``flush`` the client, its callbacks served on this thread, then
        enqueue what they produced that did not fit."""
        if self._in_callback():
            raise RuntimeError(f"{call}() called from a delivery callback of the same producer")
        self._serving.active = True
        try:
            result = getattr(self.client, call)(timeout)
        finally:
            self._serving.active = False
        self._enqueue_deferred()
        return result

    def _in_callback(self) -> bool:
        """Whether this thread is inside a poll or flush of the client (so in a callback)."""
        return getattr(self._serving, "active", False)

    def _enqueue_deferred(self) -> None:
        """Enqueue the messages callbacks held back, in their order, as far as the queue
        has room (the rest wait for the next poll or flush)."""
        if not self._deferred or not self._deferred_lock.acquire(blocking=False):
            return  # (another thread is enqueuing them)
        try:
            client = self.client
            while self._deferred:
                topic, value, kwargs = self._deferred[0]
                try:
                    client.produce(topic, value, **kwargs)
                except BufferError:
                    return
                self._deferred.popleft()
        finally:
            self._deferred_lock.release()

    def _on_delivery(self, callback: DeliveryCallback | None) -> DeliveryCallback:
        def report(err: KafkaError | None, msg: Message) -> None:
            if err is None:
                self.delivered += 1
            else:
                self.failed += 1
                self.last_error = err
                log.warning("delivery to %s failed: %s", msg.topic(), err)
            if callback is not None:
                callback(err, msg)

        return report

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        *,
        headers: Headers = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        on_delivery: DeliveryCallback | None = None,
        wait: bool = True,
    ) -> None:
        """Enqueue one message. When the local queue is full, poll and retry for up to
        ``buffer_wait_s`` (or not at all with ``wait=False``), then raise PublishError."""
        kwargs: dict[str, Any] = {
            "on_delivery": self._report if on_delivery is None else self._on_delivery(on_delivery)
        }
        if key is not None:
            kwargs["key"] = key
        if headers:
            kwargs["headers"] = headers
        if partition is not None:
            kwargs["partition"] = partition
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        if self._in_callback():  # never wait: what does not fit goes after the poll
            if not self._deferred:  # (else after those held back already)
                try:
                    self.client.produce(topic, value, **kwargs)
                    return
                except BufferError:
                    pass
            self._deferred.append((topic, value, kwargs))
            return
        self._produce(topic, value, kwargs, self._buffer_wait_s if wait else 0.0)

    def _produce(self, topic: str, value: bytes | None, kwargs: dict[str, Any],
                 wait_s: float) -> None:
        client = self.client
        deadline = time.monotonic() + wait_s
        while True:
            try:
                client.produce(topic, value, **kwargs)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    raise self._queue_full(topic) from None
                self._serve("poll", 0.05)

    def produce_many(
        self, topic: str, messages: list[dict[str, Any]], *, partition: int | None = None
    ) -> None:
        """Enqueue ``messages`` (dicts of ``key`` and ``value``, None for a tombstone) in one
        call, cheaper than a ``produce`` per message, for hot paths. They go
        to ``partition`` when given, else where their key hashes (a ``partition`` inside a
        message dict is ignored by confluent-kafka 2.16's batch call, so it is not offered).

        Messages refused because the local queue is full are retried, in their order, by
        polling for up to ``buffer_wait_s``, then PublishError; any other refusal raises at
        once. Their relative order may differ from the list when a retry happens, so keep
        messages whose order matters (on one partition) out of one call. No headers (a
        limit of librdkafka's batch call)."""
        client = self.client
        deadline = time.monotonic() + self._buffer_wait_s
        while True:
            # librdkafka's batch call queues what fits and marks each refused message with
            # "_error" (a full queue does not raise BufferError here, as produce() does)
            if partition is None:
                queued = client.produce_batch(topic, messages, on_delivery=self._report)
            else:
                queued = client.produce_batch(topic, messages, partition=partition,
                                              on_delivery=self._report)
            if queued == len(messages):
                return
            refused = [m for m in messages if "_error" in m]
            errors = {m.pop("_error").code() for m in refused}
            if errors - {KafkaError._QUEUE_FULL}:
                raise PublishError(
                    f"{len(refused)} messages to {topic!r} were refused: "
                    f"{', '.join(KafkaError(c).name() for c in sorted(errors))}"
                )
            if time.monotonic() >= deadline:
                raise self._queue_full(topic)
            self._serve("poll", 0.05)
            messages = refused

    def _queue_full(self, topic: str) -> PublishError:
        return PublishError(
            f"the local Kafka queue is full ({len(self.client)} messages waiting for "
            f"{topic!r}); is the broker at {self._config['bootstrap.servers']} reachable?"
        )

    def send(
        self,
        topic: str,
        event: Event,
        *,
        headers: Headers = None,
        on_delivery: DeliveryCallback | None = None,
        wait: bool = True,
    ) -> None:
        """Encode ``event`` and produce it under its own key."""
        self.produce(
            topic, encode(event), event.key, headers=headers, on_delivery=on_delivery, wait=wait
        )

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports; returns how many were served."""
        return self._serve("poll", timeout)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every queued message is delivered or failed; returns how many remain
        (messages produced by its delivery callbacks included)."""
        if self._client is None:
            return 0
        deadline = time.monotonic() + timeout
        while True:  # (again while its callbacks produced more, enqueued after it)
            self._serve("flush", max(deadline - time.monotonic(), 0.0))
            left = self.pending()
            if not left or time.monotonic() >= deadline:
                return left

    def pending(self) -> int:
        """Messages queued locally (or held back by a callback) and not yet acknowledged."""
        return (0 if self._client is None else len(self._client)) + len(self._deferred)

    def close(self, timeout: float = 30.0) -> int:
        """Flush, stop the poll thread and destroy the client; returns how many messages
        were left undelivered. A closed producer produces no more (PublishError); closing
        again does nothing."""
        if self._closed:
            return 0
        remaining = self.flush(timeout)
        self._stopping.set()
        if self._poller is not None:
            self._poller.join(timeout=1.0)
        if remaining:
            log.error("%d messages were still queued when the producer closed", remaining)
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None and not remaining and not (self._poller and self._poller.is_alive()):
            # (with messages left, librdkafka's close would wait for them without a bound,
            # and a poll still running in a callback needs the client: the handle then ends
            # when the last reference to it goes)
            client.close()
        return remaining

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
