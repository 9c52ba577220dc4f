"""The scorer's one settings object (``DRIFTLINE_*`` environment variables).

>>> s = ScorerSettings(api_key="", high_risk_threshold=0.5)
>>> s.api_key is None, s.thresholds
(True, RiskThresholds(high=0.5, medium=0.15))
>>> try:
...     ScorerSettings(medium_risk_threshold=0.6)
... except ValueError as exc:
...     print(exc.errors()[0]["msg"].split(" (")[0])
Value error, DRIFTLINE_MEDIUM_RISK_THRESHOLD
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from driftline.settings import DriftlineSettings
from scorer.scoring import RiskThresholds

__all__ = ["ScorerSettings"]

_MIB = 1024 * 1024


class ScorerSettings(DriftlineSettings):
    """Everything ``driftline serve`` reads from the environment."""

    # HTTP
    host: str = Field(default="127.0.0.1", description="Bind address of the HTTP API.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP API.")
    api_key: SecretStr | None = Field(
        default=None,
        description="When set, /predict, /predict/batch and /model require it "
        "(header X-API-Key or Authorization: Bearer).",
    )
    access_log: bool = Field(default=False, description="uvicorn's access log, one line a request.")
    max_body_bytes: int = Field(
        default=64 * 1024, ge=256, description="Largest /predict body in bytes; 413 beyond."
    )
    max_batch_rows: int = Field(
        default=10_000, ge=1, le=1_000_000, description="Most rows of a /predict/batch; 413 beyond."
    )
    max_batch_body_bytes: int = Field(
        default=16 * _MIB, ge=1024, description="Largest /predict/batch body in bytes; 413 beyond."
    )

    # model
    model_name: str = Field(
        default="credit-risk", description="Registered MLflow model to serve."
    )
    model_alias: str = Field(default="champion", description="Alias of the version to serve.")
    high_risk_threshold: float = Field(
        default=0.35, gt=0.0, lt=1.0,
        description="Risk tier HIGH above this default probability, for versions registered "
        "without a decision policy (a version's own tiers win).",
    )
    medium_risk_threshold: float = Field(
        default=0.15, gt=0.0, lt=1.0,
        description="Risk tier MEDIUM above this (and up to the high threshold); LOW below. "
        "For versions registered without a decision policy.",
    )
    trusted_types: list[str] = Field(
        default_factory=list,
        description="Exact type names to trust when loading models, beyond the built-in "
        "list and what each version was registered with (JSON list; no prefixes).",
    )
    model_poll_s: float = Field(
        default=30.0,
        ge=0.0,
        description="Also re-read the alias from MLflow this often (0: only on model-updates).",
    )

    # micro-batching of concurrent /predict requests
    micro_batch_size: int = Field(
        default=256, ge=1, le=100_000,
        description="Most concurrent /predict requests scored in one model call.",
    )
    micro_batch_wait_ms: float = Field(
        default=2.0, ge=0.0, le=1000.0,
        description="Longest a micro-batch keeps collecting requests while more arrive.",
    )

    # publishing
    buffer_max_messages: int = Field(
        default=100_000,
        ge=100,
        description="Predictions held while Kafka is unreachable; then /predict answers 503.",
    )
    buffer_wait_ms: float = Field(
        default=1000.0,
        ge=0.0,
        le=60_000.0,
        description="How long a request that does not fit in the buffer waits for room before 503.",
    )
    publish: Literal["buffer", "ack"] = Field(
        default="buffer",
        description="When /predict, /predict/batch and /labels answer: buffer (once the "
        "prediction is in the producer's queue: fastest; a killed process loses what is "
        "queued) or ack (once the broker has acknowledged it: nothing answered is lost, "
        "even on kill -9).",
    )
    ack_timeout_s: float = Field(
        default=10.0, gt=0.0, le=300.0,
        description="With DRIFTLINE_PUBLISH=ack, how long a request waits for the broker's "
        "acknowledgement before 503 (the prediction may still arrive: retry with the same "
        "request_id).",
    )
    kafka_probe_s: float = Field(
        default=2.0, gt=0.0, description="Seconds between probes of Kafka's reachability (/ready)."
    )

    # streaming scoring from `transactions`
    stream: bool = Field(
        default=False, description="Also score the transactions topic (as --stream)."
    )
    stream_group: str = Field(
        default="driftline-scorer",
        description="Consumer group of stream scoring; replicas share the partitions.",
    )
    stream_batch: int = Field(
        default=500, ge=1, le=100_000,
        description="Most transactions stream scoring takes in one batch.",
    )

    startup_timeout_s: float = Field(
        default=30.0, gt=0.0, description="Seconds to wait for Kafka and MLflow at start."
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _check_thresholds(self) -> ScorerSettings:
        if self.medium_risk_threshold >= self.high_risk_threshold:
            raise ValueError(
                f"DRIFTLINE_MEDIUM_RISK_THRESHOLD ({self.medium_risk_threshold}) must be below "
                f"DRIFTLINE_HIGH_RISK_THRESHOLD ({self.high_risk_threshold})"
            )
        return self

    @property
    def thresholds(self) -> RiskThresholds:
        return RiskThresholds(high=self.high_risk_threshold, medium=self.medium_risk_threshold)

