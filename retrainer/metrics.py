"""Prometheus metrics of the retrainer (``driftline_retrainer_*``).

Each :class:`RetrainerMetrics` owns its registry, so several retrainers in one process (tests,
the demo) never collide on the global one. Counters with a known set of labels start at 0, so
``increase()`` sees their first event (docs/metrics.md lists every metric).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["DECISION_OUTCOMES", "RETRAIN_RESULTS", "RetrainerMetrics"]

DECISION_OUTCOMES = ("triggered", "scheduled", "duplicate", "kind", "severity", "stale_version",
                     "in_flight", "cooldown", "other_model", "invalid")
RETRAIN_RESULTS = ("promoted", "rejected", "refused", "insufficient_data", "cancelled", "failed")


class RetrainerMetrics:
    """Decisions, retrains and their results."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.decisions = Counter(
            "driftline_retrainer_decisions_total",
            "Drift events (and scheduled runs) decided, by outcome: "
            + ", ".join(DECISION_OUTCOMES),
            ["outcome"],
            registry=r,
        )
        self.retrains = Counter(
            "driftline_retrainer_retrains_total",
            "Retrains finished, by result: " + ", ".join(RETRAIN_RESULTS),
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
            "driftline_retrainer_retrains_in_flight", "Retrains running (0 or 1)", registry=r
        )
        self.rows = Gauge(
            "driftline_retrainer_last_retrain_rows",
            "Rows in the last retrain's dataset, by split (train, holdout)",
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
            ["model"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "driftline_retrainer_dead_lettered_total",
            "Records written to dead-letter, by the topic they were read from",
            ["topic"],
            registry=r,
        )
        self.updates_unacknowledged = Counter(
            "driftline_retrainer_model_updates_unacknowledged_total",
            "ModelUpdateEvents the broker did not acknowledge in time",
            registry=r,
        )
        for outcome in DECISION_OUTCOMES:
            self.decisions.labels(outcome)
        for result in RETRAIN_RESULTS:
            self.retrains.labels(result)

    def start_topics(self, topics: Iterable[str]) -> None:
        """Start the dead-letter counter at 0 for each topic the retrainer reads."""
        for topic in topics:
            self.dead_lettered.labels(topic)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
