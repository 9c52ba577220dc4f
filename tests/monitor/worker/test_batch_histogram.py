"""BatchHistogram: the same exposition as prometheus_client's Histogram fed one value at a
time, series created at 0 and removed by label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from monitor.worker.batch_histogram import BatchHistogram

BUCKETS = (1.0, 60.0, 3600.0)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    return {(s.name.removeprefix("b_").removeprefix("o_"), tuple(sorted(s.labels.items()))):
            s.value for m in registry.collect() for s in m.samples
            if not s.name.endswith("_created")}


def test_a_batch_counts_as_the_same_values_observed_one_by_one() -> None:
    values = [0.0, 1.0, 1.5, 59.9, 60.0, 61.0, 7200.0, -3.0]
    batch, one = CollectorRegistry(), CollectorRegistry()
    BatchHistogram("b_seconds", "b", ["model"], BUCKETS, batch).observe_many(("m",), values)
    each = Histogram("o_seconds", "o", ["model"], buckets=BUCKETS, registry=one)
    for v in values:
        each.labels("m").observe(v)
    assert _samples(batch) == _samples(one)


def test_a_series_starts_at_zero_and_is_removed_by_partial_labels() -> None:
    registry = CollectorRegistry()
    h = BatchHistogram("x_seconds", "x", ["model", "version"], BUCKETS, registry)
    h.labels("m", "1")
    h.observe_many(("m", "2"), [5.0])
    assert registry.get_sample_value("x_seconds_count", {"model": "m", "version": "1"}) == 0
    h.remove_by_labels({"version": "1"})
    assert registry.get_sample_value("x_seconds_count", {"model": "m", "version": "1"}) is None
    assert registry.get_sample_value("x_seconds_count", {"model": "m", "version": "2"}) == 1
    assert b"x_seconds_bucket" in generate_latest(registry)
