"""Judging a backtest's partials once per policy, and the baselines beside them (pure).

Every policy judges the same partials (the source loop's output does not depend on the
policy: windows, join and detectors are set by the monitor's settings; what a policy file
changes, thresholds, silenced features, hysteresis, cooldown and tolerances, is applied when
windows are merged and judged). Each :class:`PolicyJudge` runs its own
:class:`~monitor.merging.merge.WindowMerger` with a fixed clock: a backtest never waits for
a partition, so the windows are judged once every partition has passed them, whatever the
speed of the read. Cooldown and hysteresis are in event time, as live.

>>> periodic_delay(0.0, 100.0, 4, onset=50.0)   # alarms every 25 s at a random phase
12.5
>>> score_alarms([30.0, 80.0], onset=50.0)
AlarmScore(alarms=2, false_alarms=1, delay=30.0)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from driftline.events import DriftEvent
from driftline.profile import ReferenceProfile
from monitor.merging.concept import ConceptParams
from monitor.merging.merge import Judged, WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.merging.policy_file import MonitoringPolicy
from monitor.state.partition import Partial

__all__ = [
    "AlarmScore",
    "PolicyJudge",
    "RunOutcome",
    "event_signature",
    "periodic_delay",
    "score_alarms",
]


@dataclass
class RunOutcome:
    """What one run raised over the range: its judged windows and drift events."""

    label: str  # the policy file's name, "live policy", "periodic" or "live"
    source: str  # where the policy came from (a path), or what the baseline is
    windows: list[Judged] = field(default_factory=list)
    events: list[DriftEvent] = field(default_factory=list)


class PolicyJudge:
    """One policy's merger over the backtest's partials; keeps what falls in the range."""

    def __init__(
        self,
        label: str,
        source: str,
        policy: MonitoringPolicy,
        *,
        partitions: int,
        profiles: Callable[[str, str], ReferenceProfile | None],
        baselines: Callable[[str, str], Mapping[str, float]],
        min_labeled: int,
        start: float,
        end: float,
        concept: ConceptParams | None = None,
    ) -> None:
        self.merger = WindowMerger(
            partitions=partitions, profiles=profiles, baselines=baselines,
            policy=DriftPolicy(), policies=policy, min_labeled=min_labeled,
            concept_params=concept,
            idle_timeout=float("inf"), started=0.0, clock=lambda: 0.0,
        )
        self.outcome = RunOutcome(label, source)
        self.start, self.end = start, end

    def add(self, partial: Partial) -> None:
        for judged in self.merger.add(partial, now=0.0):
            if self.start <= judged.window_start and judged.window_end <= self.end:
                self.outcome.windows.append(judged)
                self.outcome.events.extend(judged.events)

    @property
    def pending(self) -> int:
        """Windows merged in part and not judged yet."""
        return self.merger.pending


def event_signature(event: DriftEvent) -> tuple[Any, ...]:
    """What must agree for two runs to have raised "the same" event: the kind, the model
    version, the window, and the features found drifted."""
    drifted = tuple(sorted({s.feature for s in event.statistics if s.drifted}))
    return (event.kind, event.model_name, event.model_version,
            round(event.window_start, 3), round(event.window_end, 3), drifted)


def periodic_delay(start: float, end: float, count: int, onset: float | None
                   ) -> float | None:
    """The expected delay after ``onset`` of ``count`` alarms evenly spaced over
    ``[start, end)`` at a uniformly random phase: the baseline a detector with the same
    number of alarms must beat. None without alarms or an onset inside the range.

    With spacing ``S`` the first alarm after the onset comes a uniform share of ``S``
    later, ``S / 2`` on average; near the range's end only phases whose alarm falls before
    it count, ``(end - onset) / 2``. An expectation rather than one phase: a fixed grid of
    alarms can meet a round onset exactly by accident.

    >>> periodic_delay(0.0, 100.0, 2, onset=50.0), periodic_delay(0.0, 100.0, 2, onset=90.0)
    (25.0, 5.0)
    >>> periodic_delay(0.0, 100.0, 0, onset=50.0) is None
    True
    """
    if count <= 0 or end <= start or onset is None or not start <= onset < end:
        return None
    spacing = (end - start) / count
    return min(spacing, end - onset) / 2.0


class AlarmScore(NamedTuple):
    """Alarms raised; those before a known onset (false); delay of the first one at or after
    the onset (None: none, or no onset given)."""

    alarms: int
    false_alarms: int | None
    delay: float | None


def score_alarms(times: list[float], onset: float | None) -> AlarmScore:
    """Score alarm times against a known drift onset (None: only count them)."""
    if onset is None:
        return AlarmScore(len(times), None, None)
    after = [t - onset for t in sorted(times) if t >= onset]
    return AlarmScore(len(times), sum(1 for t in times if t < onset),
                      after[0] if after else None)
