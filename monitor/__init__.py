"""driftline monitor: the pure logic behind ``driftline monitor``.

Everything here is plain Python, testable without Kafka: the prediction/label join
(:mod:`monitor.join`), event-time windows (:mod:`monitor.windows`), mergeable window counts
judged against the reference profile (:mod:`monitor.accumulator`, :mod:`monitor.judge`,
:mod:`monitor.statistics`), per-window performance (:mod:`monitor.performance`), concept
drift detectors (:mod:`monitor.concept`) and the hysteresis and cooldown policy that turns
findings into DriftEvents (:mod:`monitor.policy`).
"""

import importlib
from typing import Any

# Names are imported on first use so that `driftline --help` (which imports monitor.cli) does
# not load scipy and the rest of the statistics stack.
_HOME = {
    "WindowAccumulator": "monitor.accumulator", "WindowState": "monitor.accumulator",
    "ConceptDetectors": "monitor.concept", "ConceptDriftDetector": "monitor.concept",
    "JoinCounts": "monitor.join", "JoinResult": "monitor.join", "JoinState": "monitor.join",
    "DriftConfig": "monitor.judge", "FeatureJudgement": "monitor.judge",
    "WindowReport": "monitor.judge", "PerformanceAccumulator": "monitor.performance",
    "PerformanceReport": "monitor.performance", "judge_performance": "monitor.performance",
    "DriftPolicy": "monitor.policy", "EventTimeWindows": "monitor.windows",
    "Window": "monitor.windows", "WindowClock": "monitor.windows",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ConceptDetectors",
    "ConceptDriftDetector",
    "DriftConfig",
    "DriftPolicy",
    "EventTimeWindows",
    "FeatureJudgement",
    "JoinCounts",
    "JoinResult",
    "JoinState",
    "PerformanceAccumulator",
    "PerformanceReport",
    "Window",
    "WindowAccumulator",
    "WindowClock",
    "WindowReport",
    "WindowState",
    "judge_performance",
]
