"""The best a detector of a change in an error rate can do: Page's CUSUM knowing both rates.

For a change from independent 0/1 errors at rate ``p0`` to errors at rate ``p1``, the CUSUM
of the log-likelihood ratio with both rates known minimises the worst-case detection delay
among all detectors with the same mean time between false alarms (Moustakides, 1986). No
detector that must estimate either rate can do better on average, so its median delay on a
stream is a floor for the ones that do (driftline's GLR scan, ADWIN), at the same false
alarms. It is not a detector one can deploy: it is told the rates after the change.

Its threshold is set for a false-alarm rate, an expected number of alarms per 30 days at a
given number of errors a second, from the mean run length between false alarms (ARL0),
computed exactly enough from the Markov chain of the statistic on a fine grid (each
increment split between its two neighbouring grid steps so that its mean is kept) rather than
simulated.

>>> h = threshold(0.2, 0.3, false_alarms=0.25, rate=1.0)
>>> round(h, 1)
12.3
>>> round(30 * 86400 / mean_run_length(0.2, 0.3, h), 2)
0.25
>>> alarms([0] * 50 + [1] * 50, 0.2, 0.9, h)
[58, 67, 76, 85, 94]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg

__all__ = ["alarms", "mean_run_length", "threshold"]

HORIZON = 30 * 86400.0  # seconds in the false-alarm rate's period
GRID = 8000  # grid steps below the threshold (the rate's relative error is under 1e-3)


def _steps(p0: float, p1: float) -> tuple[float, float]:
    """The statistic's increments for an error and for a correct answer."""
    return math.log(p1 / p0), math.log((1 - p1) / (1 - p0))


def mean_run_length(p0: float, p1: float, h: float, grid: int = GRID) -> float:
    """Expected errors seen, all at rate ``p0``, before the CUSUM from 0 reaches ``h``."""
    up, down = _steps(p0, p1)
    step = h / grid
    here = np.arange(grid)
    rows, cols, weights = [], [], []
    for increment, prob in ((up, p0), (down, 1 - p0)):
        whole = math.floor(increment / step)
        frac = increment / step - whole
        for move, share in ((whole, 1 - frac), (whole + 1, frac)):
            if share <= 0:
                continue
            to = np.maximum(here + move, 0)
            inside = to < grid  # (at or past the threshold: the run ends)
            rows.append(here[inside])
            cols.append(to[inside])
            weights.append(np.full(int(inside.sum()), prob * share))
    moves = sparse.csr_matrix((np.concatenate(weights), (np.concatenate(rows),
                                                         np.concatenate(cols))),
                              shape=(grid, grid))
    system = (sparse.identity(grid, format="csr") - moves).tocsc()
    return float(sparse_linalg.spsolve(system, np.ones(grid))[0])


def threshold(p0: float, p1: float, false_alarms: float, rate: float) -> float:
    """The threshold at which the CUSUM raises ``false_alarms`` per 30 days on errors at
    ``p0`` arriving ``rate`` a second (restarting from 0 after each alarm)."""
    if not 0 < p0 < p1 < 1:
        raise ValueError(f"need 0 < p0 < p1 < 1, got {p0}, {p1}")
    wanted = HORIZON * rate / false_alarms  # mean run length between false alarms
    low, high = 0.5, 1.0
    while mean_run_length(p0, p1, high) < wanted:
        low, high = high, 2 * high
    for _ in range(20):  # (to a millionth of the threshold)
        middle = (low + high) / 2
        if mean_run_length(p0, p1, middle) < wanted:
            low = middle
        else:
            high = middle
    return high


def alarms(errors: Sequence[int], p0: float, p1: float, h: float) -> list[int]:
    """The indices at which the CUSUM fed ``errors`` one at a time reaches ``h`` (it restarts
    from 0 after each)."""
    up, down = _steps(p0, p1)
    out = []
    s = 0.0
    for i, e in enumerate(errors):
        s = s + up if e else max(s + down, 0.0)
        if s >= h:
            out.append(i)
            s = 0.0
    return out
