"""ADWIN and Page-Hinkley whose whole state is plain data, so it can be checkpointed.

:class:`Adwin` and :class:`PageHinkley` decide exactly as river's ``drift.ADWIN`` and
``drift.PageHinkley`` with the same parameters (a test feeds both the same streams and
compares every answer), including river's habit of starting over on the update after a
detection. river keeps ADWIN's window in a native object with no state to export; here the
window is a list of bucket rows, and :meth:`Adwin.state` / :meth:`Adwin.from_state` (and the
same on :class:`PageHinkley`) give and take it as msgspec structs.

>>> adwin = Adwin()
>>> fired = [i for i, x in enumerate([0] * 1000 + [1] * 200) if adwin.update(x)]
>>> fired[0]
1023
>>> again = Adwin.from_state(msgspec.json.decode(msgspec.json.encode(adwin.state()),
...                                               type=AdwinState))
>>> again.update(1) == adwin.update(1) and again.estimation == adwin.estimation
True
"""

from __future__ import annotations

import math

import msgspec

__all__ = ["Adwin", "AdwinState", "PageHinkley", "PageHinkleyState"]


class AdwinState(msgspec.Struct, kw_only=True, array_like=True):
    """An :class:`Adwin`'s window: per row (buckets of ``2 ** row`` values, newest last) the
    buckets' totals and variances, and the running sums."""

    totals: list[list[float]]
    variances: list[list[float]]
    width: int = 0
    total: float = 0.0
    variance: float = 0.0
    tick: int = 0
    detected: bool = False


class Adwin:
    """Adaptive windowing (Bifet and Gavaldà, 2007) on a stream of numbers: the window is cut
    where its older and newer parts differ in mean by more than chance allows at confidence
    ``delta``. Checked every ``clock`` values once the window holds more than
    ``grace_period``; parts shorter than ``min_window_length`` are not compared; each row
    keeps at most ``max_buckets`` buckets before the two oldest merge into the next row."""

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5,
                 min_window_length: int = 5, grace_period: int = 10) -> None:
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self._reset()

    def _reset(self) -> None:
        self._totals: list[list[float]] = [[]]
        self._variances: list[list[float]] = [[]]
        self.width = 0
        self.total = 0.0
        self.variance = 0.0
        self._tick = 0
        self.drift_detected = False

    @property
    def estimation(self) -> float:
        """The mean of the window (0 when empty)."""
        return self.total / self.width if self.width else 0.0

    def update(self, x: float) -> bool:
        """Add ``x``; True when the window was cut (a change) now."""
        if self.drift_detected:
            self._reset()
        x = float(x)
        before = self.width
        if before:
            d = x - self.total / before
            self.variance += before * d * d / (before + 1)
        self.width = before + 1
        self.total += x
        newest = self._totals[0]
        newest.append(x)
        self._variances[0].append(0.0)
        if len(newest) > self.max_buckets:
            self._compress()
        self._tick += 1
        if self._tick % self.clock or self.width <= self.grace_period:
            return False
        self.drift_detected = self._detect()
        return self.drift_detected

    def _compress(self) -> None:
        totals, variances, most = self._totals, self._variances, self.max_buckets
        row = 0
        while len(totals[row]) > most:
            if row + 1 == len(totals):
                totals.append([])
                variances.append([])
            size = 2.0 ** row
            t1, t2 = totals[row][0], totals[row][1]
            diff = t1 / size - t2 / size
            merged_variance = variances[row][0] + variances[row][1] + size * size * diff * diff \
                / (2 * size)
            totals[row + 1].append(t1 + t2)
            variances[row + 1].append(merged_variance)
            del totals[row][:2]
            del variances[row][:2]
            row += 1

    def _drop_oldest(self) -> float:
        """Remove the oldest bucket; returns how many values it held."""
        row = len(self._totals) - 1
        n = 2.0 ** row
        u = self._totals[row].pop(0)
        v = self._variances[row].pop(0)
        self.width -= int(n)
        self.total -= u
        mu = u / n
        mu_window = self.total / self.width
        self.variance -= v + n * self.width * (mu - mu_window) * (mu - mu_window) \
            / (n + self.width)
        if not self._totals[row]:
            self._totals.pop()
            self._variances.pop()
        return n

    def _detect(self) -> bool:
        """Cut the window's oldest buckets while its two parts differ (every ``clock``
        values). The comparison uses the whole window's variance, as river's does."""
        found = False
        cut = True
        least = self.min_window_length
        sqrt = math.sqrt
        while cut:
            cut = False
            n0, n1 = 0.0, float(self.width)
            u0, u1 = 0.0, self.total
            d = math.log(2.0 * math.log(self.width) / self.delta)
            variance = self.variance / self.width
            for row in range(len(self._totals) - 1, -1, -1):
                size = 2.0 ** row
                totals = self._totals[row]
                last = len(totals) - 1
                for k, u2 in enumerate(totals):
                    n0 += size
                    n1 -= size
                    u0 += u2
                    u1 -= u2
                    if row == 0 and k == last:
                        break
                    if n1 >= least and n0 >= least:
                        m = 1.0 / (n0 - least + 1) + 1.0 / (n1 - least + 1)
                        if abs(u0 / n0 - u1 / n1) > sqrt(2.0 * m * variance * d) \
                                + 2.0 / 3.0 * d * m:
                            found = cut = True
                            self._drop_oldest()
                            break
                else:
                    continue
                break
        return found

    def state(self) -> AdwinState:
        """The window and sums, as plain data."""
        return AdwinState(totals=[list(r) for r in self._totals],
                          variances=[list(r) for r in self._variances], width=self.width,
                          total=self.total, variance=self.variance, tick=self._tick,
                          detected=self.drift_detected)

    @classmethod
    def from_state(cls, state: AdwinState, **params: float) -> Adwin:
        """An :class:`Adwin` (``params`` as the constructor's) that goes on from ``state``."""
        adwin = cls(**params)  # type: ignore[arg-type]
        adwin._totals = [list(r) for r in state.totals] or [[]]
        adwin._variances = [list(r) for r in state.variances] or [[]]
        adwin.width, adwin.total, adwin.variance = state.width, state.total, state.variance
        adwin._tick, adwin.drift_detected = state.tick, state.detected
        return adwin


