"""Retraining on a fixed wall-clock schedule instead of on drift (``driftline retrain --every``).

With ``DRIFTLINE_RETRAIN_EVERY`` (or ``--every``) set, the worker does not read
``drift-events`` at all: a retrain is due every ``every`` seconds of wall-clock time, counted
from the worker's start (``start + every``, ``start + 2 * every``, ...), and each runs the same
path as a drift-triggered one (the recent window of ``labeled``, the same pipeline, gate,
registration and promotion), except that ``DRIFTLINE_RETRAIN_SINCE_DRIFT`` has no drift window
to start from. It is the usual baseline for what drift-triggered retraining buys, and a policy
in its own right where labels are plentiful and retraining is cheap.

A tick that comes while the previous retrain still runs is skipped, not queued (the retrain
under way already answers it), and a worker that was paused past several ticks retrains once,
for the latest. Every tick is a :class:`~retrainer.trigger.Decision`, logged and counted like
a drift event's (``scheduled`` or ``in_flight``).

>>> schedule = RetrainSchedule(every=60, start=1000.0, model_name="credit-risk")
>>> schedule.next_at, schedule.decide(1059.9, busy=False)
(1060.0, None)
>>> decision, run = schedule.decide(1060.4, busy=False)
>>> decision.trigger, decision.outcome, decision.reason, run.event_id
(True, 'scheduled', 'triggered: fixed schedule, every 60s (due at 1060)', 'schedule-1060')
>>> schedule.decide(1100.0, busy=True) is None  # the next tick is at 1120
True
>>> decision, run = schedule.decide(1121.0, busy=True)
>>> decision.trigger, decision.outcome, decision.reason
(False, 'in_flight', 'skipped: the retrain due at 1120 (a retrain of credit-risk is still running)')
>>> schedule.decide(1301.0, busy=False)[0].reason  # 1180 and 1240 passed unseen
'triggered: fixed schedule, every 60s (due at 1300; 2 earlier ticks missed)'
>>> schedule.next_at
1360.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrainer.trigger import Decision

__all__ = ["SCHEDULED_PREFIX", "RetrainSchedule", "ScheduledRetrain"]

# Event ids of scheduled retrains start with this, so their lineage reads apart from drift's.
SCHEDULED_PREFIX = "schedule-"


@dataclass(frozen=True)
class ScheduledRetrain:
    """The trigger of one scheduled retrain: what a drift event is to a drift-triggered one.

    ``event_time`` is the wall-clock time (seconds since the epoch) the retrain was due.
    """

    event_id: str
    event_time: float
    model_name: str
    every: float

    @property
    def description(self) -> str:
        return f"fixed schedule, every {self.every:g}s"


class RetrainSchedule:
    """Decide, from the wall clock, when a scheduled retrain is due.

    Parameters
    ----------
    every
        Seconds between retrains (at least 1).
    start
        Wall-clock time the schedule counts from; the first retrain is due at
        ``start + every``.
    model_name
        The model retrained, named in the decisions.
    """

    def __init__(self, every: float, start: float, model_name: str) -> None:
        if not every >= 1.0:
            raise ValueError(f"a retrain schedule needs every >= 1 second, got {every!r}")
        self.every = float(every)
        self.start = float(start)
        self.model_name = model_name
        self._next = self.start + self.every

    @property
    def next_at(self) -> float:
        """Wall-clock time of the next tick."""
        return self._next

    def decide(self, now: float, busy: bool) -> tuple[Decision, ScheduledRetrain] | None:
        """None before the next tick; else the decision about the latest tick passed by
        ``now`` (a retrain, or a skip when ``busy``: a retrain still runs) and its trigger.
        Either way the schedule moves on to the first tick after ``now``."""
        if now < self._next:
            return None
        ticks = math.floor((now - self.start) / self.every)
        due = self.start + ticks * self.every
        missed = round((due - self._next) / self.every)
        self._next = due + self.every
        run = ScheduledRetrain(f"{SCHEDULED_PREFIX}{due:.0f}", due, self.model_name, self.every)
        if busy:
            return Decision.skip(
                "in_flight",
                f"the retrain due at {due:.0f} (a retrain of {self.model_name} is still running)",
                self.model_name, run.event_id,
            ), run
        note = f"; {missed} earlier tick{'s' if missed != 1 else ''} missed" if missed else ""
        return Decision(True, f"triggered: {run.description} (due at {due:.0f}{note})",
                        self.model_name, run.event_id, outcome="scheduled"), run
