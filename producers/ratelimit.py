"""Rate control by scheduled sends, driven by whatever clock the caller passes in.

The i-th send is due ``i / rate`` seconds after the start. A caller asks :meth:`Pacer.take`
how many sends are due at its current time and sleeps until :meth:`Pacer.next_at`; however
coarse or irregular its wake-ups, the count released by time ``t`` stays within one of
``rate * t``, so the achieved rate holds the target. A caller that falls more than
``max_lag`` seconds behind (a stalled scorer) does not burst to catch up: the schedule slips
and the slip is counted.

>>> pacer = Pacer(rate=10.0)
>>> [pacer.take(t) for t in (0.0, 0.05, 0.31, 0.32, 1.0)]
[1, 0, 3, 0, 7]
>>> pacer.released, pacer.next_at
(11, 1.1)
"""

from __future__ import annotations

import math

__all__ = ["Pacer"]

_EPS = 1e-9  # keeps a send due exactly at its time despite float rounding


class Pacer:
    """Release sends at ``rate`` per second from ``start``, at most ``limit`` in all."""

    def __init__(
        self,
        rate: float,
        *,
        start: float = 0.0,
        max_lag: float = 1.0,
        limit: int | None = None,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"the rate must be a positive number of sends per second, got {rate}")
        if max_lag <= 0:
            raise ValueError(f"max_lag must be positive, got {max_lag}")
        self.rate = float(rate)
        self.max_lag = float(max_lag)
        self.limit = limit
        self._start = float(start)
        self._released = 0
        self._slipped = 0.0

    @property
    def released(self) -> int:
        """Sends released so far."""
        return self._released

    @property
    def slipped(self) -> float:
        """Seconds the schedule slipped because the caller fell behind by over ``max_lag``."""
        return self._slipped

    @property
    def done(self) -> bool:
        return self.limit is not None and self._released >= self.limit

    @property
    def next_at(self) -> float:
        """When the next send is due (on the caller's clock)."""
        return self._start + self._released / self.rate

    def take(self, now: float) -> int:
        """How many sends to make at ``now``; they count as released."""
        due = math.floor((now - self._start) * self.rate + _EPS) + 1
        behind = due - self._released
        burst = max(1, math.ceil(self.max_lag * self.rate))
        if behind > burst:
            skipped = behind - burst
            self._start += skipped / self.rate
            self._slipped += skipped / self.rate
            behind = burst
        if self.limit is not None:
            behind = min(behind, self.limit - self._released)
        behind = max(0, behind)
        self._released += behind
        return behind
