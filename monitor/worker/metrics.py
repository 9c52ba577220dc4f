"""Prometheus metrics of the monitor worker (``driftline_monitor_*``).

Two groups, because the source loop may run in processes of its own
(:mod:`monitor.worker.source_host`): :class:`SourceMetrics` (what the source loop counts) and
:class:`PublisherMetrics` (what the publisher counts, always in the worker's own process). A source
process ships its metrics to the worker, which serves them on its ``/metrics`` summed over
its source processes (:class:`ShippedMetrics`).

Counters with a known set of labels start at 0; a model version's series start when the
version is first seen and are removed when it leaves service
(:class:`~monitor.state.live_versions.LiveVersions`). docs/metrics.md lists every metric.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, get_args

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

from driftline.events import DriftKind, Severity
from monitor.worker.batch_histogram import BatchHistogram

__all__ = [
    "DELAY_BUCKETS",
    "DRIFT_KINDS",
    "EVENT_OUTCOMES",
    "SEVERITIES",
    "WINDOW_KINDS",
    "MetricFamily",
    "PublisherMetrics",
    "ShippedMetrics",
    "SourceMetrics",
    "dead_lettered_counter",
    "readiness",
    "ship",
]

PREFIX = "driftline_monitor_"

# Outcomes of the events counter, per source topic; drift-event kinds and severities; kinds of
# judged windows: each label set starts at 0 as soon as it is known.
EVENT_OUTCOMES = {"predictions": ("prediction", "skipped", "rerouted", "dead_lettered"),
                  "labels": ("label", "skipped", "rerouted", "dead_lettered")}
DRIFT_KINDS = get_args(DriftKind)
SEVERITIES = get_args(Severity)
WINDOW_KINDS = ("drift", "performance", "estimate", "concept")
# Label delays: a minute to a week (labels often come days later)
DELAY_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0,
                 86400.0, 259200.0, 604800.0)


def dead_lettered_counter(registry: CollectorRegistry | None) -> Counter:
    """``driftline_monitor_dead_lettered_total``: counted by the source loop and, for the
    partials it cannot decode, by the publisher."""
    return Counter("driftline_monitor_dead_lettered_total",
                   "Messages sent to the dead-letter topic, by the topic they were read from",
                   ["topic"], registry=registry)


class SourceMetrics:
    """The source loop's metrics; one instance per registry (prometheus_client's default
    registry, the one ``/metrics`` serves, takes each name once)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.events = Counter("driftline_monitor_events_total",
                              "Events processed, by source topic and outcome",
                              ["topic", "outcome"], registry=registry)
        self.dead_lettered = dead_lettered_counter(registry)
        self.rerouted = Counter("driftline_monitor_rerouted_total",
                                "Messages read from a partition their key does not belong to "
                                "(written by another partitioner than murmur2), produced again "
                                "to the partition of their key", ["topic"], registry=registry)
        self.labeled = Counter("driftline_monitor_labeled_total",
                               "Joined predictions written to labeled", registry=registry)
        self.expired = Counter("driftline_monitor_expired_predictions_total",
                               "Predictions that expired without a label", registry=registry)
        self.join_state = Gauge("driftline_monitor_join_state_slots",
                                "Slots in the join table on this worker", registry=registry)
        self.lag = Gauge("driftline_monitor_consumer_lag_messages",
                         "Messages behind the end of each source partition",
                         ["topic", "partition"], registry=registry)
        self.parked = Gauge("driftline_monitor_source_parked_events",
                            "Events read and waiting for the other topic of their partition to "
                            "catch up in event time", ["topic"], registry=registry)
        self.paused = Counter("driftline_monitor_source_paused_total",
                              "Times a source topic partition stopped fetching because too much "
                              "of it was parked", ["topic"], registry=registry)
        self.late = Counter("driftline_monitor_late_events_total",
                            "Predictions later than the grace period for every window they "
                            "belong to, dropped from windows, by model", ["model"],
                            registry=registry)
        self.label_delay = BatchHistogram(
            "driftline_monitor_label_delay_seconds",
            "Event time of a label minus that of its prediction, per joined pair, by model "
            "version", ["model", "version"], DELAY_BUCKETS, registry)

    def start_topics(self, predictions: str, labels: str, *others: str) -> None:
        """Start the counters labelled by topic at 0: the source topics (``predictions``,
        ``labels``) and the other topics read (checkpoints, changelog)."""
        for topic, kind in ((predictions, "predictions"), (labels, "labels")):
            for outcome in EVENT_OUTCOMES[kind]:
                self.events.labels(topic, outcome)
            for metric in (self.rerouted, self.paused, self.dead_lettered):
                metric.labels(topic)
        for topic in others:
            self.dead_lettered.labels(topic)

    def start_version(self, model: str, version: str) -> None:
        """Start a model version's series at 0 (and its model's)."""
        self.label_delay.labels(model, version)
        self.late.labels(model)

    def retire(self, model: str, version: str) -> None:
        """Remove the series of a model version that left service."""
        self.label_delay.remove_by_labels({"model": model, "version": version})

    def forget_partition(self, partition: int, topics: tuple[str, ...]) -> None:
        """Drop a partition's gauges when it goes to another worker or source process (its
        new owner reports it; a stale value here would be summed with that one)."""
        for topic in topics:
            _remove(self.lag, topic, str(partition))


