"""``POST /predict`` and ``POST /predict/batch``.

The body is read raw and validated by the served version's own pydantic class (the schema
follows the model, which can change at runtime), then scored and published before the answer.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Response

from scorer.deps import BatchBody, PredictBody, ScorerDep, require_api_key
from scorer.schemas import BatchPredictionPublic, PredictionPublic, parse

__all__ = ["router"]

router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Depends(require_api_key)])

# Bodies above this size are validated and scored on a worker thread so that one large batch
# does not stall the single requests sharing the event loop.
_INLINE_BYTES = 64 * 1024

_ERRORS = {
    401: {"description": "DRIFTLINE_API_KEY is set and the request does not carry it"},
    413: {"description": "body or batch over the configured limit"},
    422: {"description": "invalid input; each error names its field in `loc`"},
    503: {"description": "no model loaded, or the Kafka buffer is full (retry later)"},
}


@router.post("", response_model=PredictionPublic, responses=_ERRORS)
async def predict(scorer: ScorerDep, body: PredictBody) -> Response:
    """Score one application; it is published to ``predictions`` before the answer."""
    began = time.perf_counter()
    served = scorer.store.require()
    row = parse(served.row, body)
    content = await scorer.predict_one(served, row)
    scorer.metrics.request_seconds.labels("/predict").observe(time.perf_counter() - began)
    return Response(content, media_type="application/json")


@router.post("/batch", response_model=BatchPredictionPublic, responses=_ERRORS)
async def predict_batch(scorer: ScorerDep, body: BatchBody) -> Response:
    """Score ``{"rows": [...]}`` (at most DRIFTLINE_MAX_BATCH_ROWS rows) in one model call;
    every row is published to ``predictions`` before the answer."""
    began = time.perf_counter()
    served = scorer.store.require()
    if len(body) > _INLINE_BYTES:
        content = await asyncio.to_thread(scorer.predict_batch, served, body)
    else:
        content = scorer.predict_batch(served, body)
    scorer.metrics.request_seconds.labels("/predict/batch").observe(time.perf_counter() - began)
    return Response(content, media_type="application/json")
