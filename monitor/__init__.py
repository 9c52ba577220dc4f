"""driftline monitor: the pure logic behind ``driftline monitor``.

Everything here is plain Python, testable without Kafka: the prediction/label join
(:mod:`monitor.join`), event-time windows (:mod:`monitor.windows`), mergeable window counts
judged against the reference profile (:mod:`monitor.accumulator`, :mod:`monitor.judge`,
:mod:`monitor.statistics`), per-window performance (:mod:`monitor.performance`), concept
drift detectors (:mod:`monitor.concept`) and the hysteresis and cooldown policy that turns
findings into DriftEvents (:mod:`monitor.policy`).
"""

from monitor.accumulator import WindowAccumulator, WindowState
from monitor.concept import ConceptDetectors, ConceptDriftDetector
from monitor.join import JoinCounts, JoinResult, JoinState
from monitor.judge import DriftConfig, FeatureJudgement, WindowReport
from monitor.performance import PerformanceAccumulator, PerformanceReport, judge_performance
from monitor.policy import DriftPolicy
from monitor.windows import EventTimeWindows, Window, WindowClock

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
