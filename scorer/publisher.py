"""Publishing predictions to ``predictions``, and the policy when Kafka is unreachable.

The policy, in full:

1. **Publish before answering.** A prediction is answered over HTTP only once its
   PredictionEvent (features exactly as scored, model version, event time, key prediction_id)
   sits in the producer's queue. Enqueuing is a C call that never waits on the network:
   librdkafka's own threads send, and a daemon thread serves delivery reports, so the event
   loop is never blocked.
2. **Wait for the broker, don't expire.** The producer is idempotent with ``acks=all`` and
   ``message.timeout.ms=0``: a queued prediction waits for the broker however long it is away
   and librdkafka retries it without duplicates or reordering. A broker restart loses nothing.
3. **A bounded buffer, a short wait, then 503.** The queue holds at most
   ``DRIFTLINE_BUFFER_MAX_MESSAGES`` predictions (``queue.buffering.max.messages``). A request
   that would not fit waits up to ``DRIFTLINE_BUFFER_WAIT_MS`` (default 1 s) for Kafka to
   acknowledge enough; if the room does not come it is refused with 503 and ``Retry-After``
   *before* it is scored: the client knows it got no prediction, and nothing accepted is ever
   dropped. ``/ready`` reports the broker unreachable (error callback
   and a periodic metadata probe) and the buffer depth; ``/metrics`` exports both.
4. **Failures are counted, retried or dead-lettered.** Every failed delivery report increments
   ``driftline_scorer_publish_failures_total{reason}``. A retriable failure (possible only when an
   operator sets a finite ``message.timeout.ms``) is produced again; a permanent one (for
   example an authorization error) sends the event to ``dead-letter`` with the error, so it is
   never lost silently.
5. **Shutdown flushes** for up to 30 s and logs how many predictions were still queued.

The limit of the policy: predictions still queued in memory are lost if the *process* dies
(not the broker). Run replicas and keep the buffer small enough for the loss you accept, or
set ``DRIFTLINE_PUBLISH=ack``: then a request is answered only once the broker has
acknowledged its predictions (:class:`Acknowledged`), and 503 when that does not come within
``DRIFTLINE_ACK_TIMEOUT_S`` or a prediction was dead-lettered; nothing answered is lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

from confluent_kafka import KafkaError, KafkaException, Message

from driftline.errors import DriftlineError
from driftline.kafka import DeadLetterWriter, Producer
from driftline.logs import fields
from driftline.settings import KafkaSettings
from scorer.metrics import ScorerMetrics
from scorer.settings import ScorerSettings

__all__ = [
    "Ack",
    "Acknowledged",
    "BufferFullError",
    "NotAcknowledgedError",
    "PredictionPublisher",
]

log = logging.getLogger(__name__)


class BufferFullError(DriftlineError):
    """The publish buffer cannot take the predictions: the caller should answer 503."""


class NotAcknowledgedError(DriftlineError):
    """With ``DRIFTLINE_PUBLISH=ack``: the broker did not acknowledge in time, or a message
    was dead-lettered; the caller answers 503."""


class Acknowledged:
    """An asyncio future (``future``) that resolves once every message of a group is done
    with: True when all were acknowledged by the broker, False when any was dead-lettered.
    :meth:`delivered` and :meth:`failed` are called from the delivery-report thread."""

    def __init__(self, count: int, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._remaining = count
        self._failed = 0
        self._lock = threading.Lock()
        self.future: asyncio.Future[bool] = loop.create_future()
        if count == 0:
            self.future.set_result(True)

    def delivered(self) -> None:
        self._step(False)

    def failed(self) -> None:
        self._step(True)

    def _step(self, failed: bool) -> None:
        with self._lock:
            self._remaining -= 1
            self._failed += failed
            if self._remaining != 0:
                return
            ok = not self._failed
        self._loop.call_soon_threadsafe(self._resolve, ok)

    def _resolve(self, ok: bool) -> None:
        if not self.future.done():
            self.future.set_result(ok)


class Ack:
    """Counts down deliveries of one group of messages; ``done`` is set when all are handled
    (delivered or dead-lettered). Used by the stream scorer to commit offsets only then."""

    def __init__(self, count: int) -> None:
        self._remaining = count
        self._lock = threading.Lock()
        self.done = threading.Event()
        if count == 0:
            self.done.set()

    def __call__(self) -> None:
        with self._lock:
            self._remaining -= 1
            if self._remaining <= 0:
                self.done.set()


class PredictionPublisher:
    """Enqueue encoded PredictionEvents under the policy above; report depth and
    reachability."""

    def __init__(
        self,
        kafka: KafkaSettings,
        *,
        topic: str,
        dead_letter_topic: str,
        capacity: int,
        metrics: ScorerMetrics,
        probe_s: float = 2.0,
        report_successes: bool = False,
    ) -> None:
        self.topic = topic
        self.capacity = capacity
        self._metrics = metrics
        self._probe_s = probe_s
        self._bootstrap = kafka.bootstrap
        self._producer = Producer(
            kafka,
            options={
                "message.timeout.ms": 0,  # wait for the broker indefinitely (policy 2)
                "queue.buffering.max.messages": capacity,
                # the message count is the bound; bytes must never be the one that trips first
                "queue.buffering.max.kbytes": 2097151,
                "error_cb": self._on_error,
                # a delivery report per success costs a Python callback per prediction on the
                # poll thread; only the stream scorer needs them (to commit offsets)
                "delivery.report.only.error": not report_successes,
            },
            background_poll=True,
        )
        self.dead_letters = DeadLetterWriter(self._producer, dead_letter_topic, "scorer",
                                             prefix=kafka.topic_prefix)
        self._reachable = False
        self._probed = False
        self.fatal_error: str | None = None  # set once the producer hit a fatal error
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None
        self._enqueue_lock = threading.Lock()

    @classmethod
    def from_settings(
        cls, settings: ScorerSettings, metrics: ScorerMetrics, *, report_successes: bool = False
    ) -> PredictionPublisher:
        """A publisher to the settings' ``predictions`` topic with their buffer and probe."""
        return cls(
            settings.kafka,
            topic=settings.topic("predictions"),
            dead_letter_topic=settings.topic("dead-letter"),
            capacity=settings.buffer_max_messages,
            metrics=metrics,
            probe_s=settings.kafka_probe_s,
            report_successes=report_successes,
        )

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Create the client and start the reachability probe (no wait on the network)."""
        _ = self._producer.client
        self._prober = threading.Thread(
            target=self._probe_forever, name="driftline-kafka-probe", daemon=True
        )
        self._prober.start()

    def close(self, timeout: float = 30.0) -> int:
        """Flush for up to ``timeout`` seconds; returns how many predictions were left queued."""
        self._stop.set()
        if self._prober is not None:
            self._prober.join(timeout=5.0)
        return self._producer.close(timeout)

    # -- state ------------------------------------------------------------------------------

    @property
    def producer(self) -> Producer:
        return self._producer

    @property
    def reachable(self) -> bool:
        return self._reachable

    def depth(self) -> int:
        """Predictions (and dead letters) queued and not yet acknowledged."""
        return self._producer.pending()

    def has_room(self, count: int) -> bool:
        return self.depth() + count <= self.capacity

    def probe(self, timeout: float = 2.0) -> bool:
        """Ask the broker for the topic's metadata now; update and return reachability."""
        try:
            self._producer.client.list_topics(self.topic, timeout=timeout)
            ok = True
        except KafkaException:
            ok = False
        self._set_reachable(ok)
        return ok

    # -- publishing -------------------------------------------------------------------------

    def publish(
        self,
        keys: Sequence[bytes],
        values: Sequence[bytes],
        on_done: Callable[[], None] | None = None,
        *,
        topic: str | None = None,
        on_failed: Callable[[], None] | None = None,
    ) -> None:
        """Enqueue every encoded PredictionEvent (``values``, keyed by ``keys``, as
        :func:`driftline.events.encode_predictions` gives them) or none: BufferFullError,
        nothing enqueued, when they would not fit. ``topic`` (default: this publisher's)
        lets other events, such as labels, share the buffer and its policy.

        ``on_done`` is called once per event when Kafka acknowledged it or it was dead-lettered
        (``on_failed`` instead, when given, for a dead-lettered one).
        """
        report = self._report if on_done is None else self._reporter(on_done, on_failed)
        messages = [{"key": k, "value": v} for k, v in zip(keys, values, strict=True)]
        # The check and the enqueue are one step, so concurrent batches (HTTP worker threads)
        # cannot both pass the check and overflow the queue half-way: all or nothing.
        with self._enqueue_lock:
            if not self.has_room(len(messages)):
                raise BufferFullError(
                    f"{self.depth()} predictions are waiting for Kafka (capacity {self.capacity})"
                )
            # One call for the whole batch, cheaper than a produce() per message. Keys still
            # go through the configured partitioner (murmur2).
            try:
                queued = self._producer.client.produce_batch(
                    topic or self.topic, messages, on_delivery=report
                )
            except BufferError:
                queued = 0
        if queued < len(messages):
            # Only a dead letter written meanwhile can take the room just checked; what was
            # enqueued will be delivered and the caller answers 503 for all.
            log.error(
                "%d of %d predictions enqueued before the Kafka queue filled up",
                queued,
                len(messages),
            )
            raise BufferFullError(
                f"the Kafka queue filled up while enqueuing (capacity {self.capacity})"
            )
        self._metrics.enqueued.inc(len(messages))

    def _reporter(
        self, on_done: Callable[[], None], on_failed: Callable[[], None] | None = None
    ) -> Callable[[KafkaError | None, Message], None]:
        def report(err: KafkaError | None, msg: Message) -> None:
            if self._report(err, msg):
                (on_done if err is None or on_failed is None else on_failed)()

        return report

    def _report(self, err: KafkaError | None, msg: Message) -> bool:
        """Delivery report (poll thread). Returns True when the message is done with."""
        if err is None:
            return True
        self._metrics.publish_failures.labels(err.name()).inc()
        if err.retriable() and not err.fatal():
            try:
                self._producer.client.produce(
                    msg.topic(), msg.value(), msg.key(), on_delivery=self._report
                )
                return False
            except BufferError:
                pass  # the queue is full: dead-letter below rather than lose it
        key = msg.key()
        log.error("message %r could not be delivered to %s: %s", key, msg.topic(), err,
                  extra=fields(topic=msg.topic(), prediction_id=key.decode("utf-8", "replace")
                               if key else None))
        self.dead_letters.send(
            err.str(), source_topic=msg.topic(), key=msg.key(), value=msg.value()
        )
        self._metrics.dead_lettered.labels(msg.topic()).inc()
        return True

    # -- reachability -----------------------------------------------------------------------

    def _on_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            self._set_reachable(False)
        if err.fatal():
            self.fatal_error = err.str()
            log.critical("the Kafka producer hit a fatal error and must be restarted: %s", err)
        else:
            log.debug("kafka client: %s", err)

    def _set_reachable(self, ok: bool) -> None:
        if ok != self._reachable or not self._probed:
            log.log(
                logging.INFO if ok else logging.WARNING,
                "Kafka at %s is %s",
                self._bootstrap,
                "reachable" if ok else "unreachable: predictions wait in the buffer",
            )
        self._probed = True
        self._reachable = ok
        self._metrics.kafka_up.set(1 if ok else 0)

    def _probe_forever(self) -> None:
        self.probe(timeout=min(2.0, self._probe_s))
        while not self._stop.wait(self._probe_s):
            self.probe(timeout=min(2.0, self._probe_s))
