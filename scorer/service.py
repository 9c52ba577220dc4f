"""The scorer as one object: the served model, the micro-batcher, the publisher, the model
follower and the optional stream scorer, started and stopped together.

HTTP routes and the stream scorer both call :meth:`Scorer.score_rows`, which scores validated
rows with one model call and publishes one PredictionEvent per row before returning a
:class:`ScoredBatch`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from driftline.events import LabelEvent, encode, encode_predictions, now
from driftline.kafka import create_topics, wait_for_broker
from driftline.model.decision import DecisionPolicy
from driftline.model.registry import configure
from driftline.model.served import ServedModel
from driftline.model.validation import ENTITY_FIELD, REQUEST_ID_FIELD, InvalidInputError, parse
from driftline.process import tune_gc
from scorer.batching import MicroBatcher
from scorer.labels import label_validators
from scorer.metrics import ScorerMetrics
from scorer.model_store import ModelStore, UpdateFollower
from scorer.publisher import (
    Acknowledged,
    BufferFullError,
    NotAcknowledgedError,
    PredictionPublisher,
)
from scorer.scoring import answers, tier_names
from scorer.settings import ScorerSettings
from scorer.stream import TransactionScorer

__all__ = ["BatchTooLargeError", "ScoredBatch", "Scorer"]

log = logging.getLogger(__name__)


class BatchTooLargeError(ValueError):
    """A batch has more rows than ``DRIFTLINE_MAX_BATCH_ROWS`` (answered with 413)."""


class _Batch(msgspec.Struct):
    model_name: str
    model_version: str
    count: int
    predictions: list[msgspec.Struct]  # scorer.scoring.answer_type of the policy


_encode = msgspec.json.Encoder().encode

# How often a request waiting for room in the publish buffer looks again: Kafka acknowledges
# in batches every few milliseconds under load, and a look is one C call.
_ROOM_POLL_S = 0.002


def _loop_time(monotonic: float) -> float:
    """A time.monotonic() instant on the running event loop's clock."""
    return asyncio.get_running_loop().time() + (monotonic - time.monotonic())


def _new_ids(count: int) -> list[str]:
    """``count`` random 128-bit ids in hex (the format of driftline.events.new_id), from one
    read of the OS random source rather than one per id."""
    raw = os.urandom(16 * count).hex()
    # numpy cuts the hex string into 32-character strs in C, quicker than slicing in Python
    return np.array([raw]).view("U32").tolist() if count else []


def _fill_ids(given: Sequence[str | None]) -> list[str]:
    """The given prediction ids, a new one wherever none was given."""
    fresh = _new_ids(len(given))
    if not any(given):  # the usual case: nobody sent a request_id
        return fresh
    return [i or f for i, f in zip(given, fresh, strict=True)]


@dataclass(frozen=True, slots=True)
class ScoredBatch:
    """What :meth:`Scorer.score_rows` scored and published, by column, in row order."""

    model_name: str
    model_version: str
    prediction_ids: list[str]
    scores: list[float]
    tiers: list[str]
    policy: DecisionPolicy

    def __len__(self) -> int:
        return len(self.prediction_ids)

    def public(self) -> list[msgspec.Struct]:
        """Each row as the HTTP API answers it (field names from the decision policy)."""
        return answers(
            self.policy, self.prediction_ids, self.scores, self.tiers, self.model_version
        )


@dataclass(frozen=True)
class _Waiting:
    """An answer to give once its group's acknowledgement has come (DRIFTLINE_PUBLISH=ack)."""

    public: msgspec.Struct
    ack: Acknowledged


def _hooks(ack: Acknowledged | None) -> dict[str, Callable[[], None]]:
    """The delivery callbacks that tell ``ack`` (none without one)."""
    if ack is None:
        return {}
    return {"on_done": ack.delivered, "on_failed": ack.failed}


