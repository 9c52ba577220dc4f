"""The times a report range is given in: ISO 8601, seconds since the epoch, or relative.

>>> parse_time("2026-05-28T10:00", now=0.0)
1779962400.0
>>> parse_time("2026-05-28 10:00+02:00", now=0.0)
1779955200.0
>>> parse_time("-6h", now=100_000.0), parse_time("now", now=5.0), parse_time("1700000000")
(78400.0, 5.0, 1700000000.0)
>>> parse_time("yesterday")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: 'yesterday' is not a time: give ISO 8601 (2026-05-28T10:00, UTC unless it ...
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

__all__ = ["parse_time"]

_SPAN = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_time(text: str, *, now: float | None = None) -> float:
    """Seconds since the epoch for ``text`` (naive ISO times are UTC)."""
    now = time.time() if now is None else now
    value = text.strip()
    if value == "now":
        return now
    span = _SPAN.match(value)
    if span:
        return now - float(span.group(1)) * _UNIT[span.group(2)]
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give ISO 8601 (2026-05-28T10:00, UTC unless it says), "
            "seconds since the epoch, 'now', or a span back from now (-30m, -6h, -2d)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
