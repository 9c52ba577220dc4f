"""``POST /labels`` and ``POST /labels/batch``: ground truth for earlier predictions.

Guarded by the same API key as ``/predict``; each label is validated (422 naming its field)
and published to ``labels`` through the prediction publisher, under the same policy (in the
buffer before the answer, 503 with ``Retry-After`` when the buffer stays full). No model is
needed to take labels.
"""

from __future__ import annotations

import time

import msgspec
from fastapi import APIRouter, Depends, Response

from driftline.events import now
from driftline.model.validation import parse
from scorer.deps import BatchBody, PredictBody, ScorerDep, require_api_key
from scorer.labels import LabelBatchIn, LabelIn, label_events
from scorer.schemas import LabelsAcceptedPublic

__all__ = ["router"]

router = APIRouter(prefix="/labels", tags=["labels"], dependencies=[Depends(require_api_key)])

_ERRORS = {
    401: {"description": "DRIFTLINE_API_KEY is set and the request does not carry it"},
    413: {"description": "body or batch over the configured limit"},
    422: {"description": "invalid label; each error names its field in `loc`"},
    503: {"description": "the Kafka buffer is full (retry later)"},
}


def _body(model: type) -> dict[str, object]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    if "LabelIn" in defs:
        schema["properties"]["labels"]["items"] = defs["LabelIn"]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_encode = msgspec.json.Encoder().encode


async def _accept(scorer: ScorerDep, labels: list[LabelIn], route: str, began: float) -> Response:
    ids = await scorer.publish_labels(label_events(labels, now()))
    scorer.metrics.request_seconds.labels(route).observe(time.perf_counter() - began)
    return Response(
        _encode({"count": len(ids), "prediction_ids": ids}), media_type="application/json"
    )


@router.post(
    "", response_model=LabelsAcceptedPublic, responses=_ERRORS, openapi_extra=_body(LabelIn)
)
async def label(scorer: ScorerDep, body: PredictBody) -> Response:
    """Record the outcome of one prediction; it is published to ``labels`` before the
    answer."""
    began = time.perf_counter()
    one = parse(scorer.label_validators[0], body)
    return await _accept(scorer, [one], "/labels", began)


@router.post(
    "/batch",
    response_model=LabelsAcceptedPublic,
    responses=_ERRORS,
    openapi_extra=_body(LabelBatchIn),
)
async def label_batch(scorer: ScorerDep, body: BatchBody) -> Response:
    """Record ``{"labels": [...]}`` (at most DRIFTLINE_MAX_BATCH_ROWS); every label is
    published to ``labels`` before the answer."""
    began = time.perf_counter()
    batch = parse(scorer.label_validators[1], body)
    return await _accept(scorer, list(batch.labels), "/labels/batch", began)
