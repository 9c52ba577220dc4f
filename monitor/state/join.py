"""The prediction/label join as a pure state machine, one slot per prediction id.

:class:`JoinState` joins predictions and labels by ``prediction_id``, whichever comes
first, in event time: a prediction waiting ``ttl`` seconds for its label expires, and so
does an orphan label; joined and expired slots stay as tombstones for ``retention`` seconds
so that duplicates and late labels are recognised. ``store`` is any mutable mapping of
``prediction_id -> slot`` (a dict, or the worker's
:class:`~monitor.state.changelog.ChangelogStore`, written with :func:`encode_slot`). Events
given with ``source=(topic, partition, offset)`` can be rolled back to a checkpoint after a
restart (:meth:`JoinState.resume`). How the slots, expiry and the roll-back work:
``docs/monitoring-internals.md``, "The join".

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
import math
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from itertools import repeat
from typing import Literal

import msgspec

from driftline.events import LabeledEvent, LabelEvent, PredictionEvent

__all__ = [
    "Applied", "JoinCounts", "JoinResult", "JoinState", "Outcome", "decode_slot", "encode_slot",
]


def _covered(where: str | None, applied: Mapping[str, int]) -> bool:
    """Whether the event read at ``where`` ("topic:partition:offset") is at or below the
    last offset ``applied`` for its topic."""
    if where is None:
        return True
    topic, _, offset = where.rpartition(":")
    last = applied.get(topic.rpartition(":")[0])
    return last is not None and int(offset) <= last

Outcome = Literal["joined", "waiting", "duplicate", "late"]
_Status = Literal["prediction", "label", "joined", "expired"]
_TOMBSTONES = ("joined", "expired")
_WAITING = ("prediction", "label")  # statuses whose deadline is the TTL (else the retention)


class _Slot(msgspec.Struct, kw_only=True, frozen=True, gc=False):  # a value: no cycles
    status: _Status
    since: float  # event time the current status is measured from (for expiry and retention)
    prediction: PredictionEvent | None = None
    label: LabelEvent | None = None
    # Where the prediction and the label were read ("topic:partition:offset"): after a
    # restart, resume() takes out the halves its checkpoint does not include.
    prediction_source: str | None = None
    label_source: str | None = None
    # The halves' JSON as read, when the caller has it: the changelog record embeds these
    # bytes instead of encoding the events again.
    prediction_raw: bytes | None = None
    label_raw: bytes | None = None
    # Deleted (an orphan label expired, a tombstone's retention ran out), but kept until a
    # checkpoint covers the deletion: a restart from an older one puts it back. Absent to
    # every event.
    dropped: bool = False
    # A dropped slot this one took the place of (a new event for its key came before a
    # checkpoint covered the deletion): a restart that takes this one out puts it back.
    replaced: _Slot | None = None


_ABSENT = msgspec.Raw()


class _SlotRecord(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True):
    """A slot as written to the changelog: the halves as embedded JSON."""

    status: _Status
    since: float
    prediction: msgspec.Raw = _ABSENT  # (msgspec takes no Raw | None: absent or null is none)
    label: msgspec.Raw = _ABSENT
    prediction_source: str | None = None
    label_source: str | None = None
    replaced: msgspec.Raw = _ABSENT  # the record of the dropped slot this one replaced


# What one event of a batch did: an outcome, or for a completed pair the joined record and
# the prediction's JSON as read (when the caller gave it)
Applied = Outcome | tuple[LabeledEvent, bytes | None]


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


class JoinResult(msgspec.Struct, frozen=True, gc=False):
    """What one event did: the outcome and, when it completed a pair, the joined record
    (and the prediction's JSON as read, when the caller gave it)."""

    outcome: Outcome
    labeled: LabeledEvent | None = None
    prediction_raw: bytes | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_SlotRecord)
_prediction_decoder = msgspec.json.Decoder(PredictionEvent)
_label_decoder = msgspec.json.Decoder(LabelEvent)


def _embedded(event: msgspec.Struct | None, raw: bytes | None) -> msgspec.Raw:
    if event is None:
        return _ABSENT
    return msgspec.Raw(raw if raw is not None else _encoder.encode(event))


