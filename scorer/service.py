"""The scorer as one object: the served model, the micro-batcher, the publisher, the model
follower and the optional stream scorer, started and stopped together.

HTTP routes and the stream scorer both call :meth:`Scorer.score_rows`, which scores validated
rows with one model call and publishes one PredictionEvent per row before returning.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from pydantic import BaseModel

from driftline.events import PredictionEvent, new_id, now
from driftline.kafka import create_topics, wait_for_broker
from driftline.registry import configure
from scorer.batching import MicroBatcher
from scorer.metrics import ScorerMetrics
from scorer.model_store import ModelStore, UpdateFollower
from scorer.publisher import BufferFullError, PredictionPublisher
from scorer.schemas import ENTITY_FIELD, InvalidInputError, parse
from scorer.scoring import ServedModel
from scorer.settings import ScorerSettings

__all__ = ["BatchTooLargeError", "Scorer"]

log = logging.getLogger(__name__)


class BatchTooLargeError(ValueError):
    """A batch has more rows than ``DRIFTLINE_MAX_BATCH_ROWS`` (answered with 413)."""


class _Prediction(msgspec.Struct):
    prediction_id: str
    default_probability: float
    risk_tier: str
    model_version: str


class _Batch(msgspec.Struct):
    model_name: str
    model_version: str
    count: int
    predictions: list[_Prediction]


_encode = msgspec.json.Encoder().encode


def _public(event: PredictionEvent) -> _Prediction:
    return _Prediction(event.prediction_id, event.score, event.decision, event.model_version)


class Scorer:
    """Everything ``driftline serve`` runs, with one settings object."""

    def __init__(self, settings: ScorerSettings) -> None:
        self.settings = settings
        self.metrics = ScorerMetrics()
        self.store = ModelStore(settings, self.metrics)
        self.publisher = PredictionPublisher(
            settings.kafka,
            topic=settings.topic("predictions"),
            dead_letter_topic=settings.topic("dead-letter"),
            capacity=settings.buffer_max_messages,
            metrics=self.metrics,
            probe_s=settings.kafka_probe_s,
        )
        self.batcher: MicroBatcher[tuple[ServedModel, BaseModel], Any] = MicroBatcher(
            self._score_micro_batch,
            max_size=settings.micro_batch_size,
            max_wait_s=settings.micro_batch_wait_ms / 1000.0,
            on_batch=self.metrics.micro_batch_rows.observe,
        )
        self.follower = UpdateFollower(
            self.store, settings, self.publisher.dead_letters, self.metrics
        )
        self.stream: Any = None  # scorer.stream.TransactionScorer when settings.stream

    # -- lifecycle --------------------------------------------------------------------------

    def start_blocking(self) -> None:
        """Wait (bounded) for Kafka and MLflow, create missing topics, load the champion and
        start the background threads. Raises with a clear message when either is absent."""
        timeout = self.settings.startup_timeout_s
        configure(self.settings.home)
        wait_for_broker(self.settings.kafka, timeout=timeout)
        create_topics(self.settings.kafka)
        self.publisher.start()
        self.store.load_initial(timeout)
        self.follower.start()
        if self.settings.stream:
            from scorer.stream import TransactionScorer

            self.stream = TransactionScorer(self)
            self.stream.start()

    async def start(self) -> None:
        """Start everything; the blocking part runs off the event loop."""
        await asyncio.to_thread(self.start_blocking)
        self.batcher.start()

    async def stop(self) -> None:
        await self.batcher.stop()
        await asyncio.to_thread(self.stop_blocking)

    def stop_blocking(self) -> None:
        if self.stream is not None:
            self.stream.stop()
        self.follower.stop()
        left = self.publisher.close(30.0)
        if left:
            log.error("%d predictions were still waiting for Kafka at shutdown", left)

    # -- scoring ----------------------------------------------------------------------------

    def score_rows(
        self,
        served: ServedModel,
        rows: Sequence[BaseModel],
        *,
        source: str,
        entity_ids: Sequence[str | None] | None = None,
        event_times: Sequence[float] | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> list[PredictionEvent]:
        """Score validated rows in one model call and publish one event per row.

        Raises BufferFullError, before scoring, when the publish buffer cannot take them all.
        """
        if not self.publisher.has_room(len(rows)):
            self.metrics.rejected.labels("buffer_full").inc(len(rows))
            raise BufferFullError(
                f"{self.publisher.depth()} predictions are waiting for Kafka "
                f"(capacity {self.publisher.capacity}); retry later"
            )
        names = served.names
        features = [{n: r.__dict__[n] for n in names} for r in rows]
        probabilities = served.score(features)
        tiers = self.settings.thresholds.tiers(probabilities)
        if entity_ids is None:
            entity_ids = [r.__dict__.get(ENTITY_FIELD) for r in rows]
        stamp = now()
        name, version = served.name, served.version
        events = [
            PredictionEvent(
                prediction_id=new_id(),
                event_time=event_times[i] if event_times is not None else stamp,
                model_name=name,
                model_version=version,
                features=f,
                score=p,
                decision=t,
                entity_id=e,
            )
            for i, (f, p, t, e) in enumerate(
                zip(features, probabilities.tolist(), tiers.tolist(), entity_ids, strict=True)
            )
        ]
        try:
            self.publisher.publish(events, on_done)
        except BufferFullError:
            self.metrics.rejected.labels("buffer_full").inc(len(rows))
            raise
        self.metrics.count_predictions(name, version, tiers, source)
        return events

    def _score_micro_batch(
        self, items: list[tuple[ServedModel, BaseModel]]
    ) -> list[PredictionEvent | Exception]:
        # Items validated against different versions (a swap happened meanwhile) are scored
        # by the version that validated them; each group succeeds or fails on its own.
        out: list[PredictionEvent | Exception] = []
        start = 0
        while start < len(items):
            served = items[start][0]
            end = start + 1
            while end < len(items) and items[end][0] is served:
                end += 1
            try:
                out.extend(
                    self.score_rows(served, [row for _, row in items[start:end]], source="http")
                )
            except BufferFullError as exc:
                out.extend([exc] * (end - start))
            start = end
        return out

    # -- HTTP helpers -----------------------------------------------------------------------

    async def predict_one(self, served: ServedModel, row: BaseModel) -> bytes:
        """Score one validated row through the micro-batcher; the JSON response body."""
        event = await self.batcher.submit((served, row))
        return _encode(_public(event))

    def predict_batch(self, served: ServedModel, body: bytes) -> bytes:
        """Validate, score and publish a batch body; the JSON response body.

        Raises InvalidInputError (422) or BatchTooLargeError (413).
        """
        try:
            batch = parse(served.batch, body)
        except InvalidInputError as exc:
            if any(e["type"] == "too_long" and tuple(e["loc"]) == ("rows",) for e in exc.errors):
                raise BatchTooLargeError(
                    f"a batch holds at most {self.settings.max_batch_rows} rows "
                    "(DRIFTLINE_MAX_BATCH_ROWS); split it"
                ) from None
            raise
        events = self.score_rows(served, batch.rows, source="http")  # type: ignore[attr-defined]
        return _encode(
            _Batch(served.name, served.version, len(events), [_public(e) for e in events])
        )
