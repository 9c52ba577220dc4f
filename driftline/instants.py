"""Moments typed on a command line: ISO-8601 times (UTC when no zone is given), seconds
since the epoch, ``now``, or a span back from now (``-30s``, ``-15m``, ``-6h``, ``-2d``).

>>> parse_instant("2026-11-27T10:00:00Z")
1795773600.0
>>> parse_instant("2026-11-27 10:00")
1795773600.0
>>> parse_instant("1795773600")
1795773600.0
>>> parse_instant("-6h", now=100_000.0), parse_instant("now", now=5.0)
(78400.0, 5.0)
>>> format_instant(1795773600.0)
'2026-11-27T10:00:00Z'
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

__all__ = ["format_instant", "parse_instant"]


_SPAN = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_instant(text: str, *, now: float | None = None) -> float:
    """Seconds since the epoch for ``text``; ValueError with the accepted forms otherwise.
    ``now``: the moment relative forms count back from (default: the clock)."""
    value = text.strip()
    if value == "now" or _SPAN.match(value):
        moment = time.time() if now is None else now
        span = _SPAN.match(value)
        return moment if span is None else moment - float(span.group(1)) * _UNIT[span.group(2)]
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"cannot read {text!r} as a time: seconds since the epoch are a "
                             "finite number, not negative")
        return seconds
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time: use an ISO time (2026-11-27T10:00:00Z; UTC "
            "when no zone is given), seconds since the epoch, now, or a span back (-6h)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_instant(seconds: float) -> str:
    """``seconds`` since the epoch as an ISO time in UTC, to the second."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