class Scorer:
    """Everything ``driftline serve`` runs, with one settings object."""

    def __init__(self, settings: ScorerSettings, *, tune_gc: bool = False) -> None:
        self.settings = settings
        self._tune_gc = tune_gc  # only in a process of its own: it changes the whole process
        self.metrics = ScorerMetrics()
        self.store = ModelStore(settings, self.metrics)
        self.ack_mode = settings.publish == "ack"  # answer once the broker has it
        self.publisher = PredictionPublisher.from_settings(
            settings, self.metrics, report_successes=self.ack_mode)
        self.publishers = [self.publisher]  # the stream scorer adds its own
        self.metrics.bind_buffer(
            lambda: sum(p.depth() for p in self.publishers), settings.buffer_max_messages
        )
        self.metrics.start_topics(
            settings.topic(t) for t in ("predictions", "labels", "transactions", "model-updates")
        )
        self._policy = settings.thresholds.policy  # for versions registered without one
        self.batcher: MicroBatcher[tuple[ServedModel, dict[str, Any]], Any] = (
            MicroBatcher(
            self._score_micro_batch,
            max_size=settings.micro_batch_size,
            max_wait_s=settings.micro_batch_wait_ms / 1000.0,
            on_batch=self.metrics.micro_batch_rows.observe,
            )
        )
        self.follower = UpdateFollower(
            self.store, settings, self.publisher.dead_letters, self.metrics
        )
        self.stream: TransactionScorer | None = None  # when settings.stream
        self.label_validators = label_validators(settings.max_batch_rows)
        self._batch_room = asyncio.Lock()  # see answer_batch_when_room; remade by start()
        self._supervisor: asyncio.Task[None] | None = None

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
            self.stream = TransactionScorer(
                self.settings, self.metrics, self.store.require, self.score_rows
            )
            self.publishers.append(self.stream.publisher)
            self.stream.start()
        if self._tune_gc:
            tune_gc()  # after start-up: what loaded so far is frozen

    async def start(self) -> None:
        """Start everything; the blocking part runs off the event loop."""
        await asyncio.to_thread(self.start_blocking)
        self._batch_room = asyncio.Lock()  # of this event loop
        self.batcher.start()
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        await self.batcher.stop()
        await asyncio.to_thread(self.stop_blocking)

    # -- health -----------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """What keeps the scorer from doing its whole job now (empty: nothing): a background
        thread that died, or a producer that hit a fatal error."""
        found = []
        if self.follower.started and not self.follower.alive():
            found.append("the model-updates follower stopped (restarting it)")
        if self.stream is not None and not self.stream.alive():
            found.append("the transactions scorer stopped (restarting it)")
        for publisher in self.publishers:
            if publisher.fatal_error:
                found.append(f"the Kafka producer hit a fatal error ({publisher.fatal_error});"
                             " the process must be restarted")
        return found

    def fatal(self) -> bool:
        """Whether only a restart of the process can help (/health fails)."""
        return any(p.fatal_error for p in self.publishers)

    def supervise_once(self) -> None:
        """Start again a background thread that died, counted and logged."""
        if self.follower.started and not self.follower.alive():
            log.error("the model-updates follower stopped; starting it again")
            self.metrics.thread_restarts.labels("model-updates").inc()
            self.follower.restart()
        if self.stream is not None and not self.stream.alive():
            log.error("the transactions scorer stopped; starting it again")
            self.metrics.thread_restarts.labels("stream").inc()
            self.stream.restart()

    async def _supervise(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                self.supervise_once()
            except Exception:  # a restart that failed is tried again next round
                log.exception("restarting a background thread failed")

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
        rows: list[dict[str, Any]],
        *,
        source: str,
        publisher: PredictionPublisher | None = None,
        entity_ids: Sequence[str | None] | None = None,
        prediction_ids: Sequence[str | None] | None = None,
        event_times: Sequence[float] | None = None,
        on_done: Callable[[], None] | None = None,
        on_failed: Callable[[], None] | None = None,
    ) -> ScoredBatch:
        """Score validated rows (dicts, consumed) in one model call and publish one event per
        row; ids and times default to the rows' ``entity_id``/``request_id`` and now.

        Raises BufferFullError, before scoring, when the publish buffer cannot take them all.
        """
        publisher = publisher or self.publisher
        count = len(rows)
        if not publisher.has_room(count):
            self.metrics.rejected.labels("buffer_full").inc(count)
            raise BufferFullError(
                f"{publisher.depth()} predictions are waiting for Kafka "
                f"(capacity {publisher.capacity}); retry later"
            )
        # The optional ids are request fields, not features: take them out of the rows, which
        # then hold exactly the features as scored.
        popped = {f: [r.pop(f, None) for r in rows] for f in served.extras}
        if entity_ids is None:
            entity_ids = popped.get(ENTITY_FIELD) or [None] * count
        if prediction_ids is None:
            prediction_ids = popped.get(REQUEST_ID_FIELD) or [None] * count
        probabilities = served.score(rows)
        policy = served.decision or self._policy
        tier_index = policy.tier_index(probabilities)
        scored = ScoredBatch(
            served.name,
            served.version,
            _fill_ids(prediction_ids),
            probabilities.tolist(),
            tier_names(policy, tier_index),
            policy,
        )
        keys, values = encode_predictions(
            model_name=scored.model_name,
            model_version=scored.model_version,
            prediction_ids=scored.prediction_ids,
            event_times=now() if event_times is None else event_times,
            features=rows,
            scores=scored.scores,
            decisions=scored.tiers,
            entity_ids=entity_ids,
        )
        try:
            publisher.publish(keys, values, on_done, on_failed=on_failed)
        except BufferFullError:
            self.metrics.rejected.labels("buffer_full").inc(count)
            raise
        self.metrics.count_predictions(
            served.name, served.version, tier_index, source, policy.names
        )
        return scored

    def _score_micro_batch(
        self, items: list[tuple[ServedModel, dict[str, Any]]]
    ) -> list[Any]:
        # Items validated against different versions (a swap happened meanwhile) are scored
        # by the version that validated them; each group succeeds or fails on its own. With
        # DRIFTLINE_PUBLISH=ack each answer goes with its group's acknowledgement to wait for.
        out: list[Any] = []
        start = 0
        while start < len(items):
            served = items[start][0]
            end = start + 1
            while end < len(items) and items[end][0] is served:
                end += 1
            try:
                rows = [row for _, row in items[start:end]]
                ack = self._acknowledged(len(rows))
                scored = self.score_rows(served, rows, source="http", **_hooks(ack))
                public = scored.public()
                out.extend(public if ack is None else [_Waiting(p, ack) for p in public])
            except BufferFullError as exc:
                out.extend([exc] * (end - start))
            start = end
        return out

    # -- HTTP helpers -----------------------------------------------------------------------

    async def wait_for_room(self, count: int, deadline: float | None = None) -> bool:
        """Wait, without blocking the event loop, until the publish buffer can take ``count``
        more predictions or the monotonic ``deadline`` (default: DRIFTLINE_BUFFER_WAIT_MS from
        now) passes; whether it can.

        Kafka acknowledges continuously under load, so a request that finds the buffer full
        usually finds room within milliseconds. Answering 503 at once would make a client
        that retries send (and the server read and validate) the same rows again, which is
        CPU the acknowledgements need. Scoring still checks the room itself (all or nothing).
        """
        publisher = self.publisher
        if publisher.has_room(count):
            return True
        if count > publisher.capacity:
            return False
        if deadline is None:
            deadline = time.monotonic() + self.settings.buffer_wait_ms / 1000.0
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(_ROOM_POLL_S, left))
            if publisher.has_room(count):
                return True
        return False

    async def answer_batch_when_room(
        self, served: ServedModel, rows: list[dict[str, Any]], *, in_thread: bool
    ) -> bytes:
        """:meth:`answer_batch` once the buffer has room for all ``rows``, waiting at most
        DRIFTLINE_BUFFER_WAIT_MS (then BufferFullError, 503).

        Batches wait and publish one at a time: two batches waiting for the same room would
        both see it, and the second would be refused after its wait. With
        DRIFTLINE_PUBLISH=ack the answer waits for the broker's acknowledgement of every row.
        """
        deadline = time.monotonic() + self.settings.buffer_wait_ms / 1000.0
        turn = False
        try:
            async with asyncio.timeout_at(_loop_time(deadline)):
                turn = await self._batch_room.acquire()
        except TimeoutError:
            pass  # not our turn in time: answered below only if there is room right now
        try:
            if turn:
                await self.wait_for_room(len(rows), deadline)
            ack = self._acknowledged(len(rows))
            if in_thread:
                body = await asyncio.to_thread(self.answer_batch, served, rows, ack)
            else:
                body = self.answer_batch(served, rows, ack)
        finally:
            if turn:
                self._batch_room.release()
        await self.wait_acknowledged(ack, len(rows))
        return body

    async def predict_one(self, served: ServedModel, row: dict[str, Any]) -> bytes:
        """Score one validated row through the micro-batcher; the JSON response body. Waits
        for room in the buffer first, like a batch (its micro-batch checks again)."""
        await self.wait_for_room(1)
        answer = await self.batcher.submit((served, row))
        if isinstance(answer, _Waiting):
            await self.wait_acknowledged(answer.ack, 1)
            answer = answer.public
        return _encode(answer)

    def _acknowledged(self, count: int) -> Acknowledged | None:
        """A group's acknowledgement to wait for (None unless DRIFTLINE_PUBLISH=ack)."""
        if not self.ack_mode:
            return None
        return Acknowledged(count, asyncio.get_running_loop())

    async def wait_acknowledged(self, ack: Acknowledged | None, count: int) -> None:
        """Wait for the broker's acknowledgement of a group (nothing to wait for: None);
        NotAcknowledgedError (503) when it does not come in DRIFTLINE_ACK_TIMEOUT_S or a
        message was dead-lettered."""
        if ack is None:
            return
        timeout = self.settings.ack_timeout_s
        try:
            ok = await asyncio.wait_for(asyncio.shield(ack.future), timeout)
        except TimeoutError:
            self.metrics.rejected.labels("not_acknowledged").inc(count)
            raise NotAcknowledgedError(
                f"Kafka did not acknowledge within {timeout:g} s (DRIFTLINE_ACK_TIMEOUT_S); "
                "the prediction may still be published: retry with the same request_id"
            ) from None
        if not ok:
            self.metrics.rejected.labels("not_acknowledged").inc(count)
            raise NotAcknowledgedError(
                "Kafka refused the message; it went to the dead-letter topic")

    async def publish_labels(self, events: Sequence[LabelEvent]) -> list[str]:
        """Publish LabelEvents to ``labels`` through the prediction publisher, all or none,
        waiting for room in its buffer like a prediction (BufferFullError, 503, when it does
        not come); their prediction ids."""
        if not await self.wait_for_room(len(events)):
            self.metrics.rejected.labels("buffer_full").inc(len(events))
            raise BufferFullError(
                f"{self.publisher.depth()} messages are waiting for Kafka "
                f"(capacity {self.publisher.capacity}); retry later"
            )
        ack = self._acknowledged(len(events))
        hooks = _hooks(ack)
        self.publisher.publish(
            [e.key for e in events],
            [encode(e) for e in events],
            hooks.get("on_done"),
            topic=self.settings.topic("labels"),
            on_failed=hooks.get("on_failed"),
        )
        await self.wait_acknowledged(ack, len(events))
        self.metrics.labels_accepted.inc(len(events))
        return [e.prediction_id for e in events]

    def validate_batch(self, served: ServedModel, body: bytes) -> list[dict[str, Any]]:
        """A batch body's rows, validated against the served version's schema.

        Raises InvalidInputError (422) or BatchTooLargeError (413).
        """
        rows = served.fast_batch(body) if served.fast_batch is not None else None
        if rows is None:  # refused by the fast parser (or none): pydantic decides and explains
            rows = self._validate_batch(served, body)
        return rows

    def answer_batch(self, served: ServedModel, rows: list[dict[str, Any]],
                     ack: Acknowledged | None = None) -> bytes:
        """Score and publish validated rows; the JSON response body. Raises BufferFullError
        (503) when the buffer cannot take them all. ``ack`` hears of each row's delivery."""
        scored = self.score_rows(served, rows, source="http", **_hooks(ack))
        return _encode(_Batch(served.name, served.version, len(scored), scored.public()))

    def _validate_batch(self, served: ServedModel, body: bytes) -> list[dict[str, Any]]:
        """A batch body's rows as pydantic validates them; raises InvalidInputError (422) or
        BatchTooLargeError (413)."""
        try:
            batch = parse(served.batch, body)
        except InvalidInputError as exc:
            if any(e["type"] == "too_long" and tuple(e["loc"]) == ("rows",) for e in exc.errors):
                raise BatchTooLargeError(
                    f"a batch holds at most {self.settings.max_batch_rows} rows "
                    "(DRIFTLINE_MAX_BATCH_ROWS); split it"
                ) from None
            raise
        rows: list[dict[str, Any]] = batch["rows"]
        return rows
