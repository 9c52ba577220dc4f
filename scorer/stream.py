"""Streaming scoring: consume ``transactions``, publish ``predictions``, no HTTP involved.

Replicas share the topic's partitions through one consumer group (``DRIFTLINE_STREAM_GROUP``).
Delivery is at least once: a batch's offsets are stored for commit only after every
prediction of the batch was acknowledged by Kafka (or dead-lettered), so a crash re-scores
rather than loses. A transaction that cannot be decoded or fails validation goes to
``dead-letter`` with the field at fault. A prediction's event time is its transaction's, so
replayed history lands in the monitor's windows where it happened.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from confluent_kafka import Message
from pydantic import ValidationError

from driftline.errors import ContractError
from driftline.events import TransactionEvent, decode
from driftline.kafka import Consumer
from scorer.publisher import Ack, BufferFullError, PredictionPublisher

if TYPE_CHECKING:
    from scorer.service import Scorer

__all__ = ["TransactionScorer"]

log = logging.getLogger(__name__)


class TransactionScorer:
    """A daemon thread scoring ``transactions`` in batches of up to DRIFTLINE_STREAM_BATCH."""

    def __init__(self, scorer: Scorer) -> None:
        self._scorer = scorer
        settings = scorer.settings
        self._topic = settings.topic("transactions")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # A publisher of its own, reporting every delivery: offsets are committed only once
        # Kafka has the batch's predictions.
        self._publisher = PredictionPublisher.from_settings(
            settings, scorer.metrics, report_successes=True
        )
        scorer.publishers.append(self._publisher)
        self._consumer = Consumer(
            settings.kafka,
            settings.stream_group,
            options={"logger": logging.getLogger("driftline.kafka.stream")},
        )
        self._consumer.subscribe([self._topic])

    def start(self) -> None:
        self._publisher.start()
        self._thread = threading.Thread(target=self._run, name="driftline-stream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
        left = self._publisher.close(30.0)
        if left:
            log.error("%d streamed predictions were still waiting for Kafka at shutdown", left)

    def _run(self) -> None:
        batch_size = self._scorer.settings.stream_batch
        try:
            while not self._stop.is_set():
                messages = self._consumer.poll_batch(batch_size, 0.5)
                if messages:
                    self._handle(messages)
        except Exception:
            log.exception("the transactions scorer stopped")
            raise
        finally:
            self._consumer.close()

    def _reject(self, error: Exception, msg: Message) -> None:
        self._publisher.dead_letters.send_message(error, msg)
        self._scorer.metrics.dead_lettered.labels(msg.topic()).inc()
        self._scorer.metrics.stream_messages.labels("dead_lettered").inc()

    def _handle(self, messages: list[Message]) -> None:
        scorer = self._scorer
        served = scorer.store.require()
        rows, events = [], []
        for msg in messages:
            try:
                event = decode(TransactionEvent, msg.value())
                if event.model_name not in (None, served.name):
                    scorer.metrics.stream_messages.labels("skipped").inc()
                    continue  # meant for another model's scorer group
                rows.append(served.row.validate_python(event.features))
                events.append(event)
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
                scorer.score_rows(
                    served,
                    rows,
                    source="stream",
                    publisher=self._publisher,  # the one that reports successes to `ack`
                    entity_ids=[e.entity_id for e in events],
                    prediction_ids=[e.request_id for e in events],
                    event_times=[e.event_time for e in events],
                    on_done=ack,
                )
                scorer.metrics.stream_messages.labels("scored").inc(len(rows))
                break
            except BufferFullError:
                time.sleep(0.2)  # Kafka is away and the buffer is full: hold the batch
        # Commit only what Kafka has: wait for the batch's acknowledgements.
        while not ack.done.wait(0.5):
            if self._stop.is_set():
                return
        for msg in messages:
            self._consumer.store(msg)
