"""Prometheus metrics of the retrainer (``driftline_retrainer_*``).

Each :class:`RetrainerMetrics` owns its registry, so several retrainers in one process (tests,
the demo) never collide on the global one.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["RetrainerMetrics"]


class RetrainerMetrics:
    """Decisions, retrains and their results."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.decisions = Counter(
            "driftline_retrainer_decisions_total",
            "Drift events decided, by outcome: triggered, duplicate, kind, severity, "
            "in_flight, cooldown, stale_version, other_model, invalid",
            ["outcome"],
            registry=r,
        )
        self.retrains = Counter(
            "driftline_retrainer_retrains_total",
            "Retrains finished, by result: promoted, rejected, refused, insufficient_data, failed",
            ["result"],
            registry=r,
        )
        self.retrain_seconds = Histogram(
            "driftline_retrainer_retrain_duration_seconds",
            "Wall time from trigger to a final result (waiting for labeled rows included)",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.in_flight = Gauge(
            "driftline_retrainer_in_flight", "1 while a retrain runs", registry=r
        )
        self.rows = Gauge(
            "driftline_retrainer_last_rows",
            "Rows in the last retrain's dataset, by split",
            ["split"],
            registry=r,
        )
        self.holdout = Gauge(
            "driftline_retrainer_last_holdout_metric",
            "Holdout metrics of the last retrain, by model role (challenger, champion)",
            ["role", "metric"],
            registry=r,
        )
        self.champion = Gauge(
            "driftline_retrainer_champion_version",
            "Version number @champion points at after the last alias move",
            ["model_name"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "driftline_retrainer_dead_lettered_total",
            "Records written to dead-letter, by source topic",
            ["source"],
            registry=r,
        )
        self.updates_unacknowledged = Counter(
            "driftline_retrainer_model_updates_unacknowledged_total",
            "ModelUpdateEvents the broker did not acknowledge in time",
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
