"""Keep a partition's two topics in step by event time while both have a backlog.

A worker catching up (a replay for a backtest, a restart after downtime, the benchmark) reads
``predictions`` and ``labels`` from the same fetches, and a fetch brings about as many bytes
of each: labels, a fifth the size of a prediction, run ahead by hundreds of thousands of
events (seen: 280,000 labels waiting for their predictions after 400,000 pairs). Every one of
them waits in the join, in memory and in its changelog; and once one topic runs ahead of the
other by more than the join's TTL in event time, what waits there expires before its other
half is read, so what is joined would depend on read speed.

The source loop therefore *parks* what it reads of a topic partition in a queue, in order,
and applies it event by event only while it is at most ``slack`` seconds of event time ahead
of what the other topic of the partition has applied, or while the other has nothing left to
read. A topic with nothing left to read never holds the other back: at the live edge nothing
waits. The other topic's next parked event also lets events up to its time through, so the
two queues never wait for each other (of two heads each beyond the other's clock, the
earlier is always admitted). Parking does not stop the consumer's fetches (pausing a
partition makes the client drop what it prefetched and fetch it again on resume, which held
the source loop's rate near half); the source loop pauses a topic partition only when its
queue passes a size limit.

>>> admit([100.0, 250.0, 420.0], other=100.0, other_next=None, other_behind=True,
...       slack=300.0)  # up to 400
2
>>> admit([100.0, 250.0, 420.0], other=100.0, other_next=None, other_behind=False,
...       slack=300.0)  # the other has nothing left to read
3
>>> admit([900.0], other=None, other_next=None, other_behind=True,
...       slack=300.0)  # none of the other read yet, and some to read
0
>>> admit([900.0, 950.0], other=100.0, other_next=920.0, other_behind=True,
...       slack=300.0)  # up to the other's next parked event
1
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["admit"]


def admit(
    times: Sequence[float],
    *,
    other: float | None,
    other_next: float | None,
    other_behind: bool,
    slack: float,
) -> int:
    """How many of the leading events parked on one topic of a partition (their event times
    ``times``, in the order read) may be applied now, given the largest event time applied on
    the other topic (``other``, None: none yet), the event time of the other's next parked
    event (None: none parked) and whether the other has events left to apply (parked, or
    not read yet)."""
    if not other_behind or not times:
        return len(times)
    limit = -math.inf if other is None else other + slack
    if other_next is not None and other_next > limit:
        limit = other_next
    if max(times) <= limit:
        return len(times)
    n = 0
    for t in times:
        if t > limit:
            break
        n += 1
    return n