class PublisherMetrics:
    """The publisher's metrics (the worker's own process). ``dead_lettered`` is the source
    loop's counter of that name where the worker has one (the source loop in a thread, or
    :attr:`ShippedMetrics.worker`'s): a registry takes each name once."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY, *,
                 dead_lettered: Counter | None = None) -> None:
        r = registry
        self.dead_lettered = (dead_lettered if dead_lettered is not None
                              else dead_lettered_counter(r))
        self.windows = Counter("driftline_monitor_windows_judged_total",
                               "Windows judged", ["model", "version", "kind"], registry=r)
        self.window_rows = Gauge("driftline_monitor_window_rows",
                                 "Predictions in the last judged window", ["model", "version"],
                                 registry=r)
        self.statistic = Gauge("driftline_monitor_drift_statistic",
                               "Last judged value of each drift statistic per feature",
                               ["model", "version", "feature", "statistic"], registry=r)
        self.drifted_ratio = Gauge("driftline_monitor_drifted_features_ratio",
                                   "Share of features drifted in the last window",
                                   ["model", "version"], registry=r)
        self.performance = Gauge("driftline_monitor_performance",
                                 "Last judged performance window metric",
                                 ["model", "version", "metric"], registry=r)
        self.estimated = Gauge("driftline_monitor_estimated_performance",
                               "Estimated metric of the newest performance window, at its "
                               "end: calibrated scores and the labels in by then",
                               ["model", "version", "metric"], registry=r)
        self.label_coverage = Gauge("driftline_monitor_label_coverage_ratio",
                                    "Labeled predictions per prediction in the last judged "
                                    "performance window", ["model", "version"], registry=r)
        self.drift_events = Counter("driftline_monitor_drift_events_total",
                                    "Drift events raised", ["model", "version", "kind",
                                                            "severity"], registry=r)
        self.webhook = Counter("driftline_monitor_webhook_deliveries_total",
                               "Drift-event webhook sends by how they ended: delivered, "
                               "refused (a 4xx other than 429) or failed (gave up)",
                               ["outcome"], registry=r)
        for outcome in ("delivered", "refused", "failed"):
            self.webhook.labels(outcome)  # at 0 from the start, for increase()
        self.partials_read_back = Counter(
            "driftline_monitor_partials_read_back_total",
            "Partials the publisher's stream stepped over in a rebalance, read from Kafka",
            registry=r)
        self.heartbeat = Gauge(
            "driftline_monitor_publisher_heartbeat_timestamp_seconds",
            "When the newest source-loop heartbeat the publisher has handled was sent (Unix "
            "seconds): the publisher's delay behind the source loop is now minus this",
            registry=r)
        self._by_version = (self.windows, self.window_rows, self.statistic, self.drifted_ratio,
                            self.performance, self.estimated, self.label_coverage,
                            self.drift_events)

    def start_version(self, model: str, version: str) -> None:
        """Start a model version's counters at 0: windows judged per kind, drift events per
        kind and severity."""
        for kind in WINDOW_KINDS:
            self.windows.labels(model, version, kind)
        for kind in DRIFT_KINDS:
            for severity in SEVERITIES:
                self.drift_events.labels(model, version, kind, severity)

    def retire(self, model: str, version: str) -> None:
        """Remove every series of a model version that left service."""
        for metric in self._by_version:
            metric.remove_by_labels({"model": model, "version": version})


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
    >>> dead_lettered_counter(shipped.worker).labels("t.partials").inc()
    >>> [(s.labels["topic"], s.value) for m in shipped.collect() for s in m.samples
    ...  if m.name == "driftline_monitor_dead_lettered"]
    [('t.partials', 1.0)]
    """

    def __init__(self) -> None:
        self._latest: dict[int, list[MetricFamily]] = {}
        # what the worker's own process counts under a source metric's name (the dead
        # letters of the publisher), summed with the rest
        self.worker = CollectorRegistry()

    def update(self, process: int, families: list[MetricFamily]) -> None:
        self._latest[process] = families

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, tuple[str, str, dict[tuple[str, Any], float]]] = {}
        for families in [*self._latest.values(), ship(self.worker)]:
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
        if family.name != "driftline_monitor_consumer_lag_messages":
            continue
        for sample in family.samples:
            partitions.add(sample.labels.get("partition", ""))
            lag += sample.value
    return bool(partitions), {"assigned_partitions": len(partitions), "lag": int(lag)}
