"""Everything one source partition contributes, as a pure state machine with checkpoints.

predictions, labels and labeled share the key and the partition count, so partition ``p`` of
``predictions`` and partition ``p`` of ``labels`` hold both halves of every pair: the worker
that owns ``p`` joins them locally. :class:`PartitionState` does that work for one partition:

- the join (:class:`~monitor.join.JoinState`, its slots in a table with a changelog);
- drift windows: per (model, version, window) a mergeable :class:`WindowAccumulator` of the
  predictions' features and scores, closed by this partition's event-time watermark;
- performance windows: per (model, version, window of the prediction's event time) a
  :class:`PerformanceAccumulator`, closed ``label_wait`` seconds later than the drift
  window so that late labels still count;
- a heartbeat of its watermark whenever it crosses a window boundary, so the stage that merges
  partitions knows when every partition has passed a window end.

Closed windows leave as :class:`Partial` records, to be merged across partitions (and
workers) and judged once (:mod:`monitor.merge`).

**Restarts.** The small state (join counts, open window counts, clocks) is checkpointed with
the offset of the last event it includes (:meth:`snapshot`); the join slots are written per
event and carry the source offset that last changed them. After a restart the worker reads
from its committed offset, which is never past the checkpoint (events are acknowledged only
once a checkpoint covers them): events at or below the checkpoint offset are skipped, and
events after it are applied again on top of the checkpoint. A slot already changed by such an
event is recognised by its offset and replays the same outcome. So counts end exactly as in
an uninterrupted run; outputs (``labeled``, partials) may be sent again and carry
deterministic keys for consumers to de-duplicate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

import msgspec

from driftline.events import LabeledEvent, LabelEvent, PredictionEvent
from driftline.profile import ReferenceProfile
from monitor.accumulator import WindowAccumulator, WindowState
from monitor.join import JoinCounts, JoinState
from monitor.performance import PerformanceAccumulator
from monitor.windows import ClockState, EventTimeWindows, Window, WindowClock

__all__ = ["Partial", "PartitionConfig", "PartitionSnapshot", "PartitionState", "Step"]

ProfileLookup = Callable[[str, str], ReferenceProfile | None]


class Partial(msgspec.Struct, kw_only=True, frozen=True):
    """One partition's share of one closed window, or (``kind="watermark"``) a heartbeat.
    ``watermark`` is always the partition's drift watermark (largest event time minus grace)."""

    kind: str  # "drift" | "performance" | "watermark"
    partition: int
    watermark: float
    model_name: str = ""
    model_version: str = ""
    window_start: float = 0.0
    window_end: float = 0.0
    drift: WindowState | None = None
    performance: PerformanceAccumulator | None = None

    @property
    def key(self) -> bytes:
        return (self.model_name or "_").encode()


class PartitionSnapshot(msgspec.Struct, kw_only=True):
    offsets: dict[str, int] = {}  # topic -> last offset included
    join: JoinCounts = msgspec.field(default_factory=JoinCounts)
    drift_clock: ClockState = msgspec.field(default_factory=ClockState)
    perf_clock: ClockState = msgspec.field(default_factory=ClockState)
    drift: dict[str, WindowState] = {}
    performance: dict[str, PerformanceAccumulator] = {}
    heartbeat_at: float | None = None
    unprofiled: dict[str, int] = {}
    dead_letters: int = 0


@dataclass(frozen=True)
class PartitionConfig:
    windows: EventTimeWindows
    label_wait: float = 600.0
    join_ttl: float = 86_400.0
    threshold: float = 0.5  # score at or above which a prediction is positive


@dataclass
class Step:
    """What one event produced: joined records to send to ``labeled`` and closed partials."""

    labeled: list[LabeledEvent] = field(default_factory=list)
    partials: list[Partial] = field(default_factory=list)
    skipped: bool = False


_encoder = msgspec.json.Encoder()
_snapshot_decoder = msgspec.json.Decoder(PartitionSnapshot)


def _window_key(model: str, version: str, start: float) -> str:
    return f"{model}\t{version}\t{start!r}"


