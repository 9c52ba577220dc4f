"""Streaming scoring: consume ``transactions``, publish ``predictions``, no HTTP involved.

Replicas share the topic's partitions through one consumer group (``DRIFTLINE_STREAM_GROUP``).
Delivery is at least once: a batch's offsets are stored for commit only after every
prediction of the batch was acknowledged by Kafka (or dead-lettered), so a crash re-scores
rather than loses. A message that is not exactly one valid transaction (see
:mod:`driftline.intake`) or fails validation goes to ``dead-letter`` with the field at fault.
A prediction's event time is its transaction's, so replayed history lands in the monitor's
windows where it happened. Its id is the transaction's ``request_id``, or else
``<topic>-<partition>-<offset>`` of the transaction (:func:`driftline.ids.stream_prediction_id`),
so a sender keys its label without reading ``predictions``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Message
from pydantic import ValidationError

from driftline.errors import ContractError
from driftline.events import TransactionEvent
from driftline.ids import stream_prediction_id
from driftline.intake import decode_run
from driftline.kafka import Consumer
from driftline.model.served import ServedModel
from scorer.metrics import ScorerMetrics
from scorer.model_store import NoModelError
from scorer.publisher import Ack, BufferFullError, PredictionPublisher
from scorer.settings import ScorerSettings

__all__ = ["TransactionScorer"]

log = logging.getLogger(__name__)


class TransactionScorer:
    """A daemon thread scoring ``transactions`` in batches of up to DRIFTLINE_STREAM_BATCH.

    ``served`` gives the model version to validate and score each batch with. ``score_rows``
    is :meth:`scorer.service.Scorer.score_rows`: called with the served model, the validated
    rows and the keywords ``source``, ``publisher`` (the stream scorer's own,
    :attr:`publisher`), ``entity_ids``, ``prediction_ids``, ``event_times`` and ``on_done``, it
    scores and publishes them or raises BufferFullError.
    """

    def __init__(
        self,
        settings: ScorerSettings,
        metrics: ScorerMetrics,
        served: Callable[[], ServedModel],
        score_rows: Callable[..., object],
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._served = served
        self._score_rows = score_rows
        self._topic = settings.topic("transactions")
        self._times = settings.time_range()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # A publisher of its own, reporting every delivery: offsets are committed only once
        # Kafka has the batch's predictions.
        self.publisher = PredictionPublisher.from_settings(
            settings, metrics, report_successes=True
        )
        self._consumer = self._subscribed()

    def _subscribed(self) -> Consumer:
        consumer = Consumer(
            self._settings.kafka,
            self._settings.stream_group,
            options={"logger": logging.getLogger("driftline.kafka.stream")},
        )
        consumer.subscribe([self._topic])
        return consumer

    def start(self) -> None:
        self.publisher.start()
        self._start_thread()

    def restart(self) -> None:
        """Start the scoring thread again after it died (a new consumer, the same group:
        it resumes from the committed offsets)."""
        if self.alive() or self._stop.is_set():
            return
        self._consumer = self._subscribed()
        self._start_thread()

    def _start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="driftline-stream", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """Whether the scoring thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
        left = self.publisher.close(30.0)
        if left:
            log.error("%d streamed predictions were still waiting for Kafka at shutdown", left)

    def _run(self) -> None:
        batch_size = self._settings.stream_batch
        try:
            while not self._stop.is_set():
                if not self._has_model():
                    self._stop.wait(0.5)  # unready: nothing is read until a model serves
                    continue
                messages = self._consumer.poll_batch(batch_size, 0.5)
                if messages:
                    self._handle(messages)
        except Exception:
            log.exception("the transactions scorer stopped")
            raise
        finally:
            self._consumer.close()

    def _has_model(self) -> bool:
        try:
            self._served()
        except NoModelError:
            return False
        return True

    def _reject(self, error: Exception, msg: Message) -> None:
        self.publisher.dead_letters.send_message(error, msg)
        self._metrics.dead_lettered.labels(msg.topic()).inc()
        self._metrics.stream_messages.labels("dead_lettered").inc()

    def _handle(self, messages: list[Message]) -> None:
        metrics = self._metrics
        served = self._served()
        rows, events, ids = [], [], []
        decoded = decode_run(TransactionEvent, [m.value() for m in messages], self._times)
        for msg, event in zip(messages, decoded.items, strict=True):
            try:
                if isinstance(event, ContractError):
                    raise event
                if event.model_name not in (None, served.name):
                    metrics.stream_messages.labels("skipped").inc()
                    continue  # meant for another model's scorer group
                rows.append(served.row.validate_python(event.features))
                events.append(event)
                ids.append(stream_prediction_id(
                    msg.topic(), msg.partition(), msg.offset(), request_id=event.request_id
                ))
            except ContractError as exc:
                self._reject(exc, msg)
            except ValidationError as exc:
                err = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(p) for p in err["loc"])
                self._reject(
                    ContractError("TransactionEvent", f"features.{where}", err["msg"]), msg
                )
        ack = Ack(len(rows))
        while rows and not self._stop.is_set():
            try:
                self._score_rows(
                    served,
                    rows,
                    source="stream",
                    publisher=self.publisher,  # the one that reports successes to `ack`
                    entity_ids=[e.entity_id for e in events],
                    prediction_ids=ids,
                    event_times=[e.event_time for e in events],
                    on_done=ack,
                )
                metrics.stream_messages.labels("scored").inc(len(rows))
                break
            except BufferFullError:
                time.sleep(0.2)  # Kafka is away and the buffer is full: hold the batch
        # Commit only what Kafka has: wait for the batch's acknowledgements.
        while not ack.done.wait(0.5):
            if self._stop.is_set():
                return
        for msg in messages:
            self._consumer.store(msg)