def _present(raw: msgspec.Raw) -> bytes | None:
    data = bytes(raw)
    return None if data in (b"", b"null") else data


def encode_slot(slot: _Slot) -> bytes:
    """A slot as the bytes of its changelog record.

    >>> from driftline.events import LabelEvent
    >>> label = LabelEvent(prediction_id="p1", label=1, event_time=5.0)
    >>> slot = _Slot(status="label", since=5.0, label=label, label_source="labels:0:7")
    >>> decode_slot(encode_slot(slot)).label == label
    True
    """
    return _encoder.encode(_SlotRecord(
        status=slot.status, since=slot.since,
        prediction=_embedded(slot.prediction, slot.prediction_raw),
        label=_embedded(slot.label, slot.label_raw),
        prediction_source=slot.prediction_source, label_source=slot.label_source,
        replaced=_ABSENT if slot.replaced is None else msgspec.Raw(encode_slot(slot.replaced)),
    ))


def decode_slot(data: bytes) -> _Slot:
    """A slot from its changelog record."""
    record = _decoder.decode(data)
    prediction_raw, label_raw = _present(record.prediction), _present(record.label)
    prediction = None if prediction_raw is None else _prediction_decoder.decode(prediction_raw)
    label = None if label_raw is None else _label_decoder.decode(label_raw)
    replaced = _present(record.replaced)
    return _Slot(status=record.status, since=record.since, prediction=prediction, label=label,
                 prediction_source=record.prediction_source,
                 label_source=record.label_source,
                 prediction_raw=prediction_raw, label_raw=label_raw,
                 replaced=None if replaced is None else decode_slot(replaced))


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
        self._expired_early: list[PredictionEvent] = []  # by _current; expire() returns them
        self._due: dict[int, list[str]] = {}  # second of event time -> keys due in it
        self._seconds: list[int] = []  # heap of the seconds in _due (repeats are skipped)
        # whether a checkpoint protocol is in use (sources given, or resumed): then deleted
        # slots are kept, dropped, until a checkpoint covers the deletion (forget_halves)
        self._checkpointed = False
        self._dropped: list[str] = []  # keys dropped since the last forget_halves(keys)
        # topic -> last offset the latest checkpoint taken includes (see checkpoint_taken)
        self._taken: dict[str, int] = {}
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
            if not slot.dropped:
                out[slot.status] += 1
        return out

    def rebuild(self) -> None:
        """Recompute the deadline index and the clock from the store (after recovery)."""
        self._due, self._seconds = {}, []
        for key, slot in self.store.items():
            self._tick(slot.since)
            if not slot.dropped:
                self._file(key, self._deadline(slot))

    def add_prediction(
        self,
        prediction: PredictionEvent,
        source: tuple[str, int, int] | None = None,
        raw: bytes | None = None,
    ) -> JoinResult:
        """Handle one prediction (``source``: where it was read, to recognise replays;
        ``raw``: its JSON as read, kept for the changelog and the joined record)."""
        at, offsets = (None, None) if source is None else (source[:2], [source[2]])
        return _result(self.add_predictions([prediction], at, offsets,
                                            None if raw is None else [raw])[0])

    def add_label(
        self,
        label: LabelEvent,
        source: tuple[str, int, int] | None = None,
        raw: bytes | None = None,
    ) -> JoinResult:
        """Handle one label (``source`` and ``raw`` as for :meth:`add_prediction`)."""
        at, offsets = (None, None) if source is None else (source[:2], [source[2]])
        return _result(self.add_labels([label], at, offsets,
                                       None if raw is None else [raw])[0])

    def add_predictions(
        self,
        predictions: Sequence[PredictionEvent],
        at: tuple[str, int] | None = None,
        offsets: Sequence[int] | None = None,
        raws: Sequence[bytes] | None = None,
    ) -> list[Applied]:
        """Handle predictions in the order given, each exactly as :meth:`add_prediction`
        would (``at``: the topic and partition they were read from, ``offsets``: where each
        was; ``raws``: their JSON as read). Returns per prediction what it did: "waiting",
        "duplicate", or, when it completed a pair, the joined record and the prediction's
        JSON. One loop with its lookups bound once: the worker's hot path."""
        return self._add(predictions, at, offsets, raws, labels=False)

    def add_labels(
        self,
        labels: Sequence[LabelEvent],
        at: tuple[str, int] | None = None,
        offsets: Sequence[int] | None = None,
        raws: Sequence[bytes] | None = None,
    ) -> list[Applied]:
        """Handle labels in the order given, each exactly as :meth:`add_label` would
        (arguments as for :meth:`add_predictions`). Returns per label "waiting",
        "duplicate", "late" (its prediction had expired) or the joined record and the
        prediction's JSON."""
        return self._add(labels, at, offsets, raws, labels=True)

    def _add(
        self,
        events: Sequence[PredictionEvent] | Sequence[LabelEvent],
        at: tuple[str, int] | None,
        offsets: Sequence[int] | None,
        raws: Sequence[bytes] | None,
        *,
        labels: bool,
    ) -> list[Applied]:
        data, dirty = _maps(self.store)
        store = self.store
        get = data.get
        ttl, retention, counts = self.ttl, self.retention, self.counts
        prefix = None if at is None or offsets is None else f"{at[0]}:{at[1]}:"
        if prefix is not None:
            self._checkpointed = True
        other = "prediction" if labels else "label"  # the status a pair completes
        out: list[Applied] = []
        append = out.append
        clock = self._clock
        due, seconds, floor = self._due, self._seconds, math.floor
        # the second filed last and its list (nothing takes a list out of _due meanwhile)
        last_second, last_keys = None, None
        labeled = LabeledEvent  # (LabeledEvent.join, inlined)
        taken = self._taken
        # where each event was read ("topic:partition:offset"), formatted by one C loop
        wheres: Iterable[str | None] = repeat(None) if prefix is None else map(
            (prefix.replace("%", "%%") + "%d").__mod__, offsets)  # type: ignore[arg-type]
        for event, where, raw in zip(events, wheres, repeat(None) if raws is None else raws,
                                     strict=False):  # (repeat() has no end)
            key = event.prediction_id
            t = event.event_time
            slot = get(key)
            gone = None
            if slot is not None and clock is not None and (slot.dropped or slot.since + (
                    ttl if slot.status in _WAITING else retention) < clock):
                slot = self._current(key, slot)
                if slot is None:
                    gone = get(key)  # a dropped slot (or none): the new slot keeps it
            if clock is None or t > clock:
                clock = self._clock = t
            if slot is None:
                if labels:
                    slot = _Slot(status="label", since=t, label=event,  # type: ignore[arg-type]
                                 label_source=where, label_raw=raw, replaced=gone)
                else:
                    slot = _Slot(status="prediction", since=t,
                                 prediction=event,  # type: ignore[arg-type]
                                 prediction_source=where, prediction_raw=raw, replaced=gone)
                deadline = t + ttl
                append("waiting")
            elif slot.status == other and (slot.prediction if labels else slot.label) is not None:
                counts.joined += 1
                # The joined slot. Without sources, a bare tombstone suffices. When both events
                # came after the latest checkpoint taken (the one completing the pair is being
                # applied, so no checkpoint includes it yet), every checkpoint a restart can
                # resume from includes both (the slot stays a tombstone) or neither (it goes
                # and both are read again): no restart needs the halves, so it is stored slim.
                if labels:
                    prediction, label = slot.prediction, event
                    p_source, l_source = slot.prediction_source, where
                    p_raw, l_raw = slot.prediction_raw, raw
                    waited = p_source
                else:
                    prediction, label = event, slot.label
                    p_source, l_source = where, slot.label_source
                    p_raw, l_raw = raw, slot.label_raw
                    waited = l_source
                pt, lt = prediction.event_time, label.event_time  # type: ignore[union-attr]
                since = pt if pt > lt else lt
                replaced = slot.replaced
                if p_source is None and l_source is None:
                    slot = _Slot(status="joined", since=since)
                elif (replaced is None and p_source is not None and l_source is not None
                      and not (taken and _covered(waited, taken))):
                    slot = _Slot(status="joined", since=since, prediction_source=p_source,
                                 label_source=l_source)
                else:
                    slot = _Slot(status="joined", since=since, prediction=prediction,
                                 label=label, prediction_source=p_source,
                                 label_source=l_source, prediction_raw=p_raw,
                                 label_raw=l_raw, replaced=replaced)
                deadline = since + retention
                append((labeled(event_time=pt, prediction=prediction,  # type: ignore[arg-type]
                                label=label.label,  # type: ignore[union-attr]
                                label_time=lt, delay_seconds=lt - pt), p_raw))
            elif labels and slot.status == "expired":
                counts.late_labels += 1
                append("late")
                continue
            elif labels:
                counts.duplicate_labels += 1
                append("duplicate")
                continue
            else:
                counts.duplicate_predictions += 1
                append("duplicate")
                continue
            if dirty is not None:
                data[key] = slot
                dirty[key] = slot
            else:
                store[key] = slot
            second = floor(deadline)  # filed under its deadline's second (see _file)
            if second == last_second:
                last_keys.append(key)  # type: ignore[union-attr]
                continue
            keys = due.get(second)
            if keys is None:
                keys = due[second] = [key]
                heapq.heappush(seconds, second)
            else:
                keys.append(key)
            last_second, last_keys = second, keys
        if labels:
            counts.labels += len(out)
        else:
            counts.predictions += len(out)
        return out

    def resume(self, applied: Mapping[str, int], clock: float | None = None) -> int:
        """Roll slots recovered from the changelog back to a checkpoint that includes the
        events at or below ``applied`` (topic -> last offset; empty: no checkpoint) and was
        taken when the join's clock was ``clock``.

        The changelog is written before the checkpoint, so after a crash it can hold what
        events after the checkpoint did. Those events will be read again, and must then
        find the join as it was at the checkpoint: each half they added is taken out again
        (a pair joined after it waits for its other half once more, a slot both of whose
        halves came after it is deleted), so they are applied afresh in whatever order the
        topics are read this time, and every count and window sees them once. A prediction
        that expired after the checkpoint (its deadline not before ``clock``) waits again,
        to expire once more, and a slot deleted after it (an orphan label expired, a
        tombstone past its retention: kept, dropped, until a checkpoint covered the deletion)
        comes back. Slots the checkpoint covers shrink to tombstones. Returns how many slots
        were rolled back.
        """
        self._checkpointed = True
        self._taken = dict(applied)
        store = self.store
        rolled = 0
        for key in list(store):
            slot = store[key]
            if _slim(slot):
                has_p = _covered(slot.prediction_source, applied)
                if has_p != _covered(slot.label_source, applied):
                    raise RuntimeError(
                        f"join slot {key!r} was stored without its halves, yet the checkpoint "
                        f"includes only one of them ({slot.prediction_source}, "
                        f"{slot.label_source}): the changelog and the checkpoints disagree")
                if not has_p:  # both events come again
                    del store[key]
                    rolled += 1
                elif clock is not None and self._deadline(slot) < clock:
                    del store[key]  # deleted before the checkpoint (see below)
                continue
            while True:
                has_p, has_l = slot.prediction is not None, slot.label is not None
                keep_p = has_p and _covered(slot.prediction_source, applied)
                keep_l = has_l and _covered(slot.label_source, applied)
                if slot.replaced is None:
                    break
                if keep_p or keep_l:  # it was there at the checkpoint, which covers the rest
                    slot = store[key] = msgspec.structs.replace(slot, replaced=None)
                    break
                # made after the checkpoint over a slot deleted after it: that slot comes back
                slot = store[key] = slot.replaced
                rolled += 1
            # A deletion is not written to the changelog until a checkpoint covers it, so the
            # changelog may still hold a slot deleted before the checkpoint: one with nothing
            # after the checkpoint in it, due before the checkpoint's clock (every slot due
            # then was expired or deleted then; a waiting prediction's expiry is written).
            if (keep_p == has_p and keep_l == has_l and clock is not None
                    and slot.status != "prediction" and self._deadline(slot) < clock):
                del store[key]
                continue
            if not (has_p or has_l):
                continue  # a bare tombstone: nothing to take out
            expired_after = (slot.status == "expired" and clock is not None
                             and slot.since >= clock)
            if keep_p == has_p and keep_l == has_l and not expired_after:
                continue  # nothing in it came after the checkpoint
            rolled += 1
            if keep_p:
                assert slot.prediction is not None
                store[key] = _Slot(status="prediction", since=slot.prediction.event_time,
                                   prediction=slot.prediction,
                                   prediction_source=slot.prediction_source,
                                   prediction_raw=slot.prediction_raw)
            elif keep_l:
                assert slot.label is not None
                store[key] = _Slot(status="label", since=slot.label.event_time,
                                   label=slot.label, label_source=slot.label_source,
                                   label_raw=slot.label_raw)
            else:
                del store[key]
        self.forget_halves(applied=applied)  # what is left with halves, the checkpoint has
        self.rebuild()  # the deadlines of the rolled-back slots
        if clock is not None:
            self._clock = clock
        return rolled

    def checkpoint_taken(self, applied: Mapping[str, int]) -> None:
        """A checkpoint including the events at or below ``applied`` (topic -> last offset)
        is being taken: a pair completed from now on whose two events both came after it is
        stored *slim*, its sources without its halves (see :meth:`_add`). Every
        checkpoint taken must be announced, durable or not, before the next event."""
        self._taken = dict(applied)

    def forget_halves(self, keys: Iterable[str] | None = None,
                      applied: Mapping[str, int] | None = None) -> int:
        """Shrink joined (and expired) slots to bare tombstones once no restart can need their
        halves.

        A joined slot keeps both halves (an expired one its prediction) only so that a
        restart from an older checkpoint can take out what came after it. Once a durable
        checkpoint covers both events (``keys``: the slots written with it), or the halves'
        offsets are at or below ``applied`` (topic -> last offset a restored checkpoint
        includes), a tombstone recognises any later duplicate just as well at a fraction of
        the memory. The changelog is not written (its record still holds the halves; a
        restore shrinks them again with ``applied``). With ``keys``, the slots dropped before
        the checkpoint are deleted now (the deletion goes to the changelog with the next
        one). Returns how many slots shrank.
        """
        store = self.store
        shrunk = 0
        if keys is not None:
            dropped, self._dropped = self._dropped, []
            for key in dropped:
                slot = store.get(key)
                if slot is not None and slot.dropped:  # (not replaced since)
                    del store[key]  # the checkpoint covers its deletion
        # Set in memory only, as ChangelogStore.settle would (each key is there already)
        data = _maps(store)[0]
        get = data.get
        for key in (data if keys is None else keys):
            slot = get(key)
            if slot is not None and keys is not None and slot.replaced is not None:
                # the checkpoint covers the deletion of the slot it replaced too
                slot = data[key] = msgspec.structs.replace(slot, replaced=None)
            if (slot is None or slot.status not in _TOMBSTONES
                    or (slot.prediction is None and slot.prediction_source is None)):
                continue  # none, waiting, or a bare tombstone already
            if applied is not None and not (_covered(slot.prediction_source, applied)
                                            and _covered(slot.label_source, applied)):
                continue
            data[key] = _Slot(status=slot.status, since=slot.since)
            shrunk += 1
        return shrunk

    def expire(self, now: float | None = None) -> list[PredictionEvent]:
        """Expire what waited longer than ``ttl`` and drop tombstones older than ``retention``.

        ``now`` defaults to the join's clock (the largest event time seen); a larger value may
        be passed for a quiet stream. Returns the predictions that expired unlabeled.
        """
        clock = self._clock if now is None else max(now, self._clock or now)
        if clock is None:
            return []
        expired, self._expired_early = self._expired_early, []
        seconds, due = self._seconds, self._due
        # A second wholly before the clock: every slot still filed under it is due.
        while seconds and seconds[0] + 1 <= clock:
            second = heapq.heappop(seconds)
            for key in due.pop(second, ()):
                self._expire_key(key, second, clock, expired)
        # The second the clock is in: only what is due before the clock goes.
        now_second = math.floor(clock)
        for key in due.pop(now_second, ()):
            self._expire_key(key, now_second, clock, expired)
        if len(expired) > 1:  # in deadline order (then key), however they were filed
            expired.sort(key=lambda p: (p.event_time + self.ttl, p.prediction_id))
        return expired

    def _expire_key(
        self, key: str, second: int, clock: float, expired: list[PredictionEvent]
    ) -> None:
        """Handle ``key`` found filed under ``second``: expire or drop its slot if due before
        ``clock``, file it again if not, skip the entry if stale (the slot moved on)."""
        slot = self._get(key)
        if slot is None or slot.dropped:
            return
        deadline = self._deadline(slot)
        if math.floor(deadline) != second:
            return  # stale: the slot changed since and is filed under its new deadline
        if deadline >= clock:
            self._file(key, deadline)
        else:
            self._expire_slot(key, slot, deadline, expired)

    def _expire_slot(
        self, key: str, slot: _Slot, deadline: float, expired: list[PredictionEvent]
    ) -> None:
        """A due slot: a waiting prediction becomes an expired tombstone (kept ``retention``
        from its deadline), an orphan label or an old tombstone is deleted (dropped, under a
        checkpoint protocol: see forget_halves and resume)."""
        if slot.status == "prediction" and slot.prediction is not None:
            self.counts.expired_predictions += 1
            expired.append(slot.prediction)
            # the prediction stays until a checkpoint includes the expiry (forget_halves)
            self._put(key, _Slot(status="expired", since=deadline, prediction=slot.prediction,
                                 prediction_source=slot.prediction_source,
                                 prediction_raw=slot.prediction_raw, replaced=slot.replaced))
        else:
            if slot.status == "label":
                self.counts.expired_labels += 1
            if self._checkpointed:  # in memory only: the changelog keeps the slot as it was
                settle = getattr(self.store, "settle", self.store.__setitem__)
                settle(key, msgspec.structs.replace(slot, dropped=True))
                self._dropped.append(key)
            else:
                del self.store[key]

    def _current(self, key: str, slot: _Slot) -> _Slot | None:
        """``slot`` as :meth:`expire` would have left it had it run right before the event at hand:
        a slot whose deadline the clock has passed is expired (or deleted) here, so what an
        event does never depends on when expire() last ran (a replay gives what the live
        run gave, whatever its checkpoint timing)."""
        clock = self._clock
        while slot is not None:
            if slot.dropped:
                return None  # deleted: absent (a new slot replaces it)
            deadline = self._deadline(slot)
            if clock is None or deadline >= clock:
                return slot
            # (an expired prediction's tombstone may be past its own retention already)
            self._expire_slot(key, slot, deadline, self._expired_early)
            slot = self._get(key)
        return None

    # internals

    def _tick(self, event_time: float) -> None:
        if self._clock is None or event_time > self._clock:
            self._clock = event_time

    def _deadline(self, slot: _Slot) -> float:
        wait = self.ttl if slot.status in _WAITING else self.retention
        return slot.since + wait

    def _get(self, key: str) -> _Slot | None:
        return self.store.get(key)

    def _put(self, key: str, slot: _Slot) -> None:
        self.store[key] = slot
        self._file(key, self._deadline(slot))

    def _file(self, key: str, deadline: float) -> None:
        second = math.floor(deadline)
        keys = self._due.get(second)
        if keys is None:
            self._due[second] = [key]
            heapq.heappush(self._seconds, second)
        else:
            keys.append(key)


def _slim(slot: _Slot) -> bool:
    """A joined slot stored with the sources of its halves but not the halves."""
    return (slot.prediction is None and slot.label is None
            and slot.prediction_source is not None and slot.status == "joined")


def _maps(store: MutableMapping[str, _Slot]) -> tuple[dict[str, _Slot], dict[str, object] | None]:
    """The dicts a hot loop writes a slot to: the store itself when it is a dict, else the
    store's own (a ChangelogStore's data and the writes it has not sent yet)."""
    if type(store) is dict:
        return store, None
    tracked = getattr(store, "tracked", None)
    if tracked is None:
        raise TypeError(f"a join store must be a dict or have tracked(), not {type(store)}")
    return tracked()


def _result(step: Applied) -> JoinResult:
    if isinstance(step, tuple):
        return JoinResult("joined", step[0], step[1])
    return JoinResult(step)