class PartitionState:
    """The monitor's work for one source partition (see the module docstring)."""

    def __init__(
        self,
        partition: int,
        config: PartitionConfig,
        store: MutableMapping[str, bytes],
        profiles: ProfileLookup,
        snapshot: PartitionSnapshot | None = None,
    ) -> None:
        self.partition = partition
        self.config = config
        self.profiles = profiles
        snap = snapshot or PartitionSnapshot()
        self._snap = snap
        self.offsets = dict(snap.offsets)
        self.join = JoinState(config.join_ttl, store=store, counts=snap.join)
        self.drift_clock = WindowClock(config.windows, snap.drift_clock)
        perf_windows = EventTimeWindows(
            size=config.windows.size, step=config.windows.step,
            grace=config.windows.grace + config.label_wait, origin=config.windows.origin,
        )
        self.perf_clock = WindowClock(perf_windows, snap.perf_clock)
        self._drift: dict[str, WindowAccumulator] = {}
        for key, state in snap.drift.items():
            profile = profiles(state.model_name, state.model_version)
            if profile is not None:
                self._drift[key] = WindowAccumulator.from_state(profile, state)
        self._perf: dict[str, PerformanceAccumulator] = dict(snap.performance)
        self.heartbeat_at = snap.heartbeat_at
        self.unprofiled = dict(snap.unprofiled)
        self.dead_letters = snap.dead_letters

    # -- events -----------------------------------------------------------------------------

    def applied(self, topic: str, offset: int) -> bool:
        """True when the checkpoint already includes this event (skip it)."""
        last = self.offsets.get(topic)
        return last is not None and offset <= last

    def on_prediction(self, prediction: PredictionEvent, topic: str, offset: int) -> Step:
        if self.applied(topic, offset):
            return Step(skipped=True)
        self.offsets[topic] = offset
        step = Step()
        result = self.join.add_prediction(prediction, source=(topic, self.partition, offset))
        if result.outcome == "duplicate":
            return self._close(step)
        if result.labeled is not None:
            step.labeled.append(result.labeled)
        name, version = prediction.model_name, prediction.model_version
        label = f"{name}/{version}"
        for window in self.drift_clock.observe(prediction.event_time, label):
            acc = self._drift_acc(name, version, window)
            if acc is not None:
                acc.update(prediction.features, prediction.score,
                           evidence=(topic, self.partition, offset))
        for window in self.perf_clock.observe(prediction.event_time, label):
            self._perf_acc(name, version, window).add_predictions()
        if result.labeled is not None:
            self._count_label(result.labeled)
        return self._close(step)

    def on_label(self, label: LabelEvent, topic: str, offset: int) -> Step:
        if self.applied(topic, offset):
            return Step(skipped=True)
        self.offsets[topic] = offset
        step = Step()
        result = self.join.add_label(label, source=(topic, self.partition, offset))
        if result.labeled is not None:
            step.labeled.append(result.labeled)
            self._count_label(result.labeled)
        return self._close(step)

    def on_dead_letter(self, topic: str, offset: int) -> bool:
        """Count a bad message once; False if the checkpoint already includes it."""
        if self.applied(topic, offset):
            return False
        self.offsets[topic] = offset
        self.dead_letters += 1
        return True

    def expire(self, now: float | None = None) -> list[PredictionEvent]:
        """Expire predictions that waited longer than the join TTL (event time)."""
        return self.join.expire(now)

    # -- windows ----------------------------------------------------------------------------

    def _drift_acc(self, name: str, version: str, window: Window) -> WindowAccumulator | None:
        key = _window_key(name, version, window.start)
        acc = self._drift.get(key)
        if acc is None:
            profile = self.profiles(name, version)
            if profile is None:
                label = f"{name}/{version}"
                self.unprofiled[label] = self.unprofiled.get(label, 0) + 1
                return None
            acc = self._drift[key] = WindowAccumulator(profile, window)
        return acc

    def _perf_acc(self, name: str, version: str, window: Window) -> PerformanceAccumulator:
        key = _window_key(name, version, window.start)
        acc = self._perf.get(key)
        if acc is None:
            acc = self._perf[key] = PerformanceAccumulator(threshold=self.config.threshold)
        return acc

    def _count_label(self, labeled: LabeledEvent) -> None:
        p = labeled.prediction
        windows = self.perf_clock.windows.assign(p.event_time)
        for window in windows:
            acc = self._perf.get(_window_key(p.model_name, p.model_version, window.start))
            if acc is not None:  # its window is still open; a later label is counted late
                acc.update(p.score, labeled.label, delay=labeled.delay_seconds)

    def _close(self, step: Step) -> Step:
        watermark = self.drift_clock.watermark
        for label, window in self.drift_clock.pop_closed():
            name, _, version = label.rpartition("/")
            acc = self._drift.pop(_window_key(name, version, window.start), None)
            if acc is not None:
                step.partials.append(Partial(
                    kind="drift", partition=self.partition, watermark=watermark,
                    model_name=name, model_version=version, window_start=window.start,
                    window_end=window.end, drift=acc.state,
                ))
        for label, window in self.perf_clock.pop_closed():
            name, _, version = label.rpartition("/")
            acc = self._perf.pop(_window_key(name, version, window.start), None)
            if acc is not None:
                step.partials.append(Partial(
                    kind="performance", partition=self.partition, watermark=watermark,
                    model_name=name, model_version=version, window_start=window.start,
                    window_end=window.end, performance=acc,
                ))
        # A heartbeat each time the watermark crosses a window boundary (on the step grid).
        if math.isfinite(watermark):
            step_size = self.config.windows.step
            boundary = math.floor((watermark - self.config.windows.origin) / step_size)
            if self.heartbeat_at is None or boundary > self.heartbeat_at:
                self.heartbeat_at = boundary
                step.partials.append(
                    Partial(kind="watermark", partition=self.partition, watermark=watermark)
                )
        return step

    # -- checkpoints ------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The checkpoint: everything but the join slots, with the offsets it includes."""
        snap = PartitionSnapshot(
            offsets=dict(self.offsets),
            join=self.join.counts,
            drift_clock=self.drift_clock.state(),
            perf_clock=self.perf_clock.state(),
            drift={k: a.state for k, a in self._drift.items()},
            performance=dict(self._perf),
            heartbeat_at=self.heartbeat_at,
            unprofiled=dict(self.unprofiled),
            dead_letters=self.dead_letters,
        )
        return _encoder.encode(snap)

    @staticmethod
    def decode_snapshot(data: bytes) -> PartitionSnapshot:
        return _snapshot_decoder.decode(data)
