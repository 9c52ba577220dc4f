"""Reading events off a topic safely: each message alone is exactly one valid event or it is
refused with a reason, whether messages are decoded one at a time or as a run.

Every consumer of a driftline topic decodes through :func:`decode_value` (one message) or
:func:`decode_run` (consecutive messages). A value is refused (a
:class:`~driftline.errors.ContractError` naming why) when it is null (a tombstone), empty,
larger than :data:`MAX_EVENT_BYTES`, not UTF-8, not JSON, several JSON values, nested too
deeply, of the wrong shape, or stamped with an event time outside the :class:`TimeRange`.

A run is decoded with one decoder over its messages, each alone, in a loop without a Python
call per message; when any of them fails, the run is decoded one message at a time to find
the bad ones and say why.

>>> from driftline.events import LabelEvent
>>> good = b'{"prediction_id":"p1","label":1,"event_time":1700000000.0}'
>>> result = decode_run(LabelEvent, [good, good + b"," + good, None, good])
>>> result.bad, [type(x).__name__ for x in result.items]
(2, ['LabelEvent', 'ContractError', 'ContractError', 'LabelEvent'])
>>> str(result.items[2])
'invalid LabelEvent: the message has no value (a tombstone)'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Generic, NamedTuple, TypeVar

import msgspec

from driftline.errors import ContractError
from driftline.events import Event, decode

__all__ = [
    "MAX_EVENT_BYTES",
    "Decoded",
    "TimeRange",
    "decode_run",
    "decode_value",
    "time_error",
]

MAX_EVENT_BYTES = 1 << 20
"""The largest value read as an event (1 MiB); a larger one is refused unread."""

E = TypeVar("E", bound=Event)

_decoders: dict[type, msgspec.json.Decoder] = {}
# Factors from the unit a misstamped time may be in to seconds, largest first.
_UNITS = ((1e9, "nanoseconds"), (1e6, "microseconds"), (1e3, "milliseconds"))
_event_time = attrgetter("event_time")


class TimeRange(NamedTuple):
    """The event times a consumer accepts: not before ``floor`` (seconds since the epoch) and
    not more than ``max_lead`` seconds ahead of ``clock()``."""

    floor: float
    max_lead: float
    clock: Callable[[], float] = time.time

    def bounds(self) -> tuple[float, float]:
        """The accepted interval now, both ends included."""
        return self.floor, self.clock() + self.max_lead


def time_error(cls: type, event_time: float, low: float, high: float) -> ContractError | None:
    """Why ``event_time`` is outside ``[low, high]``, naming a likely unit mistake; None when
    it is inside.

    >>> from driftline.events import LabelEvent
    >>> print(time_error(LabelEvent, 1.7e12, 946684800.0, 1.8e9))
    invalid LabelEvent at field 'event_time': 1700000000000.0 is after the latest accepted \
event time 1800000000.0 (looks like milliseconds)
    >>> time_error(LabelEvent, 1.7e9, 946684800.0, 1.8e9) is None
    True
    """
    if low <= event_time <= high:
        return None
    if event_time > high:
        reason = f"{event_time!r} is after the latest accepted event time {high!r}"
        for factor, unit in _UNITS:
            if low <= event_time / factor <= high:
                reason += f" (looks like {unit})"
                break
    else:
        reason = f"{event_time!r} is before the earliest accepted event time {low!r}"
    return ContractError(cls.__name__, "event_time", reason)


def decode_value(cls: type[E], raw: object, times: TimeRange | None = None) -> E:
    """The one event of type ``cls`` in ``raw``; :class:`ContractError` for anything else
    (see the module docstring), never another exception."""
    if raw is None:
        raise ContractError(cls.__name__, "", "the message has no value (a tombstone)")
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ContractError(cls.__name__, "", f"the value is {type(raw).__name__}, not bytes")
    if not raw:
        raise ContractError(cls.__name__, "", "the message value is empty")
    if len(raw) > MAX_EVENT_BYTES:
        raise ContractError(cls.__name__, "", f"the value is {len(raw)} bytes, more than "
                                              f"the {MAX_EVENT_BYTES} an event may have")
    if not _utf8(raw):
        raise ContractError(cls.__name__, "", "the value is not UTF-8")
    try:
        event = decode(cls, raw)
    except RecursionError:
        raise ContractError(cls.__name__, "", "the JSON is nested too deeply") from None
    if times is not None:
        error = time_error(cls, event.event_time, *times.bounds())
        if error is not None:
            raise error
    return event


class Decoded(NamedTuple, Generic[E]):
    """A run decoded: per message, in order, its event or why it was refused; ``bad`` counts
    the refused (0: every item is an event)."""

    items: list[E | ContractError]
    bad: int


def _utf8(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` is UTF-8 throughout (msgspec checks only the strings it keeps, not
    those of fields it skips)."""
    if bytes(data).isascii():
        return True
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decoder(cls: type) -> msgspec.json.Decoder:
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls)
    return decoder


def _whole(cls: type[E], raws: Sequence[object], times: TimeRange | None) -> list[E] | None:
    """The run's events, each message decoded alone by one decoder mapped over the run
    (no Python frame per message), or None when some message is not a valid event."""
    if not raws:
        return []
    if set(map(type, raws)) != {bytes}:
        return None
    lengths = list(map(len, raws))  # type: ignore[arg-type]
    if min(lengths) == 0 or max(lengths) > MAX_EVENT_BYTES:
        return None
    if not b"".join(raws).isascii() and not all(map(_utf8, raws)):  # type: ignore[arg-type]
        return None
    try:
        events = list(map(_decoder(cls).decode, raws))
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None
    if times is not None:
        low, high = times.bounds()
        stamps = list(map(_event_time, events))
        if min(stamps) < low or max(stamps) > high:
            return None
    return events


def decode_run(cls: type[E], raws: Sequence[object], times: TimeRange | None = None
               ) -> Decoded[E]:
    """Decode consecutive message values: in one call when every one is a valid event, else
    one at a time (see the module docstring)."""
    events = _whole(cls, raws, times)
    if events is not None:
        return Decoded(events, 0)  # type: ignore[arg-type]
    items: list[E | ContractError] = []
    bad = 0
    for raw in raws:
        try:
            items.append(decode_value(cls, raw, times))
        except ContractError as exc:
            items.append(exc)
            bad += 1
    return Decoded(items, bad)
