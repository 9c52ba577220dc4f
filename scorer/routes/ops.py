"""``/health`` (the process answers), ``/ready`` (it can score and publish), ``/metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from scorer.deps import ScorerDep
from scorer.metrics import CONTENT_TYPE
from scorer.schemas import ReadinessPublic

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/health", responses={503: {"description": "the process must be restarted"}})
async def health(scorer: ScorerDep) -> JSONResponse:
    """Liveness: the process and its event loop answer, and nothing happened that only a
    restart mends (a fatal error of the Kafka producer: then 503)."""
    if scorer.fatal():
        return JSONResponse({"status": "restart", "problems": scorer.problems()},
                            status_code=503)
    return JSONResponse({"status": "ok"})


@router.get("/ready", response_model=ReadinessPublic, responses={503: {"model": ReadinessPublic}})
async def ready(scorer: ScorerDep) -> JSONResponse:
    """Readiness: a model is loaded, Kafka is reachable, the publish buffer has room, and
    the background threads run (``problems`` says which does not; a dead one is started
    again within a second, and readiness comes back with it).
    While Kafka is away predictions are still accepted into the buffer; this says so.
    ``model_error`` says why the version the alias names is not served (refused, or its
    warm-up failed), while the scorer keeps the version it had or stays unready."""
    served = scorer.store.current
    publisher = scorer.publisher
    depth = publisher.depth()
    problems = scorer.problems()
    state = ReadinessPublic(
        ready=(served is not None and publisher.reachable and depth < publisher.capacity
               and not problems),
        model_loaded=served is not None,
        model_version=served.version if served else None,
        kafka_reachable=publisher.reachable,
        buffered=depth,
        buffer_capacity=publisher.capacity,
        model_error=scorer.store.load_error,
        problems=problems,
    )
    return JSONResponse(state.model_dump(), status_code=200 if state.ready else 503)


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text exposition",
          "content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}},
})
async def metrics(scorer: ScorerDep) -> Response:
    """Prometheus exposition of the ``driftline_...`` metrics."""
    return Response(scorer.metrics.exposition(), media_type=CONTENT_TYPE)
