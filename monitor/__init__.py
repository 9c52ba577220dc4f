"""driftline monitor: the ``driftline monitor`` command.

Pure logic, testable without Kafka, in three subpackages: :mod:`monitor.drift` (event-time
windows, mergeable window counts, drift statistics and verdicts, performance, concept drift
detectors), :mod:`monitor.state` (the prediction/label join and the per-partition state) and
:mod:`monitor.merging` (merging partition shares of a window, the drift event policy).
Everything that does I/O (Kafka, faust, HTTP, MLflow, metrics) is in :mod:`monitor.worker`.
:mod:`monitor.settings` and :mod:`monitor.cli` configure and register the command.
"""

import importlib
from typing import Any

# Names are imported on first use so that `driftline --help` (which imports monitor.cli) does
# not load scipy and the rest of the statistics stack.
_HOME = {
    "WindowAccumulator": "monitor.drift.accumulator",
    "WindowState": "monitor.drift.accumulator",
    "ConceptDriftDetector": "monitor.drift.concept",
    "DriftConfig": "monitor.drift.judge",
    "FeatureJudgement": "monitor.drift.judge",
    "WindowReport": "monitor.drift.judge",
    "PerformanceAccumulator": "monitor.drift.performance",
    "PerformanceReport": "monitor.drift.performance",
    "judge_performance": "monitor.drift.performance",
    "EventTimeWindows": "monitor.drift.windows",
    "Window": "monitor.drift.windows",
    "WindowClock": "monitor.drift.windows",
    "JoinCounts": "monitor.state.join",
    "JoinResult": "monitor.state.join",
    "JoinState": "monitor.state.join",
    "DriftPolicy": "monitor.merging.policy",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
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
