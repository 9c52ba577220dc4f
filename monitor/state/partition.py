"""Everything one source partition contributes, as a pure state machine with checkpoints.

:class:`PartitionState` runs, for partition ``p`` of ``predictions`` and ``labels``:

- the join (:class:`~monitor.state.join.JoinState`);
- drift windows: per (model, version, window) a mergeable
  :class:`~monitor.drift.accumulator.WindowAccumulator`, closed by this partition's
  event-time watermark;
- performance windows: per (model, version, window of the prediction's event time) a
  :class:`~monitor.drift.performance.PerformanceAccumulator`, closed once the predictions'
  watermark has passed the window and the labels' own watermark has passed its end plus
  ``label_wait``; for a version with a calibration map, an ``estimate`` partial of the
  window leaves as soon as both watermarks have passed its end: its predictions' scores,
  and the pairs whose label came by the window's end (counted apart, so that what it holds
  does not depend on how far either topic had been read);
- a heartbeat of its watermark whenever it crosses a window boundary;
- the errors of the pairs it joins, in short label-time buckets
  (:class:`~monitor.state.error_buckets.ErrorBuckets`, fed by the caller with each
  :class:`Step`'s pairs in order, :meth:`PartitionState.error_shares`), for the one concept
  detector per model version that the merger runs over every partition
  (:mod:`monitor.merging.concept`), checkpointed with the rest.

Closed windows leave as :class:`Partial` records, merged across partitions and judged once
(:mod:`monitor.merging.merge`). :meth:`PartitionState.snapshot` gives the small state with
the last offset applied per topic; a state made from a snapshot skips events at or below
those offsets and applies the others again, so counts end as in an uninterrupted run
(``docs/monitoring-internals.md``, "Partition state, checkpoints and restarts").
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from itertools import groupby
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from driftline.events import (
    LabeledEvent,
    LabelEvent,
    PredictionEvent,
)
from driftline.profile import ReferenceProfile
from monitor.drift.accumulator import WindowAccumulator, WindowState
from monitor.drift.performance import PerformanceAccumulator
from monitor.drift.windows import ClockState, EventTimeWindows, Window, WindowClock
from monitor.state.error_buckets import BucketShare, ErrorBuckets, ErrorBucketsState
from monitor.state.join import JoinCounts, JoinState
from monitor.state.label_spans import Pairs, count_by_span, version_runs

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_FORMATS",
    "Partial",
    "PartitionConfig",
    "PartitionSnapshot",
    "PartitionState",
    "Step",
    "finite_or_none",
]


def finite_or_none(value: float | None) -> float | None:
    """JSON carries no infinities: an unset watermark travels as None."""
    return value if value is not None and math.isfinite(value) else None

ProfileLookup = Callable[[str, str], ReferenceProfile | None]
# the windows one event counts in, and per window its drift and performance accumulators
_Targets = tuple[list[Window], list[tuple[WindowAccumulator | None, PerformanceAccumulator | None]]]


class Partial(msgspec.Struct, kw_only=True, frozen=True):
    """One partition's share of one closed window, a heartbeat (``kind="watermark"``) or the
    errors of its joined pairs of one model version in closed label-time buckets
    (``kind="errors"``). Window shares: ``drift`` (a drift window's counts),
    ``performance`` (a performance window's, its labels in) and ``estimate`` (a performance
    window's predictions and scores, with the labels that came by its end, sent as soon as
    both topics have passed it).
    ``watermark`` is the partition's drift watermark (largest event time minus grace) as of
    this record, or None when the record says nothing about it (window partials: the
    heartbeat that follows them carries it)."""

    kind: str  # "drift" | "performance" | "estimate" | "watermark" | "errors"
    partition: int
    watermark: float | None  # None: no event time yet (JSON has no -infinity)
    model_name: str = ""
    model_version: str = ""
    window_start: float = 0.0
    window_end: float = 0.0
    drift: WindowState | None = None
    performance: PerformanceAccumulator | None = None
    performance_watermark: float | None = None
    # the labels' watermark (largest label event time less the grace): estimate shares of
    # windows ending by min(watermark, labels_watermark) have been sent
    labels_watermark: float | None = None
    # heartbeats from the worker's timer: whether the partition had nothing left to read
    caught_up: bool | None = None
    # ... and the worker's wall clock when it sent the heartbeat: a publisher that reads it again
    # later (after a rebalance or a restart) must not take it for a sign of life
    sent_at: float | None = None
    # kind "errors": the shares of the buckets (window_start to window_end) it closed
    buckets: list[BucketShare] | None = None
    # every error bucket ending at or before this has been sent (None: says nothing; with the
    # heartbeats, and the last "errors" partial of a batch)
    concept_watermark: float | None = None

    @property
    def key(self) -> bytes:
        return (self.model_name or "_").encode()


class PartitionSnapshot(msgspec.Struct, kw_only=True):
    """A partition's state but its join slots, as checkpointed (plain JSON; ``format``: the
    layout's version, refused on restore when it is not one of :data:`SNAPSHOT_FORMATS`;
    formats 1 to 3 hold no error buckets (2 and 3 held per-partition concept detectors, whose
    state is left out: the merger's detector of the version goes on), so a partition restored
    from them starts its buckets afresh)."""

    format: int = 4
    offsets: dict[str, int] = {}  # topic -> last offset included
    join: JoinCounts = msgspec.field(default_factory=JoinCounts)
    drift_clock: ClockState = msgspec.field(default_factory=ClockState)
    label_max: float | None = None  # largest label event time seen
    perf_closed: float | None = None  # performance windows ending no later than this are closed
    join_clock: float | None = None  # the join's clock (largest event time it had seen)
    drift: dict[str, WindowState] = {}
    performance: dict[str, PerformanceAccumulator] = {}
    heartbeat_at: float | None = None
    unprofiled: dict[str, int] = {}
    dead_letters: int = 0
    errors: ErrorBucketsState = msgspec.field(default_factory=ErrorBucketsState)
    # performance windows ending no later than this have sent their estimate share; until
    # then, per window, the pairs whose label came by its end
    estimated: float | None = None
    early: dict[str, PerformanceAccumulator] = {}


@dataclass(frozen=True)
class PartitionConfig:
    windows: EventTimeWindows
    label_wait: float = 600.0
    join_ttl: float = 86_400.0
    join_retention: float | None = None  # tombstones of joined/expired slots; None: join_ttl
    threshold: float = 0.5  # score at or above which a prediction is positive
    # seconds of label time per error bucket (monitor.state.error_buckets)
    concept_bucket: float = 1.0
    # Whether the join keeps where each event was read, so that a restart can roll it back
    # to a checkpoint (JoinState.resume). A state that is never checkpointed (a backtest's)
    # leaves it off: the same outcomes, without a source string per event in its slots.
    join_sources: bool = True


@dataclass
class Step:
    """What one event (or a run of them) produced: joined records to send to ``labeled``
    and closed partials."""

    labeled: list[LabeledEvent] = field(default_factory=list)
    # per joined record, its prediction's JSON as read (when given): see encode_labeled
    prediction_raws: list[bytes | None] = field(default_factory=list)
    partials: list[Partial] = field(default_factory=list)
    skipped: int = 0  # events the checkpoint already included
    # per joined record, the offset of the event that completed it (in the run's topic)
    joined_at: list[int] = field(default_factory=list)
    _versions: tuple[int, Pairs] | None = field(default=None, repr=False, compare=False)

    def versions(self) -> Pairs:
        """The joined records' predictions and their runs of one model version
        (:func:`~monitor.state.label_spans.version_runs`), found once for every reader."""
        found = self._versions
        if found is None or found[0] != len(self.labeled):
            found = self._versions = (len(self.labeled), version_runs(self.labeled))
        return found[1]


_encoder = msgspec.json.Encoder()
# a joined record's score, label and label delay, taken without a Python frame
_score, _label = attrgetter("prediction.score"), attrgetter("label")
_delay, _label_time = attrgetter("delay_seconds"), attrgetter("label_time")
_event_time = attrgetter("event_time")
_name, _version_of = attrgetter("model_name"), attrgetter("model_version")
_score_of = attrgetter("score")
_snapshot_decoder = msgspec.json.Decoder(PartitionSnapshot)
SNAPSHOT_FORMAT = 4
SNAPSHOT_FORMATS = (1, 2, 3, 4)  # what a restore accepts


def _window_key(model: str, version: str, start: float) -> str:
    return f"{model}\t{version}\t{start!r}"


def _bulk_plan(predictions: list[PredictionEvent], results: list[Any]
               ) -> tuple[np.ndarray | None, list[int]]:
    """The event times of a run of predictions, and the indices where a stretch that may
    count in bulk ends (past them: a duplicate, or a prediction of another model version
    than the one before it); no times for a short run."""
    n = len(predictions)
    if n < 8:
        return None, []
    breaks = [k for k, result in enumerate(results) if result == "duplicate"
              ] if "duplicate" in results else []
    names = list(map(_name, predictions))
    versions = list(map(_version_of, predictions))
    if names.count(names[0]) != n or versions.count(versions[0]) != n:
        breaks = sorted({*breaks, *(k for k in range(1, n) if names[k] != names[k - 1]
                                    or versions[k] != versions[k - 1])})
    breaks.append(n)
    return np.fromiter(map(_event_time, predictions), np.float64, n), breaks


class PartitionState:
    """The monitor's work for one source partition (see the module docstring)."""

    def __init__(
        self,
        partition: int,
        config: PartitionConfig,
        store: MutableMapping[str, Any],
        profiles: ProfileLookup,
        snapshot: PartitionSnapshot | None = None,
    ) -> None:
        self.partition = partition
        self.config = config
        self.profiles = profiles
        snap = snapshot or PartitionSnapshot()
        self._snap = snap
        self.offsets = dict(snap.offsets)
        self.join = JoinState(config.join_ttl, config.join_retention, store=store,
                              counts=snap.join)
        # slots recovered from the changelog, back to the checkpoint (none: to the start)
        self.join.resume(snap.offsets, snap.join_clock)
        self.drift_clock = WindowClock(config.windows, snap.drift_clock)
        self.label_max = snap.label_max
        self.perf_closed = -math.inf if snap.perf_closed is None else snap.perf_closed
        self._drift: dict[str, WindowAccumulator] = {}
        for key, state in snap.drift.items():
            profile = profiles(state.model_name, state.model_version)
            if profile is not None:
                self._drift[key] = WindowAccumulator.from_state(profile, state)
        self._perf: dict[str, PerformanceAccumulator] = dict(snap.performance)
        self.estimated = -math.inf if snap.estimated is None else snap.estimated
        self._early: dict[str, PerformanceAccumulator] = dict(snap.early)
        self.heartbeat_at = snap.heartbeat_at
        self.unprofiled = dict(snap.unprofiled)
        self.dead_letters = snap.dead_letters
        self.error_buckets = ErrorBuckets(config.concept_bucket, partition,
                                          snap.errors if snap.format >= 4 else None)
        self._grace, self._label_wait = config.windows.grace, config.label_wait
        self._targets: dict[str, _Targets] = {}  # see _resolve
        self._label_targets: dict[
            tuple[str, str], tuple[float, float, list[tuple[float, PerformanceAccumulator | None]]]
        ] = {}  # see _label_windows

    # -- events -----------------------------------------------------------------------------

    def applied(self, topic: str, offset: int) -> bool:
        """True when the checkpoint already includes this event (skip it)."""
        last = self.offsets.get(topic)
        return last is not None and offset <= last

    def on_prediction(
        self,
        prediction: PredictionEvent,
        topic: str,
        offset: int,
        *,
        close: bool = True,
        raw: bytes | None = None,
    ) -> Step:
        """Apply one prediction (``raw``: its JSON as read, which the join keeps to write
        out instead of encoding it again). With ``close=False`` the windows it closed stay
        queued until :meth:`close` (once per batch: the outcome is the same, popping is
        what costs)."""
        step = self.on_predictions(topic, [offset], [prediction],
                                   None if raw is None else [raw])
        return self._done(step, close)

    def on_label(
        self,
        label: LabelEvent,
        topic: str,
        offset: int,
        *,
        close: bool = True,
        raw: bytes | None = None,
    ) -> Step:
        """Apply one label (``close`` and ``raw`` as in :meth:`on_prediction`)."""
        step = self.on_labels(topic, [offset], [label], None if raw is None else [raw])
        return self._done(step, close)

    def _unapplied(
        self, topic: str, offsets: list[int], events: list[Any], raws: list[bytes] | None
    ) -> tuple[list[int], list[Any], list[bytes] | None]:
        """The events the checkpoint does not include yet, in order; records the last."""
        last = self.offsets.get(topic)
        if last is not None and offsets[0] <= last:
            keep = [i for i, offset in enumerate(offsets) if offset > last]
            offsets = [offsets[i] for i in keep]
            events = [events[i] for i in keep]
            raws = None if raws is None else [raws[i] for i in keep]
        if offsets:
            self.offsets[topic] = offsets[-1]
        return offsets, events, raws

    def on_predictions(
        self,
        topic: str,
        offsets: list[int],
        predictions: list[PredictionEvent],
        raws: list[bytes] | None = None,
    ) -> Step:
        """Apply a run of predictions read from ``topic`` at ``offsets`` (increasing), in
        order, each exactly as :meth:`on_prediction` would; windows they close stay queued
        until :meth:`close`. The join handles the run first (it reads nothing the windows
        write), then each prediction counts in its windows, and the pairs it completed count
        in their performance windows last, in one go: no window is popped meanwhile, and
        each pair is counted only in the windows not closed when it joined (its mark)."""
        n = len(offsets)
        offsets, predictions, raws = self._unapplied(topic, offsets, predictions, raws)
        step = Step(skipped=n - len(offsets))
        if not offsets:
            return step
        results = self.join.add_predictions(predictions, self._source(topic), offsets,
                                            raws)
        clock = self.drift_clock
        observe = clock.observe
        found = self._targets.get
        labels_mark = self._labels_mark()
        partition = self.partition
        where = f"{topic}:{partition}"
        times, breaks = _bulk_plan(predictions, results)
        named: tuple[str, str, str] = ("", "", "")
        marks: list[float] = []  # per joined pair, which windows were closed when it joined
        i, n = 0, len(predictions)
        while i < n:
            prediction, offset, result = predictions[i], offsets[i], results[i]
            i += 1
            if result == "duplicate":
                continue
            name, version = prediction.model_name, prediction.model_version
            if name != named[0] or version != named[1]:
                named = (name, version, f"{name}/{version}")
            label = named[2]
            windows = observe(prediction.event_time, label)
            targets = found(label)
            if targets is None or targets[0] is not windows:
                targets = self._resolve(name, version, label, windows)
            evidence = (topic, partition, offset)
            for acc, perf in targets[1]:
                if acc is not None:
                    acc.update(prediction.features, prediction.score, evidence=evidence)
                if perf is not None:
                    perf.add_score(prediction.score, (where, offset))
            if type(result) is tuple:
                step.labeled.append(result[0])
                step.prediction_raws.append(result[1])
                step.joined_at.append(offset)
                marks.append(self.perf_closed)
            if times is not None and i < n and found(label) is targets:
                # the new predictions after it that count in the same windows, in one go
                stop = breaks[bisect_right(breaks, i - 1)]
                k = clock.observe_run(times[i:stop], label, windows) if stop > i else 0
                if k:
                    run = predictions[i:i + k]
                    features = [p.features for p in run]
                    scores = [p.score for p in run]
                    span = (topic, partition, offsets[i], offsets[i + k - 1])
                    for acc, perf in targets[1]:
                        acc.update_many(features, scores, span)  # type: ignore[union-attr]
                        if perf is not None:
                            perf.add_predictions(k, scores, (where, span[2], span[3]))
                    # The pairs among them: every window they count in is open past the
                    # watermark, so past any mark from before the stretch as well
                    mark = self.perf_closed
                    for at, result in zip(offsets[i:i + k], results[i:i + k], strict=True):
                        if type(result) is tuple:
                            step.labeled.append(result[0])
                            step.prediction_raws.append(result[1])
                            step.joined_at.append(at)
                            marks.append(mark)
                    i += k
            # which performance windows are closed moves per event (see _done)
            mark = clock.watermark if clock.watermark < labels_mark else labels_mark
            if mark > self.perf_closed:
                self.perf_closed = mark
        if marks:
            self._count_labels(step.labeled, marks, step.versions(), (where, step.joined_at))
            self._count_early(step.labeled)
        return step

    def on_labels(
        self,
        topic: str,
        offsets: list[int],
        labels: list[LabelEvent],
        raws: list[bytes] | None = None,
    ) -> Step:
        """Apply a run of labels, as :meth:`on_predictions` does predictions."""
        n = len(offsets)
        offsets, labels, raws = self._unapplied(topic, offsets, labels, raws)
        step = Step(skipped=n - len(offsets))
        if not offsets:
            return step
        results = self.join.add_labels(labels, self._source(topic), offsets, raws)
        watermark = self.drift_clock.watermark  # labels do not move it
        wait = self._grace + self._label_wait
        label_max, closed = self.label_max, self.perf_closed
        marks: list[float] = []  # per joined pair, which windows were closed when it joined
        for label, offset, result in zip(labels, offsets, results, strict=True):
            if label_max is None or label.event_time > label_max:
                label_max = label.event_time
            if type(result) is tuple:
                step.labeled.append(result[0])
                step.prediction_raws.append(result[1])
                step.joined_at.append(offset)
                marks.append(closed)
            labels_mark = label_max - wait
            mark = watermark if watermark < labels_mark else labels_mark
            if mark > closed:
                closed = mark
        self.label_max, self.perf_closed = label_max, closed
        if marks:
            self._count_labels(step.labeled, marks, step.versions(),
                               (f"{topic}:{self.partition}", step.joined_at))
            self._count_early(step.labeled)
        return step

    def _source(self, topic: str) -> tuple[str, int] | None:
        """Where the join is told a run was read (None: it keeps no sources)."""
        return (topic, self.partition) if self.config.join_sources else None

    def on_dead_letter(self, topic: str, offset: int) -> bool:
        """Count a bad message once; False if the checkpoint already includes it."""
        if self.applied(topic, offset):
            return False
        self.offsets[topic] = offset
        self.dead_letters += 1
        return True

    def on_passed_on(self, topic: str, offset: int) -> bool:
        """Note a message handed to the partition its key belongs to (it is not applied
        here); False if the checkpoint already includes it."""
        if self.applied(topic, offset):
            return False
        self.offsets[topic] = offset
        return True

    def expire(self, now: float | None = None) -> list[PredictionEvent]:
        """Expire predictions that waited longer than the join TTL (event time)."""
        return self.join.expire(now)

    # -- windows ----------------------------------------------------------------------------

    def _resolve(self, name: str, version: str, label: str, windows: list[Window]) -> _Targets:
        """The accumulators an event in ``windows`` updates. The window clock hands back the
        same list for consecutive events in the same windows, so the result is kept for
        them; kept only while every window has a profile (one may be registered later)."""
        pairs = []
        for window in windows:
            acc = self._drift_acc(name, version, window)
            if acc is None:
                self.unprofiled[label] = self.unprofiled.get(label, 0) + 1
            perf = self._perf_acc(name, version, window) if window.end > self.perf_closed else None
            pairs.append((acc, perf))
        targets = (windows, pairs)
        if all(acc is not None for acc, _ in pairs):
            self._targets[label] = targets
        return targets

    def _drift_acc(self, name: str, version: str, window: Window) -> WindowAccumulator | None:
        key = _window_key(name, version, window.start)
        acc = self._drift.get(key)
        if acc is None:
            profile = self.profiles(name, version)
            if profile is None:
                return None
            acc = self._drift[key] = WindowAccumulator(profile, window)
        return acc

    def _perf_acc(self, name: str, version: str, window: Window) -> PerformanceAccumulator:
        key = _window_key(name, version, window.start)
        acc = self._perf.get(key)
        if acc is None:
            acc = self._perf[key] = PerformanceAccumulator(threshold=self.config.threshold)
        return acc

    @property
    def performance_watermark(self) -> float:
        """Performance windows ending no later than this are complete: the predictions'
        watermark has passed them and the labels' has passed them plus ``label_wait``."""
        return min(self.drift_clock.watermark, self._labels_mark())

    @property
    def labels_watermark(self) -> float:
        """The labels' watermark: the largest label event time less the grace (-inf before
        any label)."""
        return -math.inf if self.label_max is None else self.label_max - self._grace

    def _labels_mark(self) -> float:
        """The labels' watermark less ``label_wait`` (-inf before any label)."""
        if self.label_max is None:
            return -math.inf
        return self.label_max - self._grace - self._label_wait

    def _perf_end(self, key: str) -> float:
        return float(key.rsplit("\t", 1)[1]) + self.config.windows.size

    def _count_labels(self, joined: list[LabeledEvent], marks: list[float],
                      versions: Pairs | None = None,
                      read_at: tuple[str, list[int]] | None = None) -> None:
        """Count joined pairs in the performance windows of their predictions, each in
        those that were not closed when it joined (``marks``: the ``perf_closed`` of each
        then; a window closed, perhaps not popped yet, does not count it); each window's
        pairs in order, in one call (``versions``: the pairs' version_runs, when known;
        ``read_at``: where the event completing each pair was read, for the windows'
        evidence)."""
        if len(joined) > 1 and count_by_span(
                joined, marks, self.config.windows,
                lambda name, version, w: self._perf.get(_window_key(name, version, w.start)),
                versions, read_at):
            return
        cached = self._label_targets
        chosen: dict[int, tuple[PerformanceAccumulator, list[int]]] = {}
        for i, (labeled, mark) in enumerate(zip(joined, marks, strict=True)):
            p = labeled.prediction
            t = p.event_time
            recent = cached.get((p.model_name, p.model_version))
            if recent is not None and recent[0] <= t < recent[1]:
                targets = recent[2]
            else:
                targets = self._label_windows(p.model_name, p.model_version, t)
            for end, acc in targets:
                if acc is not None and end > mark:
                    entry = chosen.get(id(acc))
                    if entry is None:
                        chosen[id(acc)] = (acc, [i])
                    else:
                        entry[1].append(i)
        for acc, which in chosen.values():
            pairs = joined if len(which) == len(joined) else [joined[i] for i in which]
            span = None
            if read_at is not None:
                offsets = [read_at[1][i] for i in which]
                span = (read_at[0], min(offsets), max(offsets))
            acc.update_many(list(map(_score, pairs)), list(map(_label, pairs)),
                            list(map(_delay, pairs)), span)

    def _label_windows(
        self, name: str, version: str, event_time: float
    ) -> list[tuple[float, PerformanceAccumulator | None]]:
        """The performance accumulators of the windows of a prediction made at
        ``event_time``; kept for the next labels of predictions in the same windows while
        each exists (until close() may pop them)."""
        windows = self.config.windows
        found = windows.assign(event_time)
        targets = [(w.end, self._perf.get(_window_key(name, version, w.start))) for w in found]
        if windows.whole and all(acc is not None for _, acc in targets):
            self._label_targets[(name, version)] = (*windows.span(found), targets)
        return targets

    def _done(self, step: Step, close: bool) -> Step:
        # Which performance windows are closed moves per event (on_predictions, on_labels),
        # so that whether a label is counted never depends on where a batch ended; popping
        # them waits for close().
        if close:
            step.partials.extend(self.close())
        return step

    def close(self) -> list[Partial]:
        """Pop the windows closed so far as partials, then a heartbeat with the watermarks.

        The window partials carry no watermark: several windows may close at once, and a
        watermark on the first would tell the merger that this partition has passed the
        others before their counts arrive. The heartbeat after them says it (sent whenever
        a window closed or the watermark crossed a window boundary)."""
        partials: list[Partial] = []
        self._targets.clear()  # accumulators may be popped below
        self._label_targets.clear()
        watermark = self.drift_clock.watermark
        self._pop_drift(None, partials)
        labels = self.labels_watermark
        self._send_estimates(min(watermark, labels), partials)
        mark = self.perf_closed
        self._pop_performance(mark, partials)
        crossed = False
        if math.isfinite(watermark):
            step_size = self.config.windows.step
            boundary = math.floor((watermark - self.config.windows.origin) / step_size)
            if self.heartbeat_at is None or boundary > self.heartbeat_at:
                self.heartbeat_at = boundary
                crossed = True
        if partials or crossed:
            partials.append(Partial(kind="watermark", partition=self.partition,
                                    watermark=finite_or_none(watermark),
                                    performance_watermark=finite_or_none(mark),
                                    labels_watermark=finite_or_none(labels),
                                    concept_watermark=self.error_buckets.through))
        return partials

    def finish(self, watermark: float) -> list[Partial]:
        """The end of the input (a backtest's range): close, as :meth:`close` does, every
        window ending at or before ``watermark`` as if both topics had passed it, drift and
        performance windows alike, and every error bucket; the heartbeat after them carries
        ``watermark`` (the error buckets': it or the end of the last bucket, the later)."""
        partials = [p for p in self.close() if p.kind != "watermark"]
        self._pop_drift(watermark, partials)
        self._send_estimates(watermark, partials)
        self.perf_closed = max(self.perf_closed, watermark)
        self._pop_performance(self.perf_closed, partials)
        partials += self._error_partials(self.error_buckets.flush())
        through = self.error_buckets.through
        partials.append(Partial(kind="watermark", partition=self.partition,
                                watermark=finite_or_none(watermark),
                                performance_watermark=finite_or_none(watermark),
                                labels_watermark=finite_or_none(watermark),
                                concept_watermark=finite_or_none(
                                    watermark if through is None else max(through, watermark)),
                                caught_up=True))
        return partials

    def _pop_drift(self, watermark: float | None, out: list[Partial]) -> None:
        """Drift windows closed at ``watermark`` (None: the clock's own), as partials."""
        for label, window in self.drift_clock.pop_closed(watermark):
            name, _, version = label.rpartition("/")
            acc = self._drift.pop(_window_key(name, version, window.start), None)
            if acc is not None:
                out.append(Partial(
                    kind="drift", partition=self.partition, watermark=None,
                    model_name=name, model_version=version, window_start=window.start,
                    window_end=window.end, drift=acc.state,
                ))

    def _calibrated(self, name: str, version: str) -> bool:
        profile = self.profiles(name, version)
        return profile is not None and profile.calibration is not None

    def _count_early(self, joined: list[LabeledEvent]) -> None:
        """Count, apart, the pairs whose label came by the end of a performance window of
        their prediction that has not sent its estimate share (versions with a calibration
        map only): what the share holds of the labels."""
        windows, estimated = self.config.windows, self.estimated
        size = windows.size
        calibrated: dict[tuple[str, str], bool] = {}
        grouped: dict[str, list[LabeledEvent]] = {}
        for pair in joined:
            if pair.delay_seconds >= size:  # its label came after every window it is in
                continue
            p = pair.prediction
            version = (p.model_name, p.model_version)
            known = calibrated.get(version)
            if known is None:
                known = calibrated[version] = self._calibrated(*version)
            if not known:
                continue
            for window in windows.assign(p.event_time):
                if window.end > estimated and pair.label_time <= window.end:
                    key = _window_key(p.model_name, p.model_version, window.start)
                    grouped.setdefault(key, []).append(pair)
        for key, pairs in grouped.items():
            acc = self._early.get(key)
            if acc is None:
                acc = self._early[key] = PerformanceAccumulator(threshold=self.config.threshold)
            acc.update_many(list(map(_score, pairs)), list(map(_label, pairs)),
                            list(map(_delay, pairs)))

    def _send_estimates(self, mark: float, out: list[Partial]) -> None:
        """An ``estimate`` share of each performance window both topics have passed by
        ``mark`` (and that has not sent one), for a version with a calibration map: its
        predictions and their scores, with the pairs whose label came by its end."""
        if not math.isfinite(mark) or mark <= self.estimated:
            return
        for key, acc in self._perf.items():
            end = self._perf_end(key)
            if not self.estimated < end <= mark:
                continue
            name, version, start = key.split("\t")
            if not self._calibrated(name, version):
                continue
            share = acc.predictions_only()
            early = self._early.get(key)
            out.append(Partial(
                kind="estimate", partition=self.partition, watermark=None,
                model_name=name, model_version=version, window_start=float(start),
                window_end=end, performance=share if early is None else share.merge(early),
            ))
        for key in [k for k in self._early if self._perf_end(k) <= mark]:
            del self._early[key]
        self.estimated = mark

    def _pop_performance(self, mark: float, out: list[Partial]) -> None:
        """Performance windows ending at or before ``mark``, as partials."""
        if not (self._perf and math.isfinite(mark)):
            return
        for key in [k for k in self._perf if self._perf_end(k) <= mark]:
            name, version, start = key.split("\t")
            out.append(Partial(
                kind="performance", partition=self.partition, watermark=None,
                model_name=name, model_version=version,
                window_start=float(start), window_end=self._perf_end(key),
                performance=self._perf.pop(key),
            ))

    # -- checkpoints ------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The checkpoint: everything but the join slots, with the offsets it includes.
        Taking it tells the join which events a checkpoint includes from now on."""
        if not self.config.join_sources:
            raise RuntimeError("a partition state whose join keeps no sources cannot be "
                               "checkpointed: a restart could not roll it back")
        self.join.checkpoint_taken(self.offsets)
        snap = PartitionSnapshot(
            offsets=dict(self.offsets),
            join=self.join.counts,
            drift_clock=self.drift_clock.state(),
            label_max=self.label_max,
            join_clock=self.join.clock,
            perf_closed=finite_or_none(self.perf_closed),
            drift={k: a.state for k, a in self._drift.items()},
            performance=dict(self._perf),
            heartbeat_at=self.heartbeat_at,
            unprofiled=dict(self.unprofiled),
            dead_letters=self.dead_letters,
            errors=self.error_buckets.state(),
            estimated=finite_or_none(self.estimated),
            early=dict(self._early),
        )
        return _encoder.encode(snap)

    @staticmethod
    def decode_snapshot(data: bytes) -> PartitionSnapshot:
        """A checkpointed snapshot; ValueError when it is not one of this layout."""
        snap = _snapshot_decoder.decode(data)
        if snap.format not in SNAPSHOT_FORMATS:
            raise ValueError(f"checkpoint format {snap.format} is not one of "
                             f"{', '.join(map(str, SNAPSHOT_FORMATS))}")
        return snap

    def error_shares(self, topic: str, step: Step) -> list[Partial]:
        """Count the errors of the pairs ``step`` joined (from a run of ``topic``), in order,
        in their version's error buckets; then close, as partials (the last carries how far
        the buckets are sent), the buckets that both topics have passed: the labels, and the
        predictions (a pair's prediction comes before its label, so no pair of a bucket
        both have passed is still to join, but for events out of order)."""
        labeled, joined_at = step.labeled, step.joined_at
        threshold = self.config.threshold
        predictions, runs = step.versions()
        for name, version, start, end in runs:
            pairs = labeled if end - start == len(labeled) else labeled[start:end]
            scores = np.fromiter(map(_score_of, predictions[start:end]), np.float64,
                                 end - start)
            labels = np.fromiter(map(_label, pairs), np.int64, end - start)
            self.error_buckets.add(name, version, list(map(_label_time, pairs)),
                                   (scores >= threshold) != labels.astype(bool), topic,
                                   joined_at[start:end])
        made = self.drift_clock.max_event_time
        mark = None if self.label_max is None or made is None else min(self.label_max, made)
        return self._error_partials(self.error_buckets.advance(mark))

    def _error_partials(self, closed: list[tuple[str, str, BucketShare]]) -> list[Partial]:
        """One partial per model version of the closed buckets; the last carries the
        buckets' watermark."""
        out: list[Partial] = []
        for (name, version), group in groupby(sorted(closed, key=lambda c: c[:2]),
                                              key=lambda c: c[:2]):
            shares = [share for _, _, share in group]
            out.append(Partial(kind="errors", partition=self.partition, watermark=None,
                               model_name=name, model_version=version,
                               window_start=shares[0].start, window_end=shares[-1].end,
                               buckets=shares))
        if out:
            out[-1] = msgspec.structs.replace(out[-1],
                                              concept_watermark=self.error_buckets.through)
        return out
