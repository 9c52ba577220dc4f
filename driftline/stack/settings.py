"""What ``driftline stack`` reads from the environment: the ports of the parts it runs besides
the services (whose ports are their own settings: DRIFTLINE_PORT, DRIFTLINE_METRICS_PORT,
DRIFTLINE_RETRAIN_METRICS_PORT; Kafka's is DRIFTLINE_KAFKA_LOCAL_PORT) and how often its
Prometheus scrapes and evaluates the alert rules. Defaults follow :mod:`driftline.deployment`.

>>> StackSettings(home="/tmp/dl").root.as_posix()
'/tmp/dl/stack'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from driftline.deployment import COMPOSE_EVALUATION_INTERVAL, COMPOSE_SCRAPE_INTERVAL, PORTS
from driftline.settings import DriftlineSettings

__all__ = ["StackSettings"]

_INTERVAL = r"^[1-9][0-9]*[sm]$"


class StackSettings(DriftlineSettings):
    """Settings of ``driftline stack up|down|status``."""

    stack_postgres_port: int = Field(
        default=PORTS["postgres"], ge=1, le=65535,
        description="Port of the stack's PostgreSQL (MLflow's backend store), on 127.0.0.1.",
    )
    stack_postgres_user: str = Field(
        default="postgres",
        description="System user PostgreSQL runs as when driftline runs as root (PostgreSQL "
        "refuses root); it owns <home>/stack/postgres.",
    )
    stack_mlflow_port: int = Field(
        default=PORTS["mlflow"], ge=1, le=65535,
        description="Port of the stack's MLflow tracking server, on 127.0.0.1.",
    )
    stack_prometheus_port: int = Field(
        default=PORTS["prometheus"], ge=1, le=65535,
        description="Port of the stack's Prometheus, on 127.0.0.1.",
    )
    stack_scrape_interval: str = Field(
        default=COMPOSE_SCRAPE_INTERVAL, pattern=_INTERVAL,
        description="How often the stack's Prometheus scrapes each service (e.g. 5s, 1m).",
    )
    stack_evaluation_interval: str = Field(
        default=COMPOSE_EVALUATION_INTERVAL, pattern=_INTERVAL,
        description="How often the stack's Prometheus evaluates the alert rules.",
    )
    stack_bootstrap_rows: int = Field(
        default=50_000, ge=1_000,
        description="Applications the stack's `driftline bootstrap` trains the first model on.",
    )

    @property
    def root(self) -> Path:
        """Where the stack keeps its data, pids and logs."""
        return self.home / "stack"
