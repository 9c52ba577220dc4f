"""Builds the scorer's FastAPI app: routers, error handlers and the lifespan that starts and
stops the :class:`~scorer.service.Scorer`.

Bad input never becomes a 500: invalid JSON or fields give 422 with FastAPI's error shape
(``{"detail": [{"loc": ["body", "<field>"], "msg": ..., "type": ...}]}``), oversized bodies or
batches 413, a full Kafka buffer or a missing model 503 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from driftline.model.validation import InvalidInputError
from scorer.deps import BodyTooLargeError
from scorer.model_store import NoModelError
from scorer.publisher import BufferFullError, NotAcknowledgedError
from scorer.routes import labels, model, ops, predict
from scorer.service import BatchTooLargeError, Scorer
from scorer.settings import ScorerSettings

__all__ = ["create_app"]


def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    request.app.state.scorer.metrics.rejected.labels("invalid").inc()
    detail = [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in exc.errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def _too_large(request: Request, exc: Exception) -> JSONResponse:
    request.app.state.scorer.metrics.rejected.labels("too_large").inc()
    return JSONResponse({"detail": str(exc)}, status_code=413)


def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    reason = "no_model" if isinstance(exc, NoModelError) else "buffer_full"
    if reason == "no_model":  # buffer_full is counted per row where it happens
        request.app.state.scorer.metrics.rejected.labels(reason).inc()
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})


def create_app(
    settings: ScorerSettings | None = None,
    *,
    scorer: Scorer | None = None,
    tune_gc: bool = False,
) -> FastAPI:
    """The ASGI app. Starting it (lifespan) waits for Kafka and MLflow, loads the champion and
    starts publishing; stopping it flushes what is queued for Kafka. ``tune_gc`` applies
    :func:`~driftline.process.tune_gc` once started (for a process that runs only the scorer)."""
    if scorer is None:
        scorer = Scorer(settings or ScorerSettings(), tune_gc=tune_gc)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await scorer.start()
        try:
            yield
        finally:
            await scorer.stop()

    app = FastAPI(
        title="driftline scorer",
        summary="Scores loan applications and publishes every prediction to Kafka.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.scorer = scorer
    app.include_router(predict.router)
    app.include_router(labels.router)
    app.include_router(model.router)
    app.include_router(ops.router)
    app.add_exception_handler(InvalidInputError, _invalid)
    app.add_exception_handler(BodyTooLargeError, _too_large)
    app.add_exception_handler(BatchTooLargeError, _too_large)
    app.add_exception_handler(BufferFullError, _unavailable)
    app.add_exception_handler(NoModelError, _unavailable)
    app.add_exception_handler(NotAcknowledgedError, _unavailable)
    return app
