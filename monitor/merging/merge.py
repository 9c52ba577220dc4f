"""Merge every partition's share of a window, judge it once, and raise few drift events.

:class:`WindowMerger` adds partials (:class:`~monitor.state.partition.Partial`) up per
(kind, model, version, window) and judges a window when every *active* partition's watermark
has passed its end (drift windows), its labels' watermark too (the ``estimate`` shares of
performance windows: their predictions' scores with the labels that came by the window's
end, judged on the version's calibration map), or its performance watermark (performance
windows, with the labels in by then). A partition whose heartbeats say it is caught up and
whose watermarks have not moved for ``idle_timeout`` seconds is idle and holds nothing open;
until all ``partitions`` have reported once, nothing is judged before ``idle_timeout`` has
passed since the first partial. Judged drift windows go through the evidence over windows
(:class:`~monitor.drift.evidence.WindowEvidence`: the pooled windows' tests, their state in
``pooled``, and the e-CUSUMs, theirs in ``sequential``) in order of their end, then
:class:`~monitor.merging.policy.DriftPolicy`. The partitions' error buckets go to one
concept detector per model version (:class:`~monitor.merging.concept.ConceptPool`, its
state in ``concept``) once every active partition's concept watermark has passed them;
each detection is a ``"concept"`` :class:`Judged` with the policy's event (unless in
cooldown). Details:
``docs/monitoring-internals.md``, "Merging windows".

>>> merger = WindowMerger(partitions=1, profiles=lambda n, v: None)
>>> merger.add(Partial(kind="watermark", partition=0, watermark=10.0), now=0.0)
[]
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from driftline.events import DriftEvent
from driftline.profile import ReferenceProfile
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.estimation import PerformanceEstimate, estimate_performance, judge_estimate
from monitor.drift.evidence import WindowEvidence
from monitor.drift.judge import DriftConfig, WindowReport
from monitor.drift.performance import PerformanceAccumulator, PerformanceReport, judge_performance
from monitor.merging.concept import ConceptParams, ConceptPool, Found
from monitor.merging.policy import DriftPolicy
from monitor.merging.policy_file import MonitoringPolicy
from monitor.state.partition import Partial

__all__ = ["WINDOW_SHARES", "InOrder", "Judged", "WindowMerger"]

ProfileLookup = Callable[[str, str], ReferenceProfile | None]
BaselineLookup = Callable[[str, str], Mapping[str, float]]


@dataclass
class Judged:
    """One window judged: its report and the drift events it raised (often none)."""

    kind: str  # "drift" | "performance" | "estimate" | "concept"
    model_name: str
    model_version: str
    window_start: float
    window_end: float
    partitions: int
    drift: WindowReport | None = None
    performance: PerformanceReport | None = None
    # performance windows of a version whose profile has a calibration map ("estimate": at
    # the window's end, with the labels that came by then; "performance": with the labels
    # in by the window's close)
    estimate: PerformanceEstimate | None = None
    events: list[DriftEvent] = field(default_factory=list)


@dataclass
class _Pending:
    kind: str
    model_name: str
    model_version: str
    start: float
    end: float
    partitions: set[int] = field(default_factory=set)
    drift: WindowAccumulator | None = None
    performance: PerformanceAccumulator | None = None


class InOrder:
    """Releases items strictly in arrival order, each once it and every item before it are
    done: the publisher acknowledges partials this way, so what is committed never has a gap.

    >>> acks = InOrder()
    >>> share, beat = acks.add("share", done=False), acks.add("heartbeat")
    >>> acks.release()
    []
    >>> acks.finish(share)
    >>> acks.release()
    ['share', 'heartbeat']
    """

    def __init__(self) -> None:
        self._queue: deque[list[Any]] = deque()

    def add(self, item: Any, *, done: bool = True) -> list[Any]:
        entry = [item, done]
        self._queue.append(entry)
        return entry

    @staticmethod
    def finish(entry: list[Any]) -> None:
        entry[1] = True

    def release(self) -> list[Any]:
        out = []
        while self._queue and self._queue[0][1]:
            out.append(self._queue.popleft()[0])
        return out


# the kinds of partial that are a partition's share of a window
WINDOW_SHARES = ("drift", "performance", "estimate")


def _copy(struct: Any) -> Any:
    """A deep copy of a msgspec struct of plain data."""
    return msgspec.msgpack.decode(msgspec.msgpack.encode(struct), type=type(struct))


def _series(kind: str, model_name: str, model_version: str) -> str:
    return f"{kind}\t{model_name}\t{model_version}"


class WindowMerger:
    """Merge partials per window and judge windows once every partition has passed them."""

    def __init__(
        self,
        partitions: int,
        profiles: ProfileLookup,
        baselines: BaselineLookup = lambda n, v: {},
        *,
        config: DriftConfig | None = None,
        policy: DriftPolicy | None = None,
        policies: MonitoringPolicy | None = None,
        idle_timeout: float = 30.0,
        min_labeled: int = 200,
        started: float | None = None,
        judged: MutableMapping[str, bytes] | None = None,
        sequential: MutableMapping[str, bytes] | None = None,
        pooled: MutableMapping[str, bytes] | None = None,
        concept: MutableMapping[str, bytes] | None = None,
        concept_params: ConceptParams | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.expected = partitions
        self.profiles = profiles
        self.baselines = baselines
        self.config = config or DriftConfig()
        self.policy = policy or DriftPolicy()
        # per model: its config, a DriftPolicy with its hysteresis over the one store, and
        # its performance tolerances (None: config and policy for every model)
        self.policies = policies
        self._rules: dict[str, tuple[DriftConfig, DriftPolicy, dict[str, float] | None]] = {}
        self.idle_timeout = idle_timeout
        self.min_labeled = min_labeled
        # When the first partial arrived (unless given): the publisher may wait long for its
        # partition after a restart (the group's session timeout), and the wait for every
        # partition to speak must start when the partials do, not when the process did.
        self._started = started
        self._marks: dict[int, tuple[float, float]] = {}  # partition -> (watermark, seen at)
        self._perf_marks: dict[int, float] = {}  # partition -> performance watermark
        self._label_marks: dict[int, float] = {}  # partition -> the labels' watermark
        self._concept_marks: dict[int, float] = {}  # partition -> its error buckets' mark
        self._moved: dict[int, float] = {}  # partition -> when a watermark of it last rose
        self._sent: dict[int, float] = {}  # partition -> newest heartbeat's send time (wall)
        self._clock = clock
        self._caught_up: set[int] = set()  # partitions whose last heartbeat had no backlog
        self._pending: dict[tuple[str, str, str, float], _Pending] = {}
        # per window kind, at most the end of its earliest pending window: ready() looks
        # through the pending windows only when some kind's watermark has reached it
        self._earliest: dict[str, float] = {}
        # (kind, model, version) -> end of the last window judged; kept in ``judged`` (a faust
        # table in the app) so that a restarted publisher recognises a partial re-sent by a
        # restarted source as a share of a window it already reported.
        self._judged_through: MutableMapping[str, bytes] = {} if judged is None else judged
        # each model version's pooled windows and e-CUSUMs over its drift windows (faust
        # tables in the app)
        self.evidence = WindowEvidence(sequential, pooled)
        # one concept detector per model version over every partition (a faust table too)
        self.concept = ConceptPool(concept, concept_params,
                                   lambda name: self._rules_of(name)[0].false_alarms)
        self.late_partials = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def retire(self, model_name: str, model_version: str) -> None:
        """Drop what the evidence over windows keeps of a version that left service (its
        pooled windows' counts); if it serves again, its pools start again."""
        self.evidence.pooled.forget(model_name, model_version)

    def is_judged(self, partial: Partial) -> bool:
        """Whether the window ``partial`` belongs to was judged already (a late share): windows
        of one kind and model version are judged in order of their end."""
        through = self._judged_through.get(_series(partial.kind, partial.model_name,
                                                   partial.model_version))
        return through is not None and partial.window_end <= float(through)

    def add(self, partial: Partial, now: float | None = None) -> list[Judged]:
        """Take one partial; returns the windows that became ready to judge."""
        now = time.monotonic() if now is None else now
        if self._started is None:
            self._started = now
        p = partial.partition
        mark = self._marks.get(p)
        incoming = -float("inf") if partial.watermark is None else partial.watermark
        watermark = incoming if mark is None else max(mark[0], incoming)
        back = mark is not None and not self._alive(p, now)  # a new owner after a silence
        if mark is None or watermark > mark[0] or back:
            self._moved[p] = now  # (back: not idle until it shows it is again)
            if back:
                self._caught_up.discard(p)
        self._marks[p] = (watermark, now)
        if partial.sent_at is not None:
            self._sent[p] = max(partial.sent_at, self._sent.get(p, partial.sent_at))
        if partial.caught_up is not None:
            if partial.caught_up:
                self._caught_up.add(p)
            else:
                self._caught_up.discard(p)
        for marks, value in ((self._perf_marks, partial.performance_watermark),
                             (self._label_marks, partial.labels_watermark),
                             (self._concept_marks, partial.concept_watermark)):
            if value is not None and value > marks.get(p, -1e300):
                marks[p] = value
                self._moved[p] = now
        if partial.kind in WINDOW_SHARES:
            self._merge(partial)
        elif partial.kind == "errors" and partial.buckets:
            self.concept.add(partial.model_name, partial.model_version, p, partial.buckets)
        return self.ready(now)

    def _merge(self, partial: Partial) -> None:
        key = (partial.kind, partial.model_name, partial.model_version, partial.window_start)
        if self.is_judged(partial):
            self.late_partials += 1
            return
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(
                partial.kind, partial.model_name, partial.model_version,
                partial.window_start, partial.window_end,
            )
            earliest = self._earliest.get(partial.kind)
            if earliest is None or partial.window_end < earliest:
                self._earliest[partial.kind] = partial.window_end
        if partial.partition in pending.partitions:
            return  # the same partition's share again (a replay after a restart)
        pending.partitions.add(partial.partition)
        # the first share of a window is copied before later shares are merged into it: a
        # partial is not the merger's to change (a backtest gives the same partials to one
        # merger per policy)
        if partial.drift is not None:
            profile = self.profiles(partial.model_name, partial.model_version)
            if profile is None:
                return
            if pending.drift is None:
                pending.drift = WindowAccumulator.from_state(profile, _copy(partial.drift))
            else:
                pending.drift.merge(WindowAccumulator.from_state(profile, partial.drift))
        if partial.performance is not None:
            pending.performance = (
                _copy(partial.performance) if pending.performance is None
                else pending.performance.merge(partial.performance)
            )

    def _low_watermarks(self, now: float) -> dict[str, float] | None:
        """Per window kind, the watermark every active partition has passed: its drift
        watermark (drift windows), that and its labels' watermark (estimate shares, sent
        once both have passed a window), its performance watermark (performance windows),
        and its error buckets' mark (``concept``: the buckets fed to the detectors)."""
        started = now if self._started is None else self._started
        if len(self._marks) < self.expected and now - started < self.idle_timeout:
            return None  # some partition has not spoken yet: wait for it a while
        active = [p for p in self._marks if not self._idle(p, now)]
        if not active:
            active = list(self._marks)
        if not active:
            return None
        low = -float("inf")
        return {
            "drift": min(self._marks[p][0] for p in active),
            "estimate": min(min(self._marks[p][0], self._label_marks.get(p, low))
                            for p in active),
            "performance": min(self._perf_marks.get(p, low) for p in active),
            "concept": min(self._concept_marks.get(p, low) for p in active),
        }

    def _alive(self, p: int, now: float) -> bool:
        """Heard from lately: by the send time of its newest heartbeat when it has one (a
        heartbeat read again after a rebalance is old news), else by when it was read."""
        sent = self._sent.get(p)
        if sent is not None:
            return self._clock() - sent <= self.idle_timeout
        return now - self._marks[p][1] <= self.idle_timeout

    def _idle(self, p: int, now: float) -> bool:
        """Alive, caught up, and no watermark moved for a while."""
        return (p in self._caught_up and self._alive(p, now)
                and now - self._moved[p] > self.idle_timeout)

    def ready(self, now: float | None = None) -> list[Judged]:
        """Judge every pending window that all active partitions have passed, then feed the
        error buckets they have passed to the concept detectors."""
        now = time.monotonic() if now is None else now
        marks = self._low_watermarks(now)
        if marks is None:
            return []
        # the passed windows only, then in order of their end (most pending ones wait)
        if any(marks[kind] >= end for kind, end in self._earliest.items()):
            done = sorted((pending.end, key) for key, pending in self._pending.items()
                          if marks[pending.kind] >= pending.end)
            earliest: dict[str, float] = {}
            for pending in self._pending.values():
                if marks[pending.kind] < pending.end:  # (not judged below)
                    end = earliest.get(pending.kind)
                    if end is None or pending.end < end:
                        earliest[pending.kind] = pending.end
            self._earliest = earliest
        else:
            done = []
        out = []
        for _, key in done:
            pending = self._pending.pop(key)
            series = _series(pending.kind, pending.model_name, pending.model_version)
            through = self._judged_through.get(series)
            if through is None or pending.end > float(through):
                self._judged_through[series] = repr(pending.end).encode()
            out.append(self._judge(pending))
        if self.concept.pending:
            out += [self._concept(found) for found in self.concept.feed(marks["concept"])]
        return out

    def _concept(self, found: Found) -> Judged:
        """A concept detection as a judged "window" at its label time, with the policy's
        event unless the cooldown holds it."""
        event = self._rules_of(found.model_name)[1].observe_detection(
            found.model_name, found.model_version, found.label_time, found.statistics,
            evidence=found.evidence)
        judged = Judged("concept", found.model_name, found.model_version, found.label_time,
                        found.label_time, partitions=found.partitions)
        if event is not None:
            judged.events.append(event)
        return judged

    def _rules_of(
        self, model_name: str
    ) -> tuple[DriftConfig, DriftPolicy, dict[str, float] | None]:
        """The config, drift policy and tolerances that judge ``model_name``'s windows."""
        if self.policies is None:
            return self.config, self.policy, None
        found = self._rules.get(model_name)
        if found is None:
            rules = self.policies.resolve(model_name)
            found = self._rules[model_name] = (
                rules.config, DriftPolicy(**rules.hysteresis(), store=self.policy.store),
                rules.tolerances,
            )
        return found

    def _judge(self, p: _Pending) -> Judged:
        judged = Judged(p.kind, p.model_name, p.model_version, p.start, p.end,
                        partitions=len(p.partitions))
        config, policy, tolerances = self._rules_of(p.model_name)
        if p.drift is not None:
            report = self.evidence.judge(p.drift, config)
            judged.drift = report
            judged.events.extend(policy.observe_window(report))
        if p.kind == "estimate" and p.performance is not None:
            alpha = config.performance_alpha(p.end - p.start)
            self._estimate(p, judged, policy, tolerances, alpha)
        elif p.performance is not None:
            report = p.performance.evaluate()
            judged.performance = report
            baseline = self.baselines(p.model_name, p.model_version)
            alpha = config.performance_alpha(p.end - p.start)
            judgements = judge_performance(report, baseline, tolerances,
                                           min_labeled=self.min_labeled, alpha=alpha)
            if judgements and report.labeled >= self.min_labeled:
                event = policy.observe(
                    "performance", p.model_name, p.model_version, p.start, p.end, judgements,
                    evidence=p.performance.evidence(),
                )
                if event is not None:
                    judged.events.append(event)
            # judged at the window's end (its estimate share), the window's estimate is
            # only revised now: the realized metrics judge the labels
            estimated = self._judged_through.get(
                _series("estimate", p.model_name, p.model_version))
            self._estimate(p, judged, policy, tolerances, alpha,
                           judge=estimated is None or float(estimated) < p.end)
        return judged

    def _estimate(self, p: _Pending, judged: Judged, policy: DriftPolicy,
                  tolerances: dict[str, float] | None, alpha: float,
                  judge: bool = True) -> None:
        """Estimate the performance of the window's unlabeled predictions from the version's
        calibration map, and (``judge``) judge the estimate: a ``performance-estimate``
        event, unless the window's realized metrics raised a ``performance`` event."""
        assert p.performance is not None
        profile = self.profiles(p.model_name, p.model_version)
        if profile is None or profile.calibration is None:
            return
        estimate = estimate_performance(p.performance, profile.calibration)
        judged.estimate = estimate
        if not judge:
            return
        baseline = self.baselines(p.model_name, p.model_version)
        judgements = judge_estimate(estimate, baseline, tolerances,
                                    min_predictions=self.min_labeled, alpha=alpha)
        if judgements and estimate.unlabeled > 0 and estimate.predictions >= self.min_labeled:
            event = policy.observe("performance-estimate", p.model_name, p.model_version,
                                   p.start, p.end, judgements,
                                   evidence=p.performance.scored_evidence())
            # the realized metrics already raised the window's drop: one event says it
            if event is not None and not any(e.kind == "performance" for e in judged.events):
                judged.events.append(event)
