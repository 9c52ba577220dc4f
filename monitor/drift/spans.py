"""Where the events behind a window's counts were read: per topic partition the first and
last offset counted, kept as ``{"topic:partition": [first, last]}`` so that counts merged in
any order, or applied again after a restart, end with the same spans.

>>> spans = {}
>>> widen(spans, "predictions:0", 40, 99)
>>> widen(spans, "predictions:0", 10, 20)
>>> merge_spans(spans, {"predictions:1": [5, 6], "predictions:0": [100, 120]})
>>> spans
{'predictions:0': [10, 120], 'predictions:1': [5, 6]}
>>> [(r.topic, r.partition, r.first_offset, r.last_offset) for r in offset_ranges(spans)]
[('predictions', 0, 10, 120), ('predictions', 1, 5, 6)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from driftline.events import OffsetRange

__all__ = ["merge_spans", "offset_ranges", "widen"]


def widen(spans: dict[str, list[int]], where: str, first: int, last: int) -> None:
    """Make the span of ``where`` (``"topic:partition"``) cover ``first`` to ``last``."""
    span = spans.get(where)
    if span is None:
        spans[where] = [first, last]
    else:
        span[0], span[1] = min(span[0], first), max(span[1], last)


def merge_spans(spans: dict[str, list[int]], other: Mapping[str, Sequence[int]]) -> None:
    """Widen ``spans`` by every span of ``other``."""
    for where, (first, last) in other.items():
        widen(spans, where, first, last)


def offset_ranges(spans: Mapping[str, Sequence[int]]) -> list[OffsetRange]:
    """The spans as offset ranges (a drift event's evidence), by topic and partition."""
    ranges = []
    for where, (first, last) in spans.items():
        topic, _, partition = where.rpartition(":")
        ranges.append(OffsetRange(topic=topic, partition=int(partition), first_offset=first,
                                  last_offset=last))
    return sorted(ranges, key=lambda r: (r.topic, r.partition))
