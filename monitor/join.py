"""The prediction/label join as a pure state machine, one slot per prediction id.

Predictions and labels share the key (``prediction_id``) and the partition count, so the join
is local to a partition. Each prediction id has at most one slot in ``store``, a mutable
mapping of ``prediction_id -> slot`` (a dict in tests; in the worker a
:class:`~monitor.changelog.ChangelogStore` that writes :func:`encode_slot` bytes to a changelog
topic, so a restarted worker resumes where the changelog left it). Slots are immutable values:
a change stores a new one, so the store may keep them as objects and encode only what it
writes out:

=================  =========================  ==========================================
slot               on a prediction            on a label
=================  =========================  ==========================================
(none)             wait for the label          wait for the prediction (label first)
waiting: label     emit LabeledEvent, joined   duplicate label: counted, ignored
waiting: pred.     duplicate: counted          emit LabeledEvent, joined
joined             duplicate: counted          duplicate label: counted, ignored
expired            duplicate: counted          late label: counted, dropped
=================  =========================  ==========================================

Time is event time, never the wall clock: the join's clock is the largest event time it has
seen (prediction times and label times alike), so a replay expires exactly what the live run
expired. A prediction still waiting ``ttl`` seconds after its event time *expires* (counted,
returned by :meth:`JoinState.expire` so that label coverage can count it); a label waiting
``ttl`` after its label time for a prediction that never came expires as an orphan. Joined
and expired slots stay as small tombstones for ``retention`` seconds (default: ``ttl``) so that
duplicates arriving then are recognised, and are then deleted.

A caller that knows where each event was read passes ``source=(topic, partition, offset)``:
the slot remembers it, and the same event read again after a restart (the worker resumes
from an older checkpoint) repeats its first outcome and counts, instead of being taken for a
duplicate; a joined slot keeps both halves for its retention so that the pair can be emitted
again. Without ``source`` every repeat is a duplicate.

Finding due slots without scanning the table uses an in-memory heap of deadlines. It is
derived state: after a restart, call :meth:`JoinState.rebuild` once the table has been
recovered from its changelog. Counts are a separate small struct (:class:`JoinCounts`) to
store beside the table (for example one faust table row per partition).

>>> from driftline.events import LabelEvent, PredictionEvent
>>> join = JoinState(ttl=3600)
>>> p = PredictionEvent(prediction_id="p1", event_time=100.0, model_name="m", model_version="1",
...                     features={}, score=0.8, decision="HIGH")
>>> join.add_label(LabelEvent(prediction_id="p1", label=1, event_time=160.0)).outcome
'waiting'
>>> result = join.add_prediction(p)
>>> result.outcome, result.labeled.delay_seconds
('joined', 60.0)
>>> join.add_label(LabelEvent(prediction_id="p1", label=1, event_time=170.0)).outcome
'duplicate'
>>> join.counts.joined, join.counts.duplicate_labels
(1, 1)
"""

from __future__ import annotations

import heapq
from collections.abc import MutableMapping
from typing import Literal

import msgspec

from driftline.events import LabeledEvent, LabelEvent, PredictionEvent

__all__ = ["JoinCounts", "JoinResult", "JoinState", "Outcome", "decode_slot", "encode_slot"]


def _where(source: tuple[str, int, int] | None) -> str | None:
    return None if source is None else f"{source[0]}:{source[1]}:{source[2]}"

Outcome = Literal["joined", "waiting", "duplicate", "late"]
_Status = Literal["prediction", "label", "joined", "expired"]


class _Slot(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    status: _Status
    since: float  # event time the current status is measured from (for expiry and retention)
    prediction: PredictionEvent | None = None
    label: LabelEvent | None = None
    # Where the prediction and the label were read ("topic:partition:offset"), and which of the
    # two completed the pair: a replayed event (after a restart) is recognised by its source and
    # repeats its first outcome instead of counting as a duplicate.
    prediction_source: str | None = None
    label_source: str | None = None
    completed_by: Literal["prediction", "label"] | None = None


class JoinCounts(msgspec.Struct, kw_only=True):
    """Running counts of the join (serialisable; store them beside the slots)."""

    predictions: int = 0
    labels: int = 0
    joined: int = 0
    duplicate_predictions: int = 0
    duplicate_labels: int = 0
    expired_predictions: int = 0
    expired_labels: int = 0
    late_labels: int = 0


class JoinResult(msgspec.Struct, frozen=True):
    """What one event did: the outcome and, when it completed a pair, the joined record."""

    outcome: Outcome
    labeled: LabeledEvent | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Slot)


def encode_slot(slot: _Slot) -> bytes:
    """A slot as the bytes of its changelog record."""
    return _encoder.encode(slot)


def decode_slot(data: bytes) -> _Slot:
    """A slot from its changelog record."""
    return _decoder.decode(data)


