"""Offsets of the partials topic that a stream stepped over.

faust-streaming drops the messages its stream receives during a rebalance and acknowledges
them, so the stream never hands them to the agent; for the worker's publisher such a
message may be a partition's share of a window. :class:`OffsetGaps` notices the jump in
offsets, so the caller reads what was skipped straight from Kafka before the message that
revealed the gap. Starting from the last offset the previous owner handled (``last``)
notices a step that happened just before a hand-over.

>>> gaps = OffsetGaps()
>>> gaps.see(40), gaps.see(41)  # the first offset seen: nothing to compare with yet
(range(0, 0), range(0, 0))
>>> gaps.see(45)  # 42, 43 and 44 never came
range(42, 45)
>>> gaps.see(30), gaps.see(31)  # read again from an older offset (a seek back): no gap
(range(0, 0), range(0, 0))
>>> OffsetGaps(last=99).see(103)  # resumed from the offset the last owner handled
range(100, 103)
"""

from __future__ import annotations

__all__ = ["OffsetGaps"]


class OffsetGaps:
    """The offsets between the last one handled and the next one delivered."""

    __slots__ = ("last",)

    def __init__(self, last: int | None = None) -> None:
        self.last = last  # the last offset handled, None before the first

    def see(self, offset: int) -> range:
        """Record ``offset`` as handled; return the offsets skipped just before it (empty
        unless the stream jumped forward)."""
        last, self.last = self.last, offset
        if last is None or offset <= last + 1:
            return range(0)
        return range(last + 1, offset)
