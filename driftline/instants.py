"""Moments typed on a command line: ISO-8601 times (UTC when no zone is given) or seconds
since the epoch.

>>> parse_instant("2026-11-27T10:00:00Z")
1795773600.0
>>> parse_instant("2026-11-27 10:00")
1795773600.0
>>> parse_instant("1795773600")
1795773600.0
>>> format_instant(1795773600.0)
'2026-11-27T10:00:00Z'
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

__all__ = ["format_instant", "parse_instant"]


def parse_instant(text: str) -> float:
    """Seconds since the epoch for ``text``; ValueError with the accepted forms otherwise."""
    value = text.strip()
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
            "when no zone is given) or seconds since the epoch"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_instant(seconds: float) -> str:
    """``seconds`` since the epoch as an ISO time in UTC, to the second."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
