"""Which drift events start a retrain: kinds, severity, duplicates, debounce, cooldown.

A pure decision per event, so that every decision (triggered, or skipped and why) can be
logged and counted. Time is the drift event's own event time, so a replay of
``drift-events`` decides exactly as the live run did.

>>> from driftline.events import DriftEvent
>>> policy = TriggerPolicy(cooldown=600, debounce=60)
>>> def event(i, t, kind="covariate", severity="high"):
...     return DriftEvent(event_id=f"d{i}", event_time=t, model_name="credit-risk",
...                       model_version="1", kind=kind, severity=severity,
...                       window_start=t - 60, window_end=t)
>>> policy.decide(event(1, 1000.0)).reason
'triggered: covariate drift (high) on credit-risk v1'
>>> policy.decide(event(1, 1000.0)).reason
'skipped: duplicate of drift event d1'
>>> policy.decide(event(2, 1030.0)).reason
'skipped: a retrain of credit-risk is already in flight'
>>> policy.finished("credit-risk", at=1100.0)
>>> policy.decide(event(3, 1200.0)).reason
'skipped: cooldown until 1700 after the retrain that finished at 1100'
>>> policy.decide(event(4, 1800.0, severity="low")).reason
'skipped: severity low is below medium'
>>> policy.decide(event(5, 1800.0, kind="prediction")).reason
'skipped: kind prediction does not trigger (covariate, performance, concept)'
>>> policy.decide(event(6, 1800.0), champion_version="2").reason
'skipped: v1 no longer serves (the champion is v2)'

What it remembers (the event ids decided, the retrain in flight, where the cooldown runs
from) is plain data, written to ``retrainer-state`` and given back after a restart: the
retrain that was in flight is resumed when its drift event comes again, a duplicate stays one.

>>> state = policy.state("credit-risk", now=1900.0)
>>> state.handled[-2:], state.in_flight, state.finished_at
(['d5', 'd6'], None, 1100.0)
>>> again = TriggerPolicy(cooldown=600, debounce=60)
>>> again.restore(state)
>>> again.decide(event(1, 1000.0)).reason
'skipped: duplicate of drift event d1'
>>> again.decide(event(7, 1650.0)).reason
'skipped: cooldown until 1700 after the retrain that finished at 1100'
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from driftline.events import DriftEvent, DriftKind, RetrainerState, RetrainInFlight, Severity

__all__ = ["KEEP_HANDLED", "Decision", "TriggerPolicy"]

KEEP_HANDLED = 1000
"""The most recent decided event ids a :meth:`TriggerPolicy.state` keeps: a restart is
handed back the events after the last committed offset, which are far fewer."""

_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3}


@dataclass(frozen=True)
class Decision:
    """What to do about one drift event, and why (the reason is logged verbatim).

    ``outcome`` is a short label for metrics: ``triggered``, or the kind of skip
    (``duplicate``, ``kind``, ``severity``, ``in_flight``, ``cooldown``, or one a caller
    adds such as ``stale_version``); ``resumed`` when a retrain in flight before a restart
    goes on for its re-delivered event.
    """

    trigger: bool
    reason: str
    model_name: str
    event_id: str
    outcome: str = "triggered"

    @classmethod
    def skip(cls, outcome: str, reason: str, model_name: str, event_id: str) -> Decision:
        """A decision not to retrain; ``reason`` is prefixed with ``skipped:``."""
        return cls(False, f"skipped: {reason}", model_name, event_id, outcome)


class TriggerPolicy:
    """Decide whether a drift event triggers a retrain.

    Parameters
    ----------
    kinds
        Drift kinds that may trigger (default covariate, performance and concept).
    min_severity
        The lowest severity that triggers.
    debounce
        Seconds after a trigger during which further events for the same model coalesce into
        the retrain already started (they are answered by it).
    cooldown
        Seconds after a retrain finishes before the same model may retrain again.
    remember
        How many recent event ids are kept to recognise duplicates.
    """

    def __init__(
        self,
        kinds: Iterable[DriftKind] = ("covariate", "performance", "concept"),
        min_severity: Severity = "medium",
        debounce: float = 60.0,
        cooldown: float = 900.0,
        remember: int = 10_000,
    ) -> None:
        if debounce < 0 or cooldown < 0:
            raise ValueError("debounce and cooldown are seconds >= 0")
        self.kinds = tuple(kinds)
        self.min_severity = min_severity
        self.debounce = float(debounce)
        self.cooldown = float(cooldown)
        self._remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._in_flight: dict[str, float] = {}  # model -> event time that triggered it
        self._trigger: dict[str, RetrainInFlight] = {}  # model -> the retrain in flight
        self._resume: set[str] = set()  # models whose restored retrain waits for its event
        self._finished: dict[str, float] = {}  # model -> event time its last retrain ended

    def in_flight(self, model_name: str) -> bool:
        """True between a trigger for ``model_name`` and :meth:`finished`."""
        return model_name in self._in_flight

    def decide(self, event: DriftEvent, champion_version: str | None = None) -> Decision:
        """Decide about ``event``; a trigger marks the model as in flight until
        :meth:`finished` is called.

        ``champion_version``, when known, is the version serving now: drift found in another
        version (one already replaced, say by the retrain this event would ask for) is stale.
        """
        model, t = event.model_name, event.event_time

        def skip(outcome: str, reason: str) -> Decision:
            return Decision.skip(outcome, reason, model, event.event_id)

        running = self._trigger.get(model)
        if model in self._resume and running is not None \
                and running.event_id == event.event_id:
            # the retrain in flight before a restart: its event is delivered again
            self._resume.discard(model)
            return Decision(
                True,
                f"resumed: the retrain of {model} for drift event {event.event_id} was in "
                "flight before a restart",
                model, event.event_id, outcome="resumed",
            )
        if event.event_id in self._seen:
            return skip("duplicate", f"duplicate of drift event {event.event_id}")
        self._seen[event.event_id] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)

        if event.kind not in self.kinds:
            return skip("kind", f"kind {event.kind} does not trigger ({', '.join(self.kinds)})")
        if _RANK[event.severity] < _RANK[self.min_severity]:
            return skip("severity", f"severity {event.severity} is below {self.min_severity}")
        if champion_version is not None and event.model_version != champion_version:
            return skip(
                "stale_version",
                f"v{event.model_version} no longer serves (the champion is v{champion_version})",
            )
        if model in self._in_flight:
            return skip("in_flight", f"a retrain of {model} is already in flight")
        finished = self._finished.get(model)
        if finished is not None and t < finished + self.cooldown:
            return skip(
                "cooldown",
                f"cooldown until {finished + self.cooldown:.0f} after the retrain that "
                f"finished at {finished:.0f}"
            )
        self._in_flight[model] = t
        self._trigger[model] = RetrainInFlight(event_id=event.event_id, event_time=t)
        return Decision(
            True,
            f"triggered: {event.kind} drift ({event.severity}) on {model} "
            f"v{event.model_version}",
            model,
            event.event_id,
        )

    def finished(self, model_name: str, at: float) -> None:
        """A retrain of ``model_name`` ended (promoted, rejected or failed) at event time
        ``at``; the cooldown starts. Events that arrived within ``debounce`` of the trigger
        were already answered by it."""
        started = self._in_flight.pop(model_name, None)
        self._trigger.pop(model_name, None)
        self._resume.discard(model_name)
        end = at if started is None else max(at, started + self.debounce)
        self._finished[model_name] = end

    def tried(self, model_name: str, tries: int) -> None:
        """The retrain in flight for ``model_name`` has started ``tries`` tries."""
        running = self._trigger.get(model_name)
        if running is not None:
            self._trigger[model_name] = msgspec.structs.replace(running, tries=tries)

    def in_flight_tries(self, model_name: str) -> int:
        """Tries started of the retrain in flight for ``model_name`` (0: none)."""
        running = self._trigger.get(model_name)
        return 0 if running is None else running.tries

    def state(self, model_name: str, now: float) -> RetrainerState:
        """What this policy remembers about ``model_name``, to write at ``now``: the
        :data:`KEEP_HANDLED` most recent event ids, the retrain in flight, the cooldown."""
        handled = list(self._seen)[-KEEP_HANDLED:]
        return RetrainerState(event_time=now, model_name=model_name, handled=handled,
                              in_flight=self._trigger.get(model_name),
                              finished_at=self._finished.get(model_name))

    def restore(self, state: RetrainerState) -> None:
        """Take back what a :meth:`state` remembered. A retrain in flight then is in flight
        again, waiting for its drift event: that one event resumes it (``resumed``), any
        other is skipped as ``in_flight`` until it ends."""
        model = state.model_name
        for event_id in state.handled:
            self._seen[event_id] = None
            self._seen.move_to_end(event_id)
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        if state.finished_at is not None:
            self._finished[model] = state.finished_at
        if state.in_flight is not None:
            self._in_flight[model] = state.in_flight.event_time
            self._trigger[model] = state.in_flight
            self._resume.add(model)
