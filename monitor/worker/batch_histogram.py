"""A Prometheus histogram fed a batch of values per call (numpy), for the source loop's hot
path, where prometheus_client's ``observe()`` per value would cost a lock and a bucket search
per labeled prediction.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> registry = CollectorRegistry()
>>> h = BatchHistogram("x_seconds", "X", ["model"], (1.0, 10.0), registry)
>>> h.observe_many(("m",), [0.5, 1.0, 5.0, 50.0])
>>> print(generate_latest(registry).decode().strip())
# HELP x_seconds X
# TYPE x_seconds histogram
x_seconds_bucket{le="1.0",model="m"} 2.0
x_seconds_bucket{le="10.0",model="m"} 3.0
x_seconds_bucket{le="+Inf",model="m"} 4.0
x_seconds_count{model="m"} 4.0
x_seconds_sum{model="m"} 56.5
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = ["BatchHistogram"]


class BatchHistogram(Collector):
    """Cumulative bucket counts and sum per label set; ``buckets``: the upper bounds, in
    increasing order (``+Inf`` is added)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str],
                 buckets: Sequence[float], registry: CollectorRegistry | None) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._edges = np.asarray(buckets, dtype=np.float64)
        self._les = [*(floatToGoString(b) for b in buckets), "+Inf"]
        self._series: dict[tuple[str, ...], tuple[np.ndarray, list[float]]] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> None:
        """Create the series of ``values`` at 0 (if it does not exist)."""
        with self._lock:
            self._child(values)

    def _child(self, values: tuple[str, ...]) -> tuple[np.ndarray, list[float]]:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        child = self._series.get(values)
        if child is None:
            child = self._series[values] = (np.zeros(len(self._les), np.int64), [0.0])
        return child

    def observe_many(self, values: tuple[str, ...], observed: Sequence[float]) -> None:
        """Count each of ``observed`` in the series of label ``values``."""
        v = np.asarray(observed, dtype=np.float64)
        # bucket i holds values <= edge i: the first edge not below the value
        counts = np.bincount(np.searchsorted(self._edges, v, side="left"),
                             minlength=len(self._les))
        total = float(v.sum())
        with self._lock:
            child = self._child(values)
            child[0][:] += counts
            child[1][0] += total

    def remove_by_labels(self, labels: dict[str, str]) -> None:
        """Remove every series whose labels include ``labels``."""
        at = {self.labelnames.index(k): v for k, v in labels.items()}
        with self._lock:
            for values in [s for s in self._series if all(s[i] == v for i, v in at.items())]:
                del self._series[values]

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            series = [(values, np.cumsum(counts).tolist(), total[0])
                      for values, (counts, total) in self._series.items()]
        for values, cumulative, total in series:
            family.add_metric(list(values), list(zip(self._les, cumulative, strict=True)),
                              total)
        yield family
