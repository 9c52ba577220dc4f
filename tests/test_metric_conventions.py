"""Every metric the scorer, the monitor and the retrainer register follows driftline's
Prometheus conventions (docs/metrics.md) and is documented there with its type and labels:
a new metric that breaks them fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.metrics_catalog import Declared, declared_metrics

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
SERVICES = ("scorer", "monitor", "retrainer")
# What a gauge's or a histogram's name may end with: a base unit, or what it counts
UNITS = ("seconds", "bytes", "ratio", "messages", "events", "rows", "slots", "info")
# Gauges without a unit, each for a reason
UNITLESS = {
    "driftline_scorer_kafka_up": "0 or 1",
    "driftline_retrainer_retrains_in_flight": "0 or 1",
    "driftline_retrainer_champion_version": "a version number",
    "driftline_retrainer_last_holdout_metric": "a metric's value (AUC, Brier...)",
    "driftline_monitor_drift_statistic": "a statistic's value (PSI, KS...)",
    "driftline_monitor_performance": "a metric's value (AUC, Brier...)",
    "driftline_monitor_estimated_performance": "a metric's estimated value (AUC, Brier...)",
}
# Words that mean a time: the name must say seconds
TIME_WORDS = ("duration", "delay", "latency", "age", "time", "elapsed", "wait")
LABELS = {"model", "version", "topic", "partition", "outcome", "result", "reason", "kind",
          "severity", "feature", "statistic", "metric", "route", "risk_tier", "source",
          "thread", "split", "role"}

METRICS = declared_metrics()


def _id(metric: Declared) -> str:
    return metric.name


def test_each_service_registers_metrics() -> None:
    assert {m.service for m in METRICS} == set(SERVICES)
    assert len({m.name for m in METRICS}) == len(METRICS)


@pytest.mark.parametrize("metric", METRICS, ids=_id)
def test_a_metric_carries_its_services_prefix(metric: Declared) -> None:
    assert re.fullmatch(rf"driftline_{metric.service}_[a-z][a-z0-9_]*[a-z0-9]", metric.name)


@pytest.mark.parametrize("metric", METRICS, ids=_id)
def test_counters_and_only_counters_end_in_total(metric: Declared) -> None:
    assert (metric.type == "counter") == metric.name.endswith("_total")
    assert metric.type in ("counter", "gauge", "histogram")


@pytest.mark.parametrize("metric", [m for m in METRICS if m.type != "counter"], ids=_id)
def test_a_gauge_or_histogram_names_its_unit(metric: Declared) -> None:
    assert metric.name.rsplit("_", 1)[1] in UNITS or metric.name in UNITLESS, (
        f"{metric.name}: end it in one of {UNITS}, or list it in UNITLESS with why")


@pytest.mark.parametrize("metric", METRICS, ids=_id)
def test_a_time_is_in_seconds(metric: Declared) -> None:
    words = metric.name.removesuffix("_total").split("_")
    if any(w in TIME_WORDS for w in words):
        assert words[-1] == "seconds"


@pytest.mark.parametrize("metric", METRICS, ids=_id)
def test_labels_have_the_names_every_service_uses(metric: Declared) -> None:
    assert set(metric.labels) <= LABELS, (
        f"{metric.name}: {set(metric.labels) - LABELS}; the model is 'model', its version "
        "'version', a topic 'topic' (or add a new label to LABELS and docs/metrics.md)")
    if "version" in metric.labels:
        assert "model" in metric.labels


def _documented() -> dict[str, tuple[str, tuple[str, ...]]]:
    """docs/metrics.md's table rows: metric -> (type, labels)."""
    rows = re.findall(r"^\| `(driftline_\w+)` \| (\w+) \|([^|]*)\|", DOC.read_text(),
                      flags=re.MULTILINE)
    return {name: (kind, tuple(re.findall(r"`(\w+)`", labels))) for name, kind, labels in rows}


def test_every_metric_is_documented_with_its_type_and_labels() -> None:
    documented = _documented()
    registered = {m.name: (m.type, m.labels) for m in METRICS}
    assert documented == registered
