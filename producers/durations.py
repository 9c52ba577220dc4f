"""Durations and rates as people type them on a command line.

>>> parse_duration("90s"), parse_duration("10m"), parse_duration("1.5h"), parse_duration("2d")
(90.0, 600.0, 5400.0, 172800.0)
>>> parse_duration("250ms")
0.25
>>> format_duration(5400.0), format_duration(42.0), format_duration(0.25)
('1h30m', '42s', '0.25s')
>>> parse_duration("soon")
Traceback (most recent call last):
...
ValueError: 'soon' is not a duration: write a number and a unit, e.g. 30s, 10m, 1.5h, 2d
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "is_duration", "parse_duration"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ms|s|m|h|d)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: a non-negative number with a unit (ms, s, m, h, d)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit, e.g. 30s, 10m, 1.5h, 2d"
        )
    return float(match.group("value")) * _UNITS[match.group("unit")]


def is_duration(text: str) -> bool:
    """Whether ``text`` reads as a duration."""
    return _DURATION.match(text) is not None


def format_duration(seconds: float) -> str:
    """A short human form of ``seconds`` (the inverse of :func:`parse_duration` for whole
    units)."""
    if seconds < 60 and seconds != int(seconds):
        return f"{seconds:g}s"
    total = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts) or "0s"
