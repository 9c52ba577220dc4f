"""Event-time windows: which windows an event belongs to, and which windows are closed.

Windows are closed-open intervals ``[start, end)`` of event time (seconds), aligned to
``origin``: starts are ``origin + k * step`` and ``end = start + size``. Tumbling windows have
``step == size`` (each event in exactly one window); hopping windows have ``step < size``
(each event in ``size / step`` windows when that divides). An event at exactly ``end`` belongs
to the next window, not this one.

:class:`EventTimeWindows` is the pure assigner. :class:`WindowClock` is the bookkeeping a
stream needs on top: the watermark (the largest event time seen minus ``grace``), the windows
that received events and are still open, and the late events.

- A window is *closed* once the watermark reaches its end (``watermark >= end``); it is then
  handed out once by :meth:`WindowClock.pop_closed` to be judged, and never reopened.
- An event is *late* for a window that is already closed: it is not counted in it. An event
  late for every window it belongs to is dropped and counted in :attr:`WindowClock.late`
  (per key). With hopping windows an event may be late for its older windows and still count
  in the newer ones; only the windows it was accepted into are returned.
- The watermark moves only with event time, never with the wall clock, so a replay gives the
  same windows as the live run. A stream that goes quiet keeps its last windows open until
  a newer event arrives, or until the caller passes a watermark to :meth:`pop_closed`.

>>> windows = EventTimeWindows(size=60, step=30, grace=10)
>>> windows.assign(75)
[Window(start=30.0, end=90.0), Window(start=60.0, end=120.0)]
>>> clock = WindowClock(windows)
>>> clock.observe(75, "m/1")
[Window(start=30.0, end=90.0), Window(start=60.0, end=120.0)]
>>> clock.observe(100, "m/1")  # watermark 90: [30, 90) is now closed
[Window(start=60.0, end=120.0), Window(start=90.0, end=150.0)]
>>> clock.pop_closed()
[('m/1', Window(start=30.0, end=90.0))]
>>> clock.observe(50, "m/1"), clock.late  # 50 belongs to [0, 60) and [30, 90), both closed
([], {'m/1': 1})
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

__all__ = ["ClockState", "EventTimeWindows", "Window", "WindowClock"]


class Window(msgspec.Struct, frozen=True, order=True):
    """The closed-open event-time interval ``[start, end)``."""

    start: float
    end: float

    def __contains__(self, event_time: float) -> bool:
        return self.start <= event_time < self.end


class EventTimeWindows:
    """Tumbling (``step`` omitted or equal to ``size``) or hopping windows of event time.

    Parameters
    ----------
    size
        Length of each window, in seconds.
    step
        Distance between consecutive window starts; defaults to ``size`` (tumbling). Must not
        exceed ``size``: gaps between windows would drop events silently.
    grace
        How far behind the largest event time seen an event may arrive and still count.
    origin
        Event time at which one window starts; every start is ``origin`` plus a multiple of
        ``step``.

    >>> EventTimeWindows(size=60).assign(60.0)  # 60 is the end of [0, 60), so not in it
    [Window(start=60.0, end=120.0)]
    >>> EventTimeWindows(size=60, step=90)
    Traceback (most recent call last):
    ...
    ValueError: step (90) must be in (0, size=60]: a step beyond the size leaves gaps
    """

    def __init__(
        self, size: float, step: float | None = None, grace: float = 0.0, origin: float = 0.0
    ) -> None:
        step = size if step is None else step
        if not size > 0:
            raise ValueError(f"size must be positive, got {size}")
        if not 0 < step <= size:
            raise ValueError(
                f"step ({step:g}) must be in (0, size={size:g}]: a step beyond the size leaves gaps"
            )
        if grace < 0:
            raise ValueError(f"grace must be >= 0, got {grace}")
        self.size = float(size)
        self.step = float(step)
        self.grace = float(grace)
        self.origin = float(origin)
        # whole seconds: window bounds are exact in floating point, so span() agrees with
        # assign() at every boundary (the clock's fast path relies on it)
        self.whole = all(float(x).is_integer() for x in (size, step, origin))

    @property
    def tumbling(self) -> bool:
        return self.step == self.size

    def assign(self, event_time: float) -> list[Window]:
        """Every window containing ``event_time``, oldest first."""
        k = math.floor((event_time - self.origin) / self.step)
        found = []
        while True:
            start = self.origin + k * self.step
            if start + self.size <= event_time:
                break
            if start <= event_time:
                found.append(Window(start, start + self.size))
            k -= 1
        found.reverse()
        return found

    def span(self, found: list[Window]) -> tuple[float, float]:
        """The event times ``[lo, hi)`` that belong to exactly the windows ``found`` (the
        non-empty result of one :meth:`assign`, oldest first).

        >>> w = EventTimeWindows(size=60, step=30)
        >>> w.span(w.assign(75))
        (60.0, 90.0)
        """
        first, last = found[0].start, found[-1].start
        lo = max(last, first - self.step + self.size)  # no window ends, none older joins
        hi = min(first + self.size, last + self.step)  # none ends, no newer one starts
        return lo, hi

    def watermark(self, max_event_time: float | None) -> float:
        """The watermark for the largest event time seen (``-inf`` before any event)."""
        return -math.inf if max_event_time is None else max_event_time - self.grace

    def is_closed(self, window: Window, watermark: float) -> bool:
        """Whether ``window`` is closed at ``watermark``: the watermark reached its end."""
        return watermark >= window.end


class _OpenWindow(msgspec.Struct, frozen=True, array_like=True):
    key: str
    start: float
    end: float


class ClockState(msgspec.Struct, kw_only=True):
    """Serialisable state of a :class:`WindowClock` (JSON through msgspec)."""

    max_event_time: float | None = None
    open: list[_OpenWindow] = []
    late: dict[str, int] = {}


class WindowClock:
    """Watermark, open windows and late events for one stream of event times.

    ``key`` names what the windows are kept for (driftline uses ``"model_name/version"``), so
    that :meth:`pop_closed` says which accumulators to judge.
    """

    def __init__(self, windows: EventTimeWindows, state: ClockState | None = None) -> None:
        self.windows = windows
        state = state or ClockState()
        self._max: float | None = state.max_event_time
        self._open: dict[tuple[str, float], Window] = {
            (w.key, w.start): Window(w.start, w.end) for w in state.open
        }
        self._late: dict[str, int] = dict(state.late)
        self._watermark = windows.watermark(self._max)
        # key -> (lo, hi, windows): every event time in [lo, hi) belongs to exactly these
        # windows, all open while the watermark is below the first one's end (see observe)
        self._recent: dict[str, tuple[float, float, list[Window]]] = {}

    @property
    def watermark(self) -> float:
        return self._watermark

    @property
    def max_event_time(self) -> float | None:
        return self._max

    @property
    def late(self) -> dict[str, int]:
        """Events dropped because every window they belong to was closed, per key."""
        return dict(self._late)

    @property
    def open_windows(self) -> list[tuple[str, Window]]:
        return sorted(((key, w) for (key, _), w in self._open.items()), key=_closing_order)

    def observe(self, event_time: float, key: str = "") -> list[Window]:
        """Advance the watermark with ``event_time`` and return the open windows it counts in.

        An empty list means the event is late for all its windows; it is counted in
        :attr:`late` and must be dropped by the caller.
        """
        if self._max is None or event_time > self._max:
            self._max = event_time
            self._watermark = watermark = event_time - self.windows.grace
        else:
            watermark = self._watermark
        # Fast path (most events): the same windows as a recent event of this key, still open.
        recent = self._recent.get(key)
        if (recent is not None and recent[0] <= event_time < recent[1]
                and watermark < recent[2][0].end):
            return recent[2]
        found = self.windows.assign(event_time)
        accepted = [w for w in found if w.end > watermark]
        if not accepted:
            self._late[key] = self._late.get(key, 0) + 1
            return accepted
        for w in accepted:
            self._open.setdefault((key, w.start), w)
        if len(accepted) == len(found) and self.windows.whole:
            self._recent[key] = (*self.windows.span(found), accepted)
        return accepted

    def observe_run(self, times: np.ndarray, key: str, windows: list[Window]) -> int:
        """Observe the leading event times of ``times`` (float64, in order) that count in
        exactly ``windows``, the list :meth:`observe` returned for the last event of ``key``,
        each still open after it: returns how many (0 when ``windows`` is not that list).
        Those are observed as one at a time (:meth:`observe` would return ``windows`` for
        each); the rest are not observed.

        >>> clock = WindowClock(EventTimeWindows(size=60, grace=5))
        >>> windows = clock.observe(10.0, "m/1")
        >>> clock.observe_run(np.array([12.0, 30.0, 64.0, 20.0]), "m/1", windows)
        2
        >>> clock.watermark
        25.0
        """
        recent = self._recent.get(key)
        if recent is None or recent[2] is not windows:
            return 0
        lo, hi = recent[0], recent[1]
        # (observe()'s fast path for each: in [lo, hi), the first window still open after it)
        end, grace = windows[0].end, self.windows.grace
        high = -math.inf if self._max is None else self._max
        done, size, total = 0, 32, len(times)
        while done < total:  # in growing blocks: a run that stops early costs little
            block = times[done:done + size]
            highs = np.maximum.accumulate(block)
            np.maximum(highs, high, out=highs)
            fits = (block >= lo) & (block < hi) & (highs - grace < end)
            if not fits.all():
                k = int(fits.argmin())
                if k:
                    high = float(highs[k - 1])
                done += k
                break
            high = float(highs[-1])
            done += len(block)
            size *= 4
        if done and (self._max is None or high > self._max):
            self._max = high
            self._watermark = high - grace
        return done

    def pop_closed(self, watermark: float | None = None) -> list[tuple[str, Window]]:
        """Remove and return the windows closed at the watermark, in order of their end.

        ``watermark`` may be given to close windows of a quiet stream (for example the wall
        clock minus the grace); it never moves the clock's own watermark backwards.
        """
        mark = self.watermark if watermark is None else max(watermark, self.watermark)
        closed = [(key, w) for (key, _), w in self._open.items() if w.end <= mark]
        for key, w in closed:
            del self._open[(key, w.start)]
        if closed:
            self._recent.clear()  # a window popped early (a given watermark) may be cached
        return sorted(closed, key=_closing_order)

    def state(self) -> ClockState:
        """A snapshot of the clock to store (for example in a faust table)."""
        return ClockState(
            max_event_time=self._max,
            open=[_OpenWindow(key, w.start, w.end) for key, w in self.open_windows],
            late=dict(self._late),
        )


def _closing_order(item: tuple[str, Window]) -> tuple[float, float, str]:
    key, window = item
    return (window.end, window.start, key)
