"""FastAPI dependencies, declared once as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from scorer.service import Scorer
from scorer.settings import ScorerSettings

__all__ = [
    "BatchBody",
    "BodyTooLargeError",
    "PredictBody",
    "ScorerDep",
    "require_api_key",
]


class BodyTooLargeError(Exception):
    """The request body is over its limit (answered with 413)."""

    def __init__(self, limit: int, setting: str) -> None:
        self.limit = limit
        super().__init__(f"the request body is larger than {limit} bytes ({setting})")


# async: FastAPI runs plain ``def`` dependencies in a thread pool, a hop per request
async def get_scorer(request: Request) -> Scorer:
    return request.app.state.scorer


ScorerDep = Annotated[Scorer, Depends(get_scorer)]


async def require_api_key(request: Request) -> None:
    """When DRIFTLINE_API_KEY is set, the request must carry it: ``X-API-Key: <key>`` or
    ``Authorization: Bearer <key>``.

    Reads the headers itself rather than through FastAPI's security classes: those add three
    dependency resolutions to every prediction, a measurable share of a /predict request.
    """
    expected = request.app.state.scorer.settings.api_key
    if expected is None:
        return
    headers = request.headers
    given = headers.get("x-api-key")
    if given is None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else None
    # compare_digest: the time taken must not reveal how much of the key matched
    if not given or not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        request.app.state.scorer.metrics.rejected.labels("unauthorized").inc()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong API key: send it as X-API-Key or Authorization: Bearer",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _body_reader(
    limit_of: Callable[[ScorerSettings], int], setting: str
) -> Callable[[Request], Awaitable[bytes]]:
    async def read(request: Request) -> bytes:
        limit = limit_of(request.app.state.scorer.settings)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise BodyTooLargeError(limit, setting)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # also bounds bodies sent without a length
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError(limit, setting)
            chunks.append(chunk)
        return b"".join(chunks)

    return read


PredictBody = Annotated[
    bytes, Depends(_body_reader(lambda s: s.max_body_bytes, "DRIFTLINE_MAX_BODY_BYTES"))
]
BatchBody = Annotated[
    bytes,
    Depends(_body_reader(lambda s: s.max_batch_body_bytes, "DRIFTLINE_MAX_BATCH_BODY_BYTES")),
]