class PageHinkleyState(msgspec.Struct, kw_only=True, array_like=True):
    """A :class:`PageHinkley`'s running mean and cumulative sums (``min_increase`` None: no
    value yet, JSON having no infinity)."""

    n: int = 0
    mean: float = 0.0
    sum_increase: float = 0.0
    sum_decrease: float = 0.0
    min_increase: float | None = None
    max_decrease: float = -1.0
    detected: bool = False


class PageHinkley:
    """The Page-Hinkley test on a stream of numbers: an alarm when the cumulative excess of
    the values over their running mean (less ``delta`` each, forgotten by ``alpha``) rises
    more than ``threshold`` above its minimum (``mode="up"``), or falls below its maximum
    (``"down"``), or either (``"both"``), after ``min_instances`` values."""

    def __init__(self, min_instances: int = 30, delta: float = 0.005, threshold: float = 50.0,
                 alpha: float = 1 - 0.0001, mode: str = "both") -> None:
        if mode not in ("up", "down", "both"):
            raise ValueError(f"mode must be up, down or both, not {mode!r}")
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0
        self.drift_detected = False

    def update(self, x: float) -> bool:
        """Add ``x``; True when the test raised an alarm now."""
        if self.drift_detected:
            self._reset()
        self._n += 1
        self._mean += (1.0 / self._n) * (x - self._mean)
        dev = x - self._mean
        up_sum = self._sum_increase = self.alpha * self._sum_increase + dev - self.delta
        down_sum = self._sum_decrease = self.alpha * self._sum_decrease + dev + self.delta
        if up_sum < self._min_increase:
            self._min_increase = up_sum
        if down_sum > self._max_decrease:
            self._max_decrease = down_sum
        if self._n >= self.min_instances:
            up = up_sum - self._min_increase > self.threshold
            down = self._max_decrease - down_sum > self.threshold
            self.drift_detected = (up if self.mode == "up" else down if self.mode == "down"
                                   else up or down)
        return self.drift_detected

    def state(self) -> PageHinkleyState:
        """The running mean and sums, as plain data."""
        return PageHinkleyState(
            n=self._n, mean=self._mean, sum_increase=self._sum_increase,
            sum_decrease=self._sum_decrease,
            min_increase=None if math.isinf(self._min_increase) else self._min_increase,
            max_decrease=self._max_decrease, detected=self.drift_detected,
        )

    @classmethod
    def from_state(cls, state: PageHinkleyState, **params: float | str) -> PageHinkley:
        """A :class:`PageHinkley` (``params`` as the constructor's) that goes on from
        ``state``."""
        test = cls(**params)  # type: ignore[arg-type]
        test._n, test._mean = state.n, state.mean
        test._sum_increase, test._sum_decrease = state.sum_increase, state.sum_decrease
        test._min_increase = math.inf if state.min_increase is None else state.min_increase
        test._max_decrease, test.drift_detected = state.max_decrease, state.detected
        return test
