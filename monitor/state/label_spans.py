"""Which performance windows count which joined pairs, found a span of event time at a time.

A run of joined pairs counts each pair in the performance windows of its prediction's event
time that were not closed when it joined. With whole-second windows, the event times that
belong to exactly the same windows form a span (:meth:`EventTimeWindows.span`), so the pairs
of a run are sorted into windows with one look-up per span and numpy masks, not a look-up
per pair; each window gets its pairs in the order joined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from driftline.events import LabeledEvent
from monitor.drift.windows import EventTimeWindows, Window

__all__ = ["count_by_span"]

_made = attrgetter("prediction.event_time")
_version = attrgetter("prediction.model_name", "prediction.model_version")
_score, _label, _delay = (attrgetter("prediction.score"), attrgetter("label"),
                          attrgetter("delay_seconds"))


def count_by_span(
    joined: Sequence[LabeledEvent],
    marks: Sequence[float],
    windows: EventTimeWindows,
    accumulator: Callable[[str, str, Window], Any],
) -> bool:
    """Count ``joined`` (pairs of one model version) in their performance windows, each
    pair in those ending after its mark (``marks``: which windows were closed when it
    joined); ``accumulator(name, version, window)`` gives a window's accumulator (None: it
    has none, nothing counts in it). False, counting nothing, when the windows are not in
    whole seconds or the pairs are of several versions: count them one by one then.

    >>> from driftline.events import LabeledEvent, PredictionEvent
    >>> from monitor.drift.performance import PerformanceAccumulator
    >>> accs = {}
    >>> def acc(name, version, w):
    ...     return accs.setdefault(w.start, PerformanceAccumulator())
    >>> def pair(t):
    ...     p = PredictionEvent(prediction_id=str(t), event_time=t, model_name="m",
    ...                         model_version="1", features={}, score=0.9, decision="HIGH")
    ...     return LabeledEvent(event_time=t, prediction=p, label=1, label_time=t + 5,
    ...                         delay_seconds=5.0)
    >>> count_by_span([pair(10.0), pair(70.0), pair(20.0)], [0.0, 0.0, 60.0],
    ...               EventTimeWindows(size=60), acc)
    True
    >>> {start: a.labeled for start, a in sorted(accs.items())}
    {0.0: 1, 60.0: 1}
    """
    n = len(joined)
    if not windows.whole or not n:
        return False
    name, version = _version(joined[0])
    if list(map(_version, joined)).count((name, version)) != n:
        return False
    made = np.fromiter(map(_made, joined), np.float64, n)
    mark = np.asarray(marks, dtype=np.float64)
    left = np.ones(n, dtype=bool)
    chosen: dict[int, tuple[Any, list[np.ndarray]]] = {}
    while True:
        i = int(np.argmax(left))
        if not left[i]:
            break
        t = float(made[i])
        found = windows.assign(t)
        if not found:
            return False
        lo, hi = windows.span(found)
        inside = left & (made >= lo) & (made < hi)
        if not inside[i]:
            return False  # (cannot happen: t is in its own span)
        left &= ~inside
        for window in found:
            acc = accumulator(name, version, window)
            if acc is None:
                continue
            which = np.flatnonzero(inside & (mark < window.end))
            if not len(which):
                continue
            entry = chosen.get(id(acc))
            if entry is None:
                chosen[id(acc)] = (acc, [which])
            else:
                entry[1].append(which)
    if not chosen:
        return True
    scores = np.fromiter(map(_score, joined), np.float64, n)
    labels = np.fromiter(map(_label, joined), np.int64, n)
    delays = np.fromiter(map(_delay, joined), np.float64, n)
    for acc, parts in chosen.values():
        which = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
        if len(which) == n:
            acc.update_many(scores.tolist(), labels.tolist(), delays.tolist())
        else:
            acc.update_many(scores[which].tolist(), labels[which].tolist(),
                            delays[which].tolist())
    return True
