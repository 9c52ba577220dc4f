"""Keep a partition's two topics in step by event time while both have a backlog.

:func:`admit` says how many events at the head of one topic's parked queue may be applied:
those at most ``slack`` seconds of event time ahead of what the other topic has applied
(``other``), or up to the other's next parked event (``other_next``), or all of them when
the other has nothing left to read (``other_behind`` false). Why:
``docs/monitoring-internals.md``, "Keeping the two topics in step".

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

import numpy as np

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
    if times[0] > limit:  # (a queue waiting on the other topic: asked at every pass)
        return 0
    if max(times) <= limit:
        return len(times)
    # the first event past the limit (there is one), found without a Python step per event
    return int(np.argmax(np.fromiter(times, np.float64, len(times)) > limit))
