"""``GET /model`` (the version being served) and ``POST /model/reload`` (re-read the alias)."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Depends, HTTPException

from scorer.deps import ScorerDep, require_api_key
from scorer.schemas import ModelPublic

__all__ = ["router"]

router = APIRouter(prefix="/model", tags=["model"], dependencies=[Depends(require_api_key)])


def _public(scorer: ScorerDep) -> ModelPublic:
    served = scorer.store.require()
    policy = served.decision or scorer.settings.thresholds.policy
    return ModelPublic(
        name=served.name,
        version=served.version,
        alias=served.alias,
        loaded_at=served.loaded_at,
        decision=json.loads(policy.to_json()),
        **served.info,
    )


@router.get("", response_model=ModelPublic)
async def read_model(scorer: ScorerDep) -> ModelPublic:
    """The served version, its signature-derived inputs and its registry metadata."""
    return _public(scorer)


@router.post("/reload", response_model=ModelPublic, responses={
    503: {"description": "the registry did not answer, or the version the alias names was "
                         "refused or failed its warm-up (the served version stays)"},
})
async def reload_model(scorer: ScorerDep) -> ModelPublic:
    """Re-read the alias in MLflow now and swap if it moved (normally model-updates does)."""
    try:
        await asyncio.to_thread(scorer.store.refresh)
    except Exception as exc:  # the store keeps what it serves; say why, never a 500
        raise HTTPException(503, detail=f"could not reload the model: {exc}",
                            headers={"Retry-After": "5"}) from exc
    return _public(scorer)
