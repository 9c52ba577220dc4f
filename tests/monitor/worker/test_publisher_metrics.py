"""The publisher's metrics: a model version's counters start at 0 when it is first judged,
performance windows set its label coverage, and a version that left service loses every
series and its pooled windows (a late window of it counts nowhere)."""

from __future__ import annotations

import asyncio
from unittest.mock import MagicMock

from prometheus_client import CollectorRegistry

from monitor.drift.performance import PerformanceAccumulator
from monitor.merging.merge import Judged
from monitor.worker.metrics import DRIFT_KINDS, SEVERITIES, PublisherMetrics
from monitor.worker.publisher import WindowPublisher
from tests.monitor.worker.test_publisher import FakeSink

MODEL = "credit-risk"


def _publisher(horizon: float) -> tuple[WindowPublisher, CollectorRegistry]:
    registry = CollectorRegistry()
    publisher = WindowPublisher(MagicMock(), PublisherMetrics(registry), reports=FakeSink(),
                                drift_events=FakeSink(), drain=MagicMock(), position={},
                                read_back=MagicMock(), version_horizon=horizon)
    return publisher, registry


def _performance(version: str, start: float, predictions: int, labeled: int) -> Judged:
    acc = PerformanceAccumulator()
    acc.add_predictions(predictions)
    acc.update_many([0.2, 0.8] * (labeled // 2), [0, 1] * (labeled // 2), [30.0] * labeled)
    return Judged(kind="performance", model_name=MODEL, model_version=version,
                  window_start=start, window_end=start + 60, partitions=1,
                  performance=acc.evaluate())


def _series(registry: CollectorRegistry, version: str) -> list[str]:
    return sorted({s.name for m in registry.collect() for s in m.samples
                   if s.labels.get("version") == version})


def test_a_versions_counters_start_at_zero_when_it_is_first_judged() -> None:
    publisher, registry = _publisher(horizon=1_000.0)
    asyncio.run(publisher._publish(_performance("1", 0.0, 10, 4)))
    for kind in DRIFT_KINDS:
        for severity in SEVERITIES:
            assert registry.get_sample_value("driftline_monitor_drift_events_total", {
                "model": MODEL, "version": "1", "kind": kind, "severity": severity}) == 0
    assert registry.get_sample_value("driftline_monitor_windows_judged_total", {
        "model": MODEL, "version": "1", "kind": "drift"}) == 0
    assert registry.get_sample_value("driftline_monitor_windows_judged_total", {
        "model": MODEL, "version": "1", "kind": "performance"}) == 1
    assert registry.get_sample_value("driftline_monitor_label_coverage_ratio", {
        "model": MODEL, "version": "1"}) == 0.4
    metrics = {s.labels["metric"] for m in registry.collect() for s in m.samples
               if s.name == "driftline_monitor_performance"}
    assert "roc_auc" in metrics and not metrics & {"label_coverage", "delay_mean"}


def test_a_version_that_left_service_loses_every_series() -> None:
    publisher, registry = _publisher(horizon=1_000.0)
    asyncio.run(publisher._publish(_performance("1", 0.0, 10, 4)))
    asyncio.run(publisher._publish(_performance("2", 500.0, 10, 8)))
    assert _series(registry, "1") and _series(registry, "2")
    asyncio.run(publisher._publish(_performance("2", 1_060.0, 10, 8)))
    assert _series(registry, "1") == []
    assert "driftline_monitor_label_coverage_ratio" in _series(registry, "2")
    asyncio.run(publisher._publish(_performance("1", 30.0, 10, 2)))  # late, of retired v1
    assert _series(registry, "1") == []
    assert len(publisher.reports.sent) == 4  # the report is published all the same
    # and its pooled windows' counts leave the table with it, once
    publisher.merger.retire.assert_called_once_with(MODEL, "1")
