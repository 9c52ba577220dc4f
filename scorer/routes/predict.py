"""``POST /predict`` and ``POST /predict/batch``.

The body is read raw and validated by the served version's own pydantic class (the schema
follows the model, which can change at runtime), then scored and published before the answer.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Response

from driftline.features import CREDIT_RISK
from driftline.model.served import Column
from driftline.model.validation import build_request_models, parse
from scorer.deps import BatchBody, PredictBody, ScorerDep, require_api_key
from scorer.schemas import BatchPredictionPublic, PredictionPublic

__all__ = ["router"]

router = APIRouter(prefix="/predict", tags=["predict"], dependencies=[Depends(require_api_key)])

# Bodies above this size are validated and scored on a worker thread so that one large batch
# does not stall the single requests sharing the event loop.
_INLINE_BYTES = 64 * 1024


def _documented_body(batch: bool) -> dict[str, Any]:
    """OpenAPI request body of the default credit-risk model (the served model may differ:
    GET /model lists its inputs; validation always follows the served version)."""
    columns = tuple(Column(f.name, "float") for f in CREDIT_RISK.numeric) + tuple(
        Column(f.name, "str") for f in CREDIT_RISK.categorical
    )
    row, many = build_request_models(columns, CREDIT_RISK, max_rows=10_000)
    schema = (many if batch else row).json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    if batch:
        schema["properties"]["rows"]["items"] = row.json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_ERRORS = {
    401: {"description": "DRIFTLINE_API_KEY is set and the request does not carry it"},
    413: {"description": "body or batch over the configured limit"},
    422: {"description": "invalid input; each error names its field in `loc`"},
    503: {"description": "no model loaded, or the Kafka buffer is full (retry later)"},
}


@router.post(
    "", response_model=PredictionPublic, responses=_ERRORS, openapi_extra=_documented_body(False)
)
async def predict(scorer: ScorerDep, body: PredictBody) -> Response:
    """Score one application; it is published to ``predictions`` before the answer."""
    began = time.perf_counter()
    served = scorer.store.require()
    row = parse(served.row, body)
    content = await scorer.predict_one(served, row)
    scorer.metrics.request_seconds.labels("/predict").observe(time.perf_counter() - began)
    return Response(content, media_type="application/json")


@router.post(
    "/batch",
    response_model=BatchPredictionPublic,
    responses=_ERRORS,
    openapi_extra=_documented_body(True),
)
async def predict_batch(scorer: ScorerDep, body: BatchBody) -> Response:
    """Score ``{"rows": [...]}`` (at most DRIFTLINE_MAX_BATCH_ROWS rows) in one model call;
    every row is published to ``predictions`` before the answer."""
    began = time.perf_counter()
    served = scorer.store.require()
    large = len(body) > _INLINE_BYTES
    if large:
        rows = await asyncio.to_thread(scorer.validate_batch, served, body)
    else:
        rows = scorer.validate_batch(served, body)
    # a batch that does not fit waits for room rather than throwing its validation away
    content = await scorer.answer_batch_when_room(served, rows, in_thread=large)
    scorer.metrics.request_seconds.labels("/predict/batch").observe(time.perf_counter() - began)
    return Response(content, media_type="application/json")
