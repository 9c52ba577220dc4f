"""Which performance windows count which joined pairs, found a span of event time at a time.

A run of joined pairs counts each pair in the performance windows of its prediction's event
time that were not closed when it joined. With whole-second windows, the event times that
belong to exactly the same windows form a span (:meth:`EventTimeWindows.span`), so the pairs
of a run are sorted into windows with one look-up per span and numpy masks, not a look-up
per pair; each window gets its pairs in the order joined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from operator import attrgetter
from typing import Any

import numpy as np

from driftline.events import LabeledEvent, PredictionEvent
from monitor.drift.windows import EventTimeWindows, Window

__all__ = ["Pairs", "count_by_span", "version_runs"]

_prediction, _event_time, _score = (attrgetter("prediction"), attrgetter("event_time"),
                                    attrgetter("score"))
_name, _version = attrgetter("model_name"), attrgetter("model_version")
_label, _delay = attrgetter("label"), attrgetter("delay_seconds")

# joined pairs' predictions, and their runs of one model version: (name, version, start, end)
Pairs = tuple[list[PredictionEvent], list[tuple[str, str, int, int]]]


def version_runs(joined: Sequence[LabeledEvent]) -> Pairs:
    """The predictions of ``joined`` pairs, and the stretches of consecutive pairs of one
    model version, as ``(model name, version, start, end)`` in order (one look per pair
    when they are all of one version, the common case).

    >>> from driftline.events import PredictionEvent
    >>> def pair(version):
    ...     p = PredictionEvent(prediction_id="p", event_time=1.0, model_name="m",
    ...                         model_version=version, features={}, score=0.5, decision="")
    ...     return LabeledEvent(event_time=1.0, prediction=p, label=1, label_time=2.0,
    ...                         delay_seconds=1.0)
    >>> version_runs([pair("1"), pair("1"), pair("2"), pair("1")])[1]
    [('m', '1', 0, 2), ('m', '2', 2, 3), ('m', '1', 3, 4)]
    """
    predictions = list(map(_prediction, joined))
    n = len(predictions)
    if not n:
        return predictions, []
    names, versions = list(map(_name, predictions)), list(map(_version, predictions))
    if names.count(names[0]) == n and versions.count(versions[0]) == n:
        return predictions, [(names[0], versions[0], 0, n)]
    runs = []
    start = 0
    for (name, version), group in groupby(zip(names, versions, strict=True)):
        end = start + len(list(group))
        runs.append((name, version, start, end))
        start = end
    return predictions, runs


def count_by_span(
    joined: Sequence[LabeledEvent],
    marks: Sequence[float],
    windows: EventTimeWindows,
    accumulator: Callable[[str, str, Window], Any],
    versions: Pairs | None = None,
    read_at: tuple[str, Sequence[int]] | None = None,
) -> bool:
    """Count ``joined`` (pairs of one model version) in their performance windows, each
    pair in those ending after its mark (``marks``: which windows were closed when it
    joined); ``accumulator(name, version, window)`` gives a window's accumulator (None: it
    has none, nothing counts in it); ``versions``: :func:`version_runs` of ``joined``, when
    the caller has it; ``read_at``: ``"topic:partition"`` and the offset there of the event
    that completed each pair, for each window's span of them. False, counting nothing, when
    the windows are not in whole seconds or the pairs are of several versions: count them
    one by one then.

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
    >>> accs.clear()
    >>> count_by_span([pair(10.0), pair(70.0), pair(20.0)], [0.0, 0.0, 0.0],
    ...               EventTimeWindows(size=60), acc, read_at=("labels:2", [7, 8, 9]))
    True
    >>> {start: a.offsets for start, a in sorted(accs.items())}
    {0.0: {'labels:2': [7, 9]}, 60.0: {'labels:2': [8, 8]}}
    """
    n = len(joined)
    if not windows.whole or not n:
        return False
    predictions, runs = version_runs(joined) if versions is None else versions
    if len(runs) != 1:
        return False
    name, version = runs[0][:2]
    made = np.fromiter(map(_event_time, predictions), np.float64, n)
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
    scores = np.fromiter(map(_score, predictions), np.float64, n)
    labels = np.fromiter(map(_label, joined), np.int64, n)
    delays = np.fromiter(map(_delay, joined), np.float64, n)
    where, at = (None, None) if read_at is None else (
        read_at[0], np.asarray(read_at[1], dtype=np.int64))
    for acc, parts in chosen.values():
        which = parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
        span = None if at is None else (where, int(at[which].min()), int(at[which].max()))
        if len(which) == n:
            acc.update_many(scores.tolist(), labels.tolist(), delays.tolist(), span)
        else:
            acc.update_many(scores[which].tolist(), labels[which].tolist(),
                            delays[which].tolist(), span)
    return True
