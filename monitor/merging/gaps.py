"""Offsets of the partials topic the judge's stream stepped over.

faust-streaming (0.15) drops the messages its stream receives during a rebalance (flow
control paused, or a consumer generation older than the app's) and *acknowledges* them, so
the next commit can include them; the stream then seeks to the committed offset and never
hands them to the agent. For the judge such a message may be a partition's share of a
window, and the window would be judged without it (seen: a window judged with 498 of 600
rows after a second worker joined). :class:`OffsetGaps` notices the jump: the judge reads
what it skipped straight from Kafka and handles it before the message that revealed the gap.
The last offset handled is kept in the judge's table, so a worker that takes the judge over
after such a step notices it too.

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
