"""The ends of a replay range: ``--from`` and ``--to`` as typed, and their offsets per partition.

A bound is ``earliest``, ``latest``, an offset for every partition (``1200``), offsets per
partition (``0:100,3:250``; partitions not named keep the default end of the range), or an
ISO-8601 time (``2026-11-27T10:00:00Z``; without a zone, UTC). A range is ``[from, to)``: a time
resolves to the first offset whose timestamp is at or after it (Kafka's time index, as
``offsets_for_times``), so ``--from 10:00 --to 11:00`` copies the messages stamped 10:00 up to,
not including, 11:00.

>>> parse_bound("2026-11-27T10:00:00Z")
Bound(kind='time', offsets=None, time_ms=1795773600000, text='2026-11-27T10:00:00Z')
>>> marks = {0: (0, 50), 1: (10, 40)}
>>> resolve_range(parse_bound("0:5,1:20"), parse_bound("latest"), marks, None)
{0: (5, 50), 1: (20, 40)}
>>> resolve_range(parse_bound("30"), parse_bound("45"), marks, None)
{0: (30, 45), 1: (30, 40)}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from driftline.instants import parse_instant

__all__ = ["Bound", "TimeLookup", "parse_bound", "parse_speed", "resolve_range"]

# partition -> offset of the first message at or after a time (None: no such message)
TimeLookup = Callable[[int], Mapping[int, int | None]]

_PER_PARTITION = re.compile(r"^\d+:\d+(,\d+:\d+)*$")


@dataclass(frozen=True)
class Bound:
    kind: Literal["earliest", "latest", "offsets", "time"]
    offsets: Mapping[int, int] | None = None  # partition -> offset; key -1: every partition
    time_ms: int | None = None
    text: str = ""


def parse_bound(text: str) -> Bound:
    """Read one end of a range (see the module docstring).

    >>> parse_bound("1200").offsets, parse_bound("earliest").kind
    ({-1: 1200}, 'earliest')
    >>> parse_bound("yesterday")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot read 'yesterday' as a range bound: use earliest, latest, an offset ...
    """
    value = text.strip()
    low = value.lower()
    if low in ("earliest", "beginning", "start"):
        return Bound("earliest", text=value)
    if low in ("latest", "end", "now"):
        return Bound("latest", text=value)
    if value.isdigit():
        return Bound("offsets", offsets={-1: int(value)}, text=value)
    if _PER_PARTITION.match(value):
        pairs = [item.split(":") for item in value.split(",")]
        return Bound("offsets", offsets={int(p): int(o) for p, o in pairs}, text=value)
    try:
        moment = parse_instant(value)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a range bound: use earliest, latest, an offset (1200), "
            "offsets per partition (0:100,3:250) or an ISO time (2026-11-27T10:00:00Z)"
        ) from None
    return Bound("time", time_ms=round(moment * 1000), text=value)


def _offset(
    bound: Bound,
    partition: int,
    low: int,
    high: int,
    default: int,
    at_time: Mapping[int, int | None] | None,
) -> int:
    if bound.kind == "earliest":
        return low
    if bound.kind == "latest":
        return high
    if bound.kind == "time":
        assert at_time is not None
        found = at_time.get(partition)
        return high if found is None or found < 0 else found
    assert bound.offsets is not None
    wanted = bound.offsets.get(partition, bound.offsets.get(-1))
    return default if wanted is None else wanted


def resolve_range(
    start: Bound,
    end: Bound,
    watermarks: Mapping[int, tuple[int, int]],
    lookup: TimeLookup | None,
) -> dict[int, tuple[int, int]]:
    """Partition -> ``(start, end)`` offsets, end exclusive, clamped to what the partition
    holds (``watermarks``: partition -> (low, high)). ``lookup(time_ms)`` answers time bounds.
    """
    times = {}
    for bound in (start, end):
        if bound.kind == "time":
            if lookup is None:
                raise ValueError("a time bound needs the broker's time index")
            times[bound.text] = lookup(bound.time_ms or 0)
    out: dict[int, tuple[int, int]] = {}
    for p, (low, high) in sorted(watermarks.items()):
        first = _offset(start, p, low, high, low, times.get(start.text))
        last = _offset(end, p, low, high, high, times.get(end.text))
        first = min(max(first, low), high)
        last = min(max(last, first), high)
        out[p] = (first, last)
    return out


def parse_speed(text: str) -> float | None:
    """``max`` (None: as fast as possible) or a factor of real time such as ``1x``, ``10x``,
    ``0.5x``.

    >>> parse_speed("10x"), parse_speed("max"), parse_speed("0.5")
    (10.0, None, 0.5)
    """
    value = text.strip().lower()
    if value in ("max", "fastest", "inf"):
        return None
    number = value[:-1] if value.endswith("x") else value
    try:
        speed = float(number)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise ValueError(f"cannot read speed {text!r}: use max or a positive factor like 1x, 10x")
    return speed
