"""Prometheus metrics of the scorer, all named ``driftline_scorer_...``.

Each :class:`ScorerMetrics` owns its registry, so several apps in one process (tests, the
benchmark) never collide on the global one. Counters with a known set of labels start at 0
(``increase()`` then sees their first event); series of a model version the scorer no longer
serves are removed (see docs/metrics.md for every metric and the bound of its labels).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from scorer.scoring import TIERS

__all__ = [
    "CONTENT_TYPE",
    "LOAD_FAILURE_REASONS",
    "REJECT_REASONS",
    "SOURCES",
    "STREAM_OUTCOMES",
    "ScorerMetrics",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
ROUTES = ("/predict", "/predict/batch", "/labels", "/labels/batch")
REJECT_REASONS = ("invalid", "too_large", "unauthorized", "buffer_full", "no_model",
                  "not_acknowledged")
SOURCES = ("http", "stream")
STREAM_OUTCOMES = ("scored", "dead_lettered", "skipped")
LOAD_FAILURE_REASONS = ("untrusted_types", "warm_up", "registry", "error")


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
            "driftline_scorer_predictions_total",
            "Predictions made, by model version, tier and source",
            ["model", "version", "risk_tier", "source"],
            registry=r,
        )
        self.rejected = Counter(
            "driftline_scorer_rejected_total",
            "Requests (rows, for buffer_full and not_acknowledged) refused: "
            + ", ".join(REJECT_REASONS),
            ["reason"],
            registry=r,
        )
        self.thread_restarts = Counter(
            "driftline_scorer_thread_restarts_total",
            "Background threads (model-updates, stream) found dead and started again",
            ["thread"],
            registry=r,
        )
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
            "driftline_scorer_publish_enqueued_total",
            "Predictions and labels handed to the producer (acknowledged = enqueued - buffered "
            "- failures)",
            registry=r,
        )
        self.publish_failures = Counter(
            "driftline_scorer_publish_failures_total",
            "Delivery failures reported by Kafka, by librdkafka error name (each is retried or "
            "dead-lettered)",
            ["reason"],
            registry=r,
        )
        self.dead_lettered = Counter(
            "driftline_scorer_dead_lettered_total",
            "Messages written to dead-letter, by the topic they were read from or meant for",
            ["topic"],
            registry=r,
        )
        self.buffer_messages = Gauge(
            "driftline_scorer_publish_buffer_messages",
            "Predictions queued for Kafka, not yet acknowledged",
            registry=r,
        )
        self.buffer_capacity = Gauge(
            "driftline_scorer_publish_buffer_capacity_messages",
            "Queue size beyond which /predict answers 503",
            registry=r,
        )
        self.kafka_up = Gauge(
            "driftline_scorer_kafka_up", "1 when the broker answered the last probe", registry=r
        )
        self.model_info = Gauge(
            "driftline_scorer_model_info",
            "1 for the model version being served (no series for others)",
            ["model", "version"],
            registry=r,
        )
        self.model_swaps = Counter(
            "driftline_scorer_model_swaps_total", "Hot swaps to a new model version", registry=r
        )
        self.model_load_failures = Counter(
            "driftline_scorer_model_load_failures_total",
            "Model versions that failed to load and were not served, by model and reason: "
            + ", ".join(LOAD_FAILURE_REASONS),
            ["model", "reason"],
            registry=r,
        )
        self.stream_messages = Counter(
            "driftline_scorer_stream_messages_total",
            "transactions consumed by outcome: " + ", ".join(STREAM_OUTCOMES),
            ["outcome"],
            registry=r,
        )
        self._at_zero(self.request_seconds, [(route,) for route in ROUTES])
        self._at_zero(self.rejected, [(reason,) for reason in REJECT_REASONS])
        self._at_zero(self.thread_restarts, [("model-updates",), ("stream",)])
        self._at_zero(self.stream_messages, [(o,) for o in STREAM_OUTCOMES])
        self._serving: list[tuple[str, str]] = []  # (model, version): now, and the one before

    @staticmethod
    def _at_zero(metric: Counter | Histogram, label_sets: Iterable[tuple[str, ...]]) -> None:
        for labels in label_sets:
            metric.labels(*labels)

    def start_topics(self, topics: Iterable[str]) -> None:
        """Start the dead-letter counter at 0 for each topic the scorer reads or writes."""
        self._at_zero(self.dead_lettered, [(t,) for t in topics])

    def bind_buffer(self, depth: Callable[[], float], capacity: int) -> None:
        """Read the buffer depth from the publisher at scrape time."""
        self.buffer_messages.set_function(depth)
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

    def served(self, name: str, version: str, tiers: Sequence[str] = TIERS) -> None:
        """A model version is served from now on: its info series is 1 (the previous
        version's is removed), its prediction counters start at 0 for each tier and source,
        and those of the version served before the previous one are removed (the previous
        one's stay one swap longer, so its last increments are scraped)."""
        previous = self._serving[-1] if self._serving else None
        if previous == (name, version):
            return
        if previous is not None:
            self.model_info.remove(*previous)
            self.model_swaps.inc()
        if len(self._serving) == 2:
            retired = self._serving.pop(0)
            if retired != (name, version):
                self.predictions.remove_by_labels({"model": retired[0], "version": retired[1]})
        self._serving = [s for s in self._serving if s != (name, version)] + [(name, version)]
        self.model_info.labels(name, version).set(1)
        self._at_zero(self.predictions,
                      [(name, version, tier, source) for tier in tiers for source in SOURCES])
        self._at_zero(self.model_load_failures, [(name, r) for r in LOAD_FAILURE_REASONS])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
