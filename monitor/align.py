"""Keep a partition's two topics in step by event time while both have a backlog.

A worker catching up (a replay for a backtest, a restart after downtime, the benchmark) reads
``predictions`` and ``labels`` from the same fetches, and a fetch brings about as many bytes
of each: labels, a fifth the size of a prediction, run ahead by hundreds of thousands of
events (seen: 280,000 labels waiting for their predictions after 400,000 pairs). Every one of
them waits in the join, in memory and in its changelog; and once one topic runs ahead of the
other by more than the join's TTL in event time, what waits there expires before its other
half is read, so what is joined would depend on read speed. The source loop therefore holds
back (pauses) the topic partition whose event-time clock is more than ``slack`` seconds ahead
of the other's while the other still has messages to read, and lets it go again once the
other has caught up with it. A topic with nothing left to read never holds the other back:
at the live edge nothing is held.

>>> hold(None, predictions=100.0, labels=500.0, predictions_behind=True,
...      labels_behind=True, slack=300.0)
'labels'
>>> hold("labels", predictions=450.0, labels=500.0, predictions_behind=True,
...      labels_behind=True, slack=300.0)  # held until the predictions reach 500
'labels'
>>> hold("labels", predictions=500.0, labels=500.0, predictions_behind=True,
...      labels_behind=True, slack=300.0) is None
True
>>> hold(None, predictions=100.0, labels=500.0, predictions_behind=False,
...      labels_behind=True, slack=300.0) is None  # nothing to wait for
True
>>> hold(None, predictions=900.0, labels=None, predictions_behind=True,
...      labels_behind=True, slack=300.0)  # no label read yet, and some to read
'predictions'
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["Held", "hold"]

Held = Literal["predictions", "labels"] | None


def hold(
    held: Held,
    *,
    predictions: float | None,
    labels: float | None,
    predictions_behind: bool,
    labels_behind: bool,
    slack: float,
) -> Held:
    """Which topic of a partition to hold back now, given the one held so far (``held``), the
    largest event time read on each topic (None: none yet) and whether each has messages
    left to read."""
    p = -math.inf if predictions is None else predictions
    lab = -math.inf if labels is None else labels
    if held == "labels" and predictions_behind and lab > p:
        return "labels"
    if held == "predictions" and labels_behind and p > lab:
        return "predictions"
    if predictions_behind and lab > p + slack:
        return "labels"
    if labels_behind and p > lab + slack:
        return "predictions"
    return None
