"""The source loop's metrics without a broker: counters of its topics start at 0, label
delays are counted per model version once per joined pair, late events count once however
often the loop looks, and a version that left service loses its series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from driftline.events import LabelEvent, PredictionEvent, encode
from monitor.worker.metrics import SourceMetrics
from monitor.worker.source_loop import SourceLoop
from producers.generator import LoanGenerator
from tests.monitor.worker.test_runs import _Message, _source

MODEL = "credit-risk"


def _loop(loan_profile) -> tuple[SourceLoop, CollectorRegistry]:
    registry = CollectorRegistry()
    loop, _ = _source(loan_profile, SourceMetrics(registry), window_size=60, grace=5,
                      label_wait=20)
    return loop, registry


def _pairs(version: str, start: float, n: int, delay: float, first: int = 0) -> list[_Message]:
    """``n`` predictions of ``version`` a second apart from ``start``, each labeled
    ``delay`` seconds later (offsets from ``first``)."""
    rows = LoanGenerator(7).sample(n).rows()
    predictions = [PredictionEvent(prediction_id=f"{version}-{start}-{i}", event_time=start + i,
                                   model_name=MODEL, model_version=version, features=row,
                                   score=0.3, decision="LOW")
                   for i, row in enumerate(rows)]
    labels = [LabelEvent(prediction_id=p.prediction_id, event_time=p.event_time + delay,
                         label=1) for p in predictions]
    return ([_Message("t.predictions", 0, first + i, encode(p))
             for i, p in enumerate(predictions)]
            + [_Message("t.labels", 0, first + i, encode(x)) for i, x in enumerate(labels)])


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_counters_of_the_topics_read_start_at_zero(loan_profile) -> None:
    _, registry = _loop(loan_profile)
    for topic, outcome in (("t.predictions", "prediction"), ("t.labels", "dead_lettered")):
        assert _value(registry, "driftline_monitor_events_total",
                      topic=topic, outcome=outcome) == 0
    for topic in ("t.predictions", "t.labels", "t.mon-checkpoints", "t.mon-join-changelog"):
        assert _value(registry, "driftline_monitor_dead_lettered_total", topic=topic) == 0
    assert _value(registry, "driftline_monitor_rerouted_total", topic="t.labels") == 0


def test_each_joined_pair_counts_its_label_delay_under_its_version(loan_profile) -> None:
    loop, registry = _loop(loan_profile)
    loop.apply(_pairs("1", 1_000.0, 30, delay=90.0))
    count = _value(registry, "driftline_monitor_label_delay_seconds_count",
                   model=MODEL, version="1")
    assert count == loop.states[0].join.counts.joined == 30
    assert _value(registry, "driftline_monitor_label_delay_seconds_sum",
                  model=MODEL, version="1") == 30 * 90.0
    assert _value(registry, "driftline_monitor_label_delay_seconds_bucket",
                  model=MODEL, version="1", le="60.0") == 0
    assert _value(registry, "driftline_monitor_label_delay_seconds_bucket",
                  model=MODEL, version="1", le="300.0") == 30
    assert _value(registry, "driftline_monitor_late_events_total", model=MODEL) == 0


def test_a_version_that_left_service_loses_its_label_delay_series(loan_profile) -> None:
    loop, registry = _loop(loan_profile)
    horizon = loop.settings.version_horizon()
    loop.apply(_pairs("1", 1_000.0, 10, delay=5.0))
    loop.apply(_pairs("2", 1_000.0 + horizon + 100, 10, delay=5.0, first=10))
    assert _value(registry, "driftline_monitor_label_delay_seconds_count",
                  model=MODEL, version="1") is None
    assert _value(registry, "driftline_monitor_label_delay_seconds_count",
                  model=MODEL, version="2") == 10
    # a late label of the retired version counts in no series
    loop.apply(_pairs("1", 1_005.0, 1, delay=horizon + 200, first=20))
    assert _value(registry, "driftline_monitor_label_delay_seconds_count",
                  model=MODEL, version="1") is None


def test_late_events_are_counted_once_per_event(loan_profile) -> None:
    loop, registry = _loop(loan_profile)
    loop.apply(_pairs("1", 1_000.0, 10, delay=5.0))
    state = loop.states[0]
    late = _pairs("1", 100.0, 3, delay=5.0, first=10)  # windows long closed
    loop.apply([m for m in late if m.topic() == "t.predictions"])
    assert sum(state.drift_clock.late.values()) == 3
    loop._count_late(0, state)
    loop._count_late(0, state)  # nothing new
    assert _value(registry, "driftline_monitor_late_events_total", model=MODEL) == 3
