"""Prometheus metrics of the scorer, all named ``driftline_...``.

Each :class:`ScorerMetrics` owns its registry, so several apps in one process (tests, the
benchmark) never collide on the global one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from scorer.scoring import TIERS

__all__ = ["CONTENT_TYPE", "ScorerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ScorerMetrics:
    """The scorer's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.request_seconds = Histogram(
            "driftline_scorer_request_duration_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter(
            "driftline_predictions_total",
            "Predictions made, by model version, tier and source",
            ["model_name", "model_version", "risk_tier", "source"],
            registry=r,
        )
        self.rejected = Counter(
            "driftline_scorer_rejected_total",
            "Requests refused: invalid, too_large, unauthorized, buffer_full, no_model, "
            "not_acknowledged",
            ["reason"],
            registry=r,
        )
        self.thread_restarts = Counter(
            "driftline_scorer_thread_restarts_total",
            "Background threads (model-updates, stream) found dead and started again",
            ["thread"],
            registry=r,
        )
        for thread in ("model-updates", "stream"):
            self.thread_restarts.labels(thread)
        self.labels_accepted = Counter(
            "driftline_scorer_labels_total",
            "Labels accepted over HTTP and published to labels",
            registry=r,
        )
        self.micro_batch_rows = Histogram(
            "driftline_scorer_micro_batch_rows",
            "Rows per coalesced model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 1024),
            registry=r,
        )
        self.enqueued = Counter(
            "driftline_publish_enqueued_total",
            "Predictions and labels handed to the producer (acknowledged = enqueued - depth - "
            "failures)",
            registry=r,
        )
        self.publish_failures = Counter(
            "driftline_publish_failures_total",
            "Delivery failures reported by Kafka, by error (each is retried or dead-lettered)",
            ["reason"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "driftline_dead_lettered_total",
            "Messages written to dead-letter, by source",
            ["source"],
            registry=r,
        )
        self.buffer_depth = Gauge(
            "driftline_publish_buffer_depth",
            "Predictions queued for Kafka, not yet acknowledged",
            registry=r,
        )
        self.buffer_capacity = Gauge(
            "driftline_publish_buffer_capacity",
            "Queue size beyond which /predict answers 503",
            registry=r,
        )
        self.kafka_reachable = Gauge(
            "driftline_kafka_reachable", "1 when the broker answered the last probe", registry=r
        )
        self.model_version = Gauge(
            "driftline_model_version_info",
            "1 for the model version being served",
            ["model_name", "model_version"],
            registry=r,
        )
        self.model_swaps = Counter(
            "driftline_model_swaps_total", "Hot swaps to a new model version", registry=r
        )
        self.model_load_failures = Counter(
            "driftline_model_load_failures_total",
            "Model versions that failed to load and were not served, by model and reason: "
            "untrusted_types, warm_up, registry, error",
            ["model", "reason"],
            registry=r,
        )
        self.stream_messages = Counter(
            "driftline_stream_messages_total",
            "transactions consumed by outcome: scored, dead_lettered, skipped",
            ["outcome"],
            registry=r,
        )

    def bind_buffer(self, depth: Callable[[], float], capacity: int) -> None:
        """Read the buffer depth from the publisher at scrape time."""
        self.buffer_depth.set_function(depth)
        self.buffer_capacity.set(capacity)

    def count_predictions(
        self,
        name: str,
        version: str,
        tier_index: np.ndarray,
        source: str,
        tiers: Sequence[str] = TIERS,
    ) -> None:
        """Count one scored batch by tier (one increment per tier present, not per row);
        ``tier_index`` holds each row's position in ``tiers`` (the decision policy's names,
        counted under the ``risk_tier`` label)."""
        counts = np.bincount(tier_index, minlength=len(tiers))
        for tier, n in zip(tiers, counts.tolist(), strict=True):
            if n:
                self.predictions.labels(name, version, tier, source).inc(n)

    def served(self, name: str, version: str, previous: str | None) -> None:
        if previous is not None:
            self.model_version.labels(name, previous).set(0)
            self.model_swaps.inc()
        self.model_version.labels(name, version).set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
