"""Every Prometheus metric driftline's services register, read from the services' own
metrics classes (each on a registry of its own): name as exposed, type, label names, help;
and the alert rules that use them (``deploy/prometheus/alerts.yml``). Used by the conventions
test, the docs test and the dashboard and alert-rule checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from monitor.worker.batch_histogram import BatchHistogram

__all__ = ["ALERT_RULES", "Declared", "alert_rules", "declared_metrics", "series_names"]

ALERT_RULES = Path(__file__).resolve().parents[1] / "deploy" / "prometheus" / "alerts.yml"


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of ``deploy/prometheus/alerts.yml``, over its groups."""
    return [rule for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]
            for rule in group["rules"]]


@dataclass(frozen=True)
class Declared:
    """One metric: ``name`` as Prometheus sees it (counters with ``_total``)."""

    service: str
    name: str
    type: str  # counter, gauge, histogram
    labels: tuple[str, ...]
    documentation: str


def _registries() -> dict[str, CollectorRegistry]:
    from monitor.worker.metrics import PublisherMetrics, SourceMetrics
    from retrainer.metrics import RetrainerMetrics
    from scorer.metrics import ScorerMetrics

    monitor = CollectorRegistry()
    source = SourceMetrics(monitor)
    PublisherMetrics(monitor, dead_lettered=source.dead_lettered)  # as the worker shares it
    return {"scorer": ScorerMetrics().registry, "monitor": monitor,
            "retrainer": RetrainerMetrics().registry}


def declared_metrics() -> list[Declared]:
    """Every metric of the scorer, the monitor and the retrainer, in registration order."""
    out: list[Declared] = []
    for service, registry in _registries().items():
        # (prometheus_client keeps its collectors here; a metric without series yet shows
        # its label names nowhere else)
        for collector in list(registry._collector_to_names):
            if isinstance(collector, BatchHistogram):
                name, kind = collector.name, "histogram"
                labels, doc = collector.labelnames, collector.documentation
            else:
                name, kind = collector._name, collector._type
                labels, doc = tuple(collector._labelnames), collector._documentation
            exposed = f"{name}_total" if kind == "counter" else name
            out.append(Declared(service, exposed, kind, labels, doc))
    return out


def series_names(metric: Declared) -> dict[str, tuple[str, ...]]:
    """The series names a metric exposes, each with its label names."""
    base = metric.name.removesuffix("_total")
    if metric.type == "counter":
        return {metric.name: metric.labels, f"{base}_created": metric.labels}
    if metric.type == "histogram":
        return {f"{base}_bucket": (*metric.labels, "le"), f"{base}_count": metric.labels,
                f"{base}_sum": metric.labels, f"{base}_created": metric.labels}
    return {base: metric.labels}