class JoinState:
    """Join predictions and labels by ``prediction_id``, whichever comes first.

    Parameters
    ----------
    ttl
        Seconds of event time a prediction waits for its label (and an orphan label for its
        prediction) before it expires.
    retention
        Seconds a joined or expired slot is kept to recognise duplicates; defaults to ``ttl``.
    store
        Where the slots live: any mutable mapping of ``str -> slot`` (default: a dict).
    counts
        Counts restored from a snapshot; fresh ones by default.
    """

    def __init__(
        self,
        ttl: float,
        retention: float | None = None,
        *,
        store: MutableMapping[str, _Slot] | None = None,
        counts: JoinCounts | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.ttl = float(ttl)
        self.retention = self.ttl if retention is None else float(retention)
        self.store: MutableMapping[str, _Slot] = {} if store is None else store
        self.counts = counts or JoinCounts()
        self._clock: float | None = None
        self._deadlines: list[tuple[float, str]] = []
        if self.store:
            self.rebuild()

    @property
    def clock(self) -> float | None:
        """The largest event time seen (prediction or label)."""
        return self._clock

    def __len__(self) -> int:
        return len(self.store)

    def pending(self) -> dict[str, int]:
        """Slots by status: predictions and labels waiting, tombstones kept (O(slots))."""
        out = {"prediction": 0, "label": 0, "joined": 0, "expired": 0}
        for slot in self.store.values():
            out[slot.status] += 1
        return out

    def rebuild(self) -> None:
        """Recompute the deadline heap and the clock from the store (after recovery)."""
        self._deadlines = []
        for key, slot in self.store.items():
            self._tick(slot.since)
            self._deadlines.append((self._deadline(slot), key))
        heapq.heapify(self._deadlines)

    def add_prediction(
        self, prediction: PredictionEvent, source: tuple[str, int, int] | None = None
    ) -> JoinResult:
        """Handle one prediction (``source``: where it was read, to recognise replays)."""
        self.counts.predictions += 1
        self._tick(prediction.event_time)
        key = prediction.prediction_id
        where = _where(source)
        slot = self._get(key)
        if slot is None:
            self._put(key, _Slot(status="prediction", since=prediction.event_time,
                                 prediction=prediction, prediction_source=where))
            return JoinResult("waiting")
        if where is not None and slot.prediction_source == where:
            return self._replay(slot, "prediction")
        if slot.status == "label" and slot.label is not None:
            return JoinResult("joined", self._complete(
                key, prediction, slot.label, where, slot.label_source, "prediction"))
        self.counts.duplicate_predictions += 1
        return JoinResult("duplicate")

    def add_label(
        self, label: LabelEvent, source: tuple[str, int, int] | None = None
    ) -> JoinResult:
        """Handle one label (``source``: where it was read, to recognise replays)."""
        self.counts.labels += 1
        self._tick(label.event_time)
        key = label.prediction_id
        where = _where(source)
        slot = self._get(key)
        if slot is None:
            self._put(key, _Slot(status="label", since=label.event_time, label=label,
                                 label_source=where))
            return JoinResult("waiting")
        if where is not None and slot.label_source == where:
            return self._replay(slot, "label")
        if slot.status == "prediction" and slot.prediction is not None:
            return JoinResult("joined", self._complete(
                key, slot.prediction, label, slot.prediction_source, where, "label"))
        if slot.status == "expired":
            self.counts.late_labels += 1
            return JoinResult("late")
        self.counts.duplicate_labels += 1
        return JoinResult("duplicate")

    def expire(self, now: float | None = None) -> list[PredictionEvent]:
        """Expire what waited longer than ``ttl`` and drop tombstones older than ``retention``.

        ``now`` defaults to the join's clock (the largest event time seen); a larger value may
        be passed for a quiet stream. Returns the predictions that expired unlabeled.
        """
        clock = self._clock if now is None else max(now, self._clock or now)
        if clock is None:
            return []
        expired: list[PredictionEvent] = []
        heap = self._deadlines
        while heap and heap[0][0] < clock:
            _, key = heapq.heappop(heap)
            slot = self._get(key)
            if slot is None:
                continue
            due = self._deadline(slot)
            if due >= clock:  # stale heap entry: the slot moved on since it was pushed
                heapq.heappush(heap, (due, key))
                continue
            if slot.status == "prediction" and slot.prediction is not None:
                self.counts.expired_predictions += 1
                expired.append(slot.prediction)
                self._put(key, _Slot(status="expired", since=clock))
            elif slot.status == "label":
                self.counts.expired_labels += 1
                del self.store[key]
            else:
                del self.store[key]
        return expired

    # internals

    def _tick(self, event_time: float) -> None:
        if self._clock is None or event_time > self._clock:
            self._clock = event_time

    def _deadline(self, slot: _Slot) -> float:
        wait = self.ttl if slot.status in ("prediction", "label") else self.retention
        return slot.since + wait

    def _get(self, key: str) -> _Slot | None:
        return self.store.get(key)

    def _put(self, key: str, slot: _Slot) -> None:
        self.store[key] = slot
        heapq.heappush(self._deadlines, (self._deadline(slot), key))

    def _complete(
        self,
        key: str,
        prediction: PredictionEvent,
        label: LabelEvent,
        prediction_source: str | None,
        label_source: str | None,
        completed_by: Literal["prediction", "label"],
    ) -> LabeledEvent:
        self.counts.joined += 1
        since = max(prediction.event_time, label.event_time)
        if prediction_source is None and label_source is None:
            slot = _Slot(status="joined", since=since)  # a bare tombstone suffices
        else:
            slot = _Slot(status="joined", since=since, prediction=prediction, label=label,
                         prediction_source=prediction_source, label_source=label_source,
                         completed_by=completed_by)
        self._put(key, slot)
        return LabeledEvent.join(prediction, label)

    def _replay(self, slot: _Slot, half: Literal["prediction", "label"]) -> JoinResult:
        """The same event again (read again after a restart): repeat its first outcome."""
        if slot.status == "joined" and slot.completed_by == half:
            assert slot.prediction is not None and slot.label is not None
            self.counts.joined += 1
            return JoinResult("joined", LabeledEvent.join(slot.prediction, slot.label))
        return JoinResult("waiting")
