"""Prometheus metrics of the monitor worker (``driftline_monitor_*``).

Two groups, because the source loop may run in processes of its own
(:mod:`monitor.worker.source_host`): :class:`SourceMetrics` (what the source loop counts) and
:class:`PublisherMetrics` (what the publisher counts, always in the worker's own process). A source
process ships its metrics to the worker, which serves them on its ``/metrics`` summed over
its source processes (:class:`ShippedMetrics`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, get_args

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

from driftline.events import DriftKind, Severity

__all__ = [
    "MetricFamily",
    "PublisherMetrics",
    "ShippedMetrics",
    "SourceMetrics",
    "readiness",
    "ship",
]

PREFIX = "driftline_monitor_"


class SourceMetrics:
    """The source loop's metrics; one instance per registry (prometheus_client's default
    registry, the one ``/metrics`` serves, takes each name once)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.events = Counter("driftline_monitor_events_total",
                              "Events processed, by source topic and outcome",
                              ["topic", "outcome"], registry=registry)
        self.dead_letters = Counter("driftline_monitor_dead_letters_total",
                                    "Messages sent to the dead-letter topic", ["topic"],
                                    registry=registry)
        self.rerouted = Counter("driftline_monitor_rerouted_total",
                                "Messages read from a partition their key does not belong to "
                                "(written by another partitioner than murmur2), produced again "
                                "to the partition of their key", ["topic"], registry=registry)
        self.labeled = Counter("driftline_monitor_labeled_total",
                               "Joined predictions written to labeled", registry=registry)
        self.expired = Counter("driftline_monitor_expired_predictions_total",
                               "Predictions that expired without a label", registry=registry)
        self.join_state = Gauge("driftline_monitor_join_state_size",
                                "Slots in the join table on this worker", registry=registry)
        self.lag = Gauge("driftline_monitor_consumer_lag",
                         "Messages behind the end of each source partition",
                         ["topic", "partition"], registry=registry)
        self.parked = Gauge("driftline_monitor_source_parked_events",
                            "Events read and waiting for the other topic of their partition to "
                            "catch up in event time", ["topic"], registry=registry)
        self.paused = Counter("driftline_monitor_source_paused_total",
                              "Times a source topic partition stopped fetching because too much "
                              "of it was parked", ["topic"], registry=registry)
        self.late = Gauge("driftline_monitor_late_events",
                          "Events later than the grace period, dropped from windows",
                          ["partition"], registry=registry)

    def forget_partition(self, partition: int, topics: tuple[str, ...]) -> None:
        """Drop a partition's gauges when it goes to another worker or source process (its
        new owner reports it; a stale value here would be summed with that one)."""
        for topic in topics:
            _remove(self.lag, topic, str(partition))
        _remove(self.late, str(partition))


class PublisherMetrics:
    """The publisher's metrics (the worker's own process)."""

    def __init__(self) -> None:
        self.windows = Counter("driftline_monitor_windows_judged_total",
                               "Windows judged", ["model", "version", "kind"])
        self.window_rows = Gauge("driftline_monitor_window_rows",
                                 "Predictions in the last judged window", ["model", "version"])
        self.statistic = Gauge("driftline_monitor_drift_statistic",
                               "Last judged value of each drift statistic per feature",
                               ["model", "version", "feature", "statistic"])
        self.share_drifted = Gauge("driftline_monitor_share_drifted",
                                   "Share of features drifted in the last window",
                                   ["model", "version"])
        self.performance = Gauge("driftline_monitor_performance",
                                 "Last judged performance window metric",
                                 ["model", "version", "metric"])
        self.drift_events = Counter("driftline_monitor_drift_events_total",
                                    "Drift events raised", ["model", "version", "kind",
                                                            "severity"])
        self.webhook = Counter("driftline_monitor_webhook_deliveries_total",
                               "Drift-event webhook sends by how they ended: delivered, "
                               "refused (a 4xx other than 429) or failed (gave up)",
                               ["outcome"])
        for outcome in ("delivered", "refused", "failed"):
            self.webhook.labels(outcome)  # at 0 from the start, for increase()
        self.partials_read_back = Counter(
            "driftline_monitor_partials_read_back_total",
            "Partials the publisher's stream stepped over in a rebalance, read from Kafka")

    def count_drift_events_from(self, model: str, version: str) -> None:
        """Create the drift-event counters of ``model`` ``version`` at 0, for every kind and
        severity (15 series a version): a counter born at 1 by its first event shows no
        ``increase()``, so the drift alert would miss that event."""
        for kind in get_args(DriftKind):
            for severity in get_args(Severity):
                self.drift_events.labels(model, version, kind, severity)


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # (never set for these labels)
        metric.remove(*labels)


# One metric family as shipped between processes: name, type, help, and its samples as
# (sample name, labels, value).
MetricFamily = tuple[str, str, str, list[tuple[str, dict[str, str], float]]]


def ship(registry: CollectorRegistry = REGISTRY) -> list[MetricFamily]:
    """The monitor's metric families of this process, as plain data (picklable). Counters'
    ``_created`` samples stay behind: a creation time does not add up across processes."""
    out: list[MetricFamily] = []
    for family in registry.collect():
        if not family.name.startswith(PREFIX):
            continue
        samples = [(s.name, dict(s.labels), s.value) for s in family.samples
                   if not s.name.endswith("_created")]
        out.append((family.name, family.type, family.documentation, samples))
    return out


class ShippedMetrics:
    """A collector for the worker's registry: the latest metrics each source process shipped,
    summed per sample name and labels (counters are totals per process, gauges per partition
    are set by the one process that owns the partition, the join state size is per process).

    >>> shipped = ShippedMetrics()
    >>> family = ("driftline_monitor_labeled", "counter", "Joined",
    ...           [("driftline_monitor_labeled_total", {}, 2.0)])
    >>> shipped.update(0, [family]); shipped.update(1, [family])
    >>> [s.value for m in shipped.collect() for s in m.samples]
    [4.0]
    """

    def __init__(self) -> None:
        self._latest: dict[int, list[MetricFamily]] = {}

    def update(self, process: int, families: list[MetricFamily]) -> None:
        self._latest[process] = families

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, tuple[str, str, dict[tuple[str, Any], float]]] = {}
        for families in list(self._latest.values()):
            for name, kind, doc, samples in families:
                _, _, values = merged.setdefault(name, (kind, doc, {}))
                for sample, labels, value in samples:
                    at = (sample, tuple(sorted(labels.items())))
                    values[at] = values.get(at, 0.0) + value
        for name, (kind, doc, values) in merged.items():
            metric = Metric(name, doc, kind)
            for (sample, labels), value in values.items():
                metric.add_sample(sample, dict(labels), value)
            yield metric


def readiness(registry: CollectorRegistry = REGISTRY) -> tuple[bool, dict[str, Any]]:
    """Whether the worker consumes: ready once its source loop (a thread, or the source
    processes shipping their metrics) owns partitions, with how many and the lag behind them
    (the source loop sets a partition's lag gauges while it owns it). A worker with no
    partition (more workers than partitions, or before its first assignment) is not ready.

    >>> ok, facts = readiness(CollectorRegistry())
    >>> ok, facts
    (False, {'assigned_partitions': 0, 'lag': 0})
    """
    partitions: set[str] = set()
    lag = 0.0
    for family in registry.collect():
        if family.name != "driftline_monitor_consumer_lag":
            continue
        for sample in family.samples:
            partitions.add(sample.labels.get("partition", ""))
            lag += sample.value
    return bool(partitions), {"assigned_partitions": len(partitions), "lag": int(lag)}
