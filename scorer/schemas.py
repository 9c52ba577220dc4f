"""Response schemas of the HTTP API.

A family of ``...Public`` classes documents what each route answers; the routes encode their
bodies with msgspec for speed. Requests are validated by :mod:`driftline.model.validation`,
against the served version's own inputs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BatchPredictionPublic",
    "LabelsAcceptedPublic",
    "ModelPublic",
    "PredictionPublic",
    "ReadinessPublic",
]


class PredictionPublic(BaseModel):
    """One prediction as returned over HTTP: the generic ``score`` and ``decision`` (the
    tier), and the same two under the names the served version registered (the default
    credit-risk model: ``default_probability`` and ``risk_tier``; GET /model shows them)."""

    model_config = ConfigDict(extra="allow")

    prediction_id: str
    default_probability: float | None = None
    risk_tier: Literal["LOW", "MEDIUM", "HIGH"] | None = None
    score: float
    decision: str
    model_version: str


class BatchPredictionPublic(BaseModel):
    """A batch of predictions, in request order."""

    model_name: str
    model_version: str
    count: int
    predictions: list[PredictionPublic]


class LabelsAcceptedPublic(BaseModel):
    """Labels published to ``labels``, in request order."""

    count: int
    prediction_ids: list[str]


class ModelPublic(BaseModel):
    """The version being served and its registry metadata."""

    name: str
    version: str
    alias: str
    loaded_at: float
    run_id: str | None = None
    created_at: float | None = None
    estimator: str
    inputs: list[dict[str, Any]]
    metrics: dict[str, float] = {}
    decision: dict[str, Any] = {}
    tags: dict[str, str] = {}
    description: str = ""
    source: str = ""


class ReadinessPublic(BaseModel):
    """What /ready checked."""

    ready: bool
    model_loaded: bool
    model_version: str | None
    kafka_reachable: bool
    buffered: int
    buffer_capacity: int
    model_error: str | None = None  # why the version the alias names is not served
    problems: list[str] = []  # background threads dead, a fatal producer error
