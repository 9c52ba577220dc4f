"""The producers' one settings object (``DRIFTLINE_*`` environment variables).

>>> s = ProducerSettings(home="/tmp/dl", scorer_url="http://127.0.0.1:8100/")
>>> s.scorer_url, str(s.replays_dir)
('http://127.0.0.1:8100', '/tmp/dl/replays')
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from driftline.settings import DriftlineSettings

__all__ = ["BootstrapSettings", "ProducerSettings"]


class ProducerSettings(DriftlineSettings):
    """What ``driftline produce`` and ``driftline replay`` read from the environment; command
    line options override it."""

    scorer_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL of the scorer for --to http."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="The scorer's API key (the same DRIFTLINE_API_KEY), sent as X-API-Key.",
    )
    produce_concurrency: int = Field(
        default=64, ge=1, le=10_000, description="HTTP requests in flight at most."
    )
    produce_timeout_s: float = Field(default=10.0, gt=0.0, description="HTTP request timeout.")
    replay_manifest_dir: Path | None = Field(
        default=None,
        description="Where replay manifests go (unset: replays/ under DRIFTLINE_HOME).",
    )

    @field_validator("scorer_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"DRIFTLINE_SCORER_URL must start with http:// or https://: {value}")
        return value

    @property
    def replays_dir(self) -> Path:
        return self.replay_manifest_dir or self.home / "replays"


class BootstrapSettings(DriftlineSettings):
    """What ``driftline bootstrap`` reads from the environment: the model it registers, by the
    same variables the scorer serves it by.

    >>> BootstrapSettings(model_name="fraud").model_alias
    'champion'
    """

    model_name: str = Field(
        default="credit-risk", description="Registered model name (DRIFTLINE_MODEL_NAME)."
    )
    model_alias: str = Field(
        default="champion", description="Alias the new version gets (DRIFTLINE_MODEL_ALIAS)."
    )
