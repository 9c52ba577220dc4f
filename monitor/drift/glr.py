"""A one-sided Bernoulli GLR change-point scan on a 0/1 stream, checked at every event.

:class:`BernoulliGlr` watches a 0/1 stream (a model's errors) for an *increase* of its rate.
After ``t`` events since its last reset, a cut at ``tau`` splits them into an older part
(``n0`` events, ``k0`` ones, rate ``p0 = k0 / n0``) and a newer part (``n1``, ``k1``,
``p1``). The log generalized likelihood ratio of "the rate changed at the cut" against "one
rate throughout" is

    G(tau, t) = n0 * KL(p0 || p) + n1 * KL(p1 || p),   p = (k0 + k1) / (n0 + n1),

with KL the Bernoulli Kullback-Leibler divergence (Siegmund & Venkatraman 1995 for the
GLR scan; Lorden 1971 for why its delay is near the least possible at a given false-alarm
rate). The detector alarms at the first event where ``G`` reaches the threshold of its cut at
a cut with ``p1 > p0`` (decreases never alarm). The threshold of a cut is ``threshold -
discount * floor(log2(n1))``, never below ``floor``: with ``discount = ln 2`` a newer part
twice as long needs ``ln 2`` less (see :mod:`monitor.drift.concept` for why).

Cuts (O(log t) of them, like ADWIN's bucket boundaries, Bifet & Gavaldà 2007): the last
``cuts`` positions of the stream (every event), and for each level ``j >= 1`` the last
``cuts`` multiples of ``2**j``, of which the newest ``cuts // 2`` are already multiples of
``2**(j-1)`` at the level below; so a newer part of any length ``L`` has a cut within about
``2 * L / cuts`` of its start. Every event is checked; a batch is checked at once with
numpy, with the same result as one event at a time.

After an alarm the older part is dropped: the newer part of the best cut becomes the base
the next events are compared with (its count and ones, no cuts inside it), as ADWIN drops
its old buckets.

The state (:class:`GlrState`) is plain data: the counts and the running sum of ones at the
positions future cuts can use.

>>> import math
>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> errors = np.r_[rng.random(20_000) < 0.2, rng.random(2_000) < 0.5]
>>> glr = BernoulliGlr(threshold=26.0, discount=math.log(2))
>>> alarms = glr.update_many(errors)
>>> [a.index >= 20_000 and a.index < 20_200 for a in alarms]
[True]
>>> round(alarms[0].rate_before, 2), alarms[0].rate > 0.4
(0.2, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import msgspec
import numpy as np

__all__ = ["Alarm", "BernoulliGlr", "GlrState", "cut_count", "glr_statistic", "normal_threshold"]

_CHUNK = 4096  # events checked per numpy pass
_FEW = 128  # fewer events than this are bounded at every low cut directly
_SHORT = 512  # events per pass where more ones come than the rate so far expects
_BLOCK_BITS = 5  # cuts of level 2**5 and up are bounded per block of 32 events first
_MARGIN = 1e-3  # below the threshold: the bound's slack for rounding in G's logarithms
_BLOCK = 1 << _BLOCK_BITS
_ARANGE = np.arange(_CHUNK, dtype=np.int64)
_ZERO = np.zeros(1, dtype=np.int64)


class GlrState(msgspec.Struct, kw_only=True):
    """A :class:`BernoulliGlr`'s state: events since the reset ``t``, the base kept from the
    last alarm (``base_n`` events, ``base_k`` ones), and the running sum of ones at the
    positions future cuts can use (``positions`` ascending, ``sums`` alike; the last is
    ``t``)."""

    t: int = 0
    base_n: int = 0
    base_k: int = 0
    positions: list[int] = msgspec.field(default_factory=lambda: [0])
    sums: list[int] = msgspec.field(default_factory=lambda: [0])


class Alarm(NamedTuple):
    """An alarm: the index of the event in what was fed, the statistic, and the rate of the
    newer part and of the older part of the best cut."""

    index: int
    statistic: float
    rate: float
    rate_before: float


def _xlogx(x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    np.log(x, out=out, where=x > 0)
    return x * out


def _loglik(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The maximized Bernoulli log-likelihood of ``k`` ones in ``n`` events."""
    return _xlogx(k) + _xlogx(n - k) - _xlogx(n)


def glr_statistic(n0: float, k0: float, n1: float, k1: float) -> float:
    """``G`` of a cut: ``n0 KL(p0||p) + n1 KL(p1||p)``, the pooled ``p``.

    >>> round(glr_statistic(1000, 200, 100, 50), 3)
    19.839
    >>> round(glr_statistic(1000, 200, 100, 20), 9)  # the same rate on both sides
    0.0
    """
    a = np.asarray([n0, n1, n0 + n1], dtype=float)
    b = np.asarray([k0, k1, k0 + k1], dtype=float)
    ll = _loglik(a, b)
    return max(float(ll[0] + ll[1] - ll[2]), 0.0)


# The normal tail's level is the Chernoff bound's divided by this: what the scan's repeated
# looks at each cut cost (see normal_threshold)
NORMAL_LEVEL_DIVISOR = 4.0


def normal_threshold(chernoff: np.ndarray | float) -> np.ndarray:
    """The threshold ``c`` of ``G`` whose normal tail is a quarter of the Chernoff bound's
    level at ``chernoff`` (:data:`NORMAL_LEVEL_DIVISOR`):
    ``exp(-c) / (2 sqrt(pi c)) = exp(-chernoff) / 4``.

    Where the newer part is long enough for the normal approximation, ``sqrt(2 G)`` (the
    signed root of the likelihood ratio) is close to a standard normal under no change, so
    one look's ``P(G >= c) = P(Z >= sqrt(2 c))``, about ``exp(-c) / (2 sqrt(pi c))``
    one-sided: the Chernoff bound ``exp(-c)`` overstates it ``2 sqrt(pi c)`` times (about 12
    times at ``c = 12``). But the scan looks at each cut at every event of its scale, and the
    largest of those looks crosses a threshold more often than one look does (Siegmund and
    Venkatraman 1995); the bound's slack covers that, the normal tail alone does not. On
    stable Bernoulli error streams of 30 days at two labels a second, at the default
    contract, the normal tail at the bound's own level raised about twice the concept
    budget and at half of it still more than the budget at two of three error rates, so it
    takes a quarter
    (``docs/monitoring-internals.md``, "The GLR scan").

    >>> [round(float(c), 2) for c in normal_threshold(np.array([14.39, 20.63]))]
    [13.22, 19.27]
    """
    target = np.asarray(chernoff, dtype=float) + np.log(NORMAL_LEVEL_DIVISOR)
    c = target
    for _ in range(4):  # fixed point of c = target - ln(2 sqrt(pi c)); converges in a few
        c = target - np.log(2.0 * np.sqrt(np.pi * np.maximum(c, 1.0)))
    return c


def cut_count(t: int, cuts: int) -> int:
    """How many cuts an event ``t`` events after the reset is checked at (at most): ``cuts``
    at level 0 and ``cuts // 2`` at each level ``j >= 1`` with ``2**j <= t``.

    >>> cut_count(1, 8), cut_count(2_592_000, 8)
    (8, 92)
    """
    levels = max(int(t).bit_length() - 1, 0)
    return cuts + (cuts // 2) * levels


_COLUMNS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _columns(cuts: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cut column: its level ``j`` and how many multiples of ``2**j`` back it is."""
    key = (cuts, levels)
    found = _COLUMNS.get(key)
    if found is None:
        shift = np.r_[np.zeros(cuts, dtype=np.int64),
                      np.repeat(np.arange(1, levels + 1, dtype=np.int64), cuts // 2)]
        back = np.r_[np.arange(cuts, dtype=np.int64),
                     np.tile(np.arange(cuts // 2, cuts, dtype=np.int64), levels)]
        found = _COLUMNS[key] = (shift, back)
    return found


def _candidates(t: np.ndarray, cuts: int, levels: int) -> np.ndarray:
    """Cut positions of each event ``t`` (rows), ``-1`` where there is none: the last
    ``cuts`` positions, and per level ``j`` from 1 to ``levels`` the multiples of ``2**j``
    from ``cuts // 2`` to ``cuts - 1`` multiples back.

    >>> _candidates(np.array([13]), 4, 2).tolist()
    [[13, 12, 11, 10, 8, 6, 4, 0]]
    """
    shift, back = _columns(cuts, levels)
    tau = ((t[:, None] >> shift) - back) << shift
    tau[tau < 0] = -1
    return tau


def _kept(t: int, cuts: int) -> np.ndarray:
    """Every position a cut of an event after ``t`` can fall on and that is not after
    ``t`` (``t`` itself included), ascending."""
    levels = max(int(t).bit_length() - 1, 0)
    tau = _candidates(np.asarray([t], dtype=np.int64), cuts, levels)[0]
    return np.unique(np.r_[tau[tau >= 0], t])


def _level(n: int) -> int:
    """``floor(log2(n))`` of a count ``n >= 1``."""
    return n.bit_length() - 1


def _span(cuts: int, level: int) -> tuple[int, int]:
    """The least and the most events ``(m, M)`` in the newer part of a cut of ``level`` that
    can alarm: ``1`` to ``cuts - 1`` at level 0 (a cut at the event itself leaves none),
    ``cuts / 2`` to ``cuts`` multiples of ``2**level`` (less one event) above.

    >>> _span(8, 0), _span(8, 1), _span(8, 3)
    ((1, 7), (8, 15), (32, 63))
    """
    if level == 0:
        return 1, cuts - 1
    return (cuts // 2) << level, (cuts << level) - 1


_CRITICAL: dict[tuple[int, int, float], np.ndarray] = {}


def _critical(m: int, most: int, least: float) -> np.ndarray:
    """Per count ``K`` of ones (``0`` to ``most``), at least the largest older rate ``p0``
    at which ``n KL(K / n || p0)`` (``n = max(m, K)``) reaches ``least``; ``-1`` where no
    rate does (``K = 0``). The bound falls as ``p0`` rises to ``K / n``, so the root is
    found by bisection; it is taken a little high (a lower target, the upper end, a
    relative pad), which only keeps more cells.

    >>> import math
    >>> table = _critical(1, 7, 10.0)
    >>> float(table[0]), bool(table[7] > math.exp(-10.0 / 7) > table[6])
    (-1.0, True)
    """
    key = (m, most, least)
    found = _CRITICAL.get(key)
    if found is None:
        k = np.arange(most + 1, dtype=float)
        n = np.maximum(k, float(m))
        lo, hi = np.zeros_like(k), k / n
        target = least - 1e-6
        for _ in range(100):  # (hi stays above the root, whatever its precision)
            mid = 0.5 * (lo + hi)
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = k * np.log(k / (n * mid)) + np.where(
                    n > k, (n - k) * np.log((n - k) / (n * (1.0 - mid))), 0.0)
            reach = bound >= target
            lo, hi = np.where(reach, mid, lo), np.where(reach, hi, mid)
        found = _CRITICAL[key] = np.where(k > 0, hi * (1.0 + 1e-9), -1.0)
    return found


class BernoulliGlr:
    """The one-sided GLR scan; see the module docstring.

    Parameters
    ----------
    threshold
        ``G`` at which a newer part of one event alarms (nats).
    discount
        How much less ``G`` a newer part needs per doubling of its length.
    floor
        The least threshold of any cut.
    normal_from
        With a number, cuts whose newer part holds at least that many events' worth of
        variance (``n1 p (1 - p)``, ``p`` the pooled rate) take the threshold of the normal
        tail of ``G`` instead of its Chernoff bound (:func:`normal_threshold`); None: the
        Chernoff bound everywhere.
    cuts
        Cuts per level (even, at least 2): more cuts, a closer cut to any change, more work.
    """

    def __init__(self, threshold: float, cuts: int = 8, discount: float = 0.0,
                 floor: float = 1.0, normal_from: float | None = None) -> None:
        if cuts < 2 or cuts % 2:
            raise ValueError("cuts must be an even number >= 2")
        if not threshold > 0:
            raise ValueError("threshold must be > 0")
        if discount < 0 or not 0 < floor <= threshold:
            raise ValueError("discount must be >= 0 and floor in (0, threshold]")
        if normal_from is not None and not normal_from > 0:
            raise ValueError("normal_from must be > 0 or None")
        self.threshold = threshold
        self.discount = discount
        self.floor = floor
        self.normal_from = normal_from
        self.cuts = cuts
        self._state = GlrState()
        self._lowest_of: dict[tuple[int, bool], float] = {}  # see _lowest
        self._low_of: dict[int, list[tuple]] = {}  # see _low_plan

    def state(self) -> GlrState:
        """Its state, as plain data (a copy)."""
        s = self._state
        return GlrState(t=s.t, base_n=s.base_n, base_k=s.base_k,
                        positions=list(s.positions), sums=list(s.sums))

    def restore(self, state: GlrState) -> None:
        """Go on from ``state``."""
        self._state = GlrState(t=state.t, base_n=state.base_n, base_k=state.base_k,
                               positions=list(state.positions), sums=list(state.sums))

    @property
    def events(self) -> int:
        """Events since the last reset, the base included."""
        return self._state.t + self._state.base_n

    @property
    def rate(self) -> float:
        """The rate of ones since the last reset, the base included (0 before any event)."""
        s = self._state
        n = s.t + s.base_n
        return (s.sums[-1] + s.base_k) / n if n else 0.0

    def update_many(self, ones: Sequence[int] | np.ndarray, armed_from: int = 0) -> list[Alarm]:
        """Feed 0/1 events in order; an :class:`Alarm` for each event at which it alarms.
        Events before index ``armed_from`` are counted but never alarm (a warm-up)."""
        x = np.asarray(ones, dtype=np.int64).ravel()
        out: list[Alarm] = []
        start = 0
        while start < len(x):
            stop = min(start + _CHUNK, len(x))
            if stop - start > _SHORT and self._rising(x[start:stop]):
                stop = start + _SHORT
            found = self._scan(x[start:stop], max(armed_from - start, 0))
            if found is None:
                start = stop
                continue
            at, alarm = found
            out.append(alarm._replace(index=start + at))
            start += at + 1
        return out

    def _rising(self, x: np.ndarray) -> bool:
        """Whether ``x`` holds clearly more ones than the rate so far leads to expect (by
        three standard deviations): a change may be under way, and an alarm early in ``x``
        would leave the rest of a long chunk checked for nothing."""
        n, p = len(x), self.rate
        return float(x.sum()) - n * p > 3.0 * math.sqrt(n * p * (1.0 - p)) + 1.0

    def _scan(self, x: np.ndarray, armed_from: int) -> tuple[int, Alarm] | None:
        """Check ``x`` (one chunk); on the first alarm, reset and return its position and the
        alarm, with the state just after that event.

        ``G`` is computed exactly only where a cheap bound lets it reach the threshold:
        ``G <= n1 KL(p1 || p0) <= n1 (p1 - p0)**2 / (p0 (1 - p0))`` (the pooled rate
        minimizes the two parts' divergence, and KL is at most the chi-square divergence);
        elsewhere it is below the threshold, so the answer is the same. At the cuts of the
        lowest levels it is taken per event, where a coarser bound per event and level lets
        the level's cells reach the least threshold of their newer parts' lengths
        (:meth:`_add_low`); a cut of level ``2**j >= _BLOCK`` is the same for every event of
        an aligned block of ``_BLOCK`` events, so it is first bounded once per block (the
        block's most ones over its fewest events), and per event only in the blocks where
        that bound reaches the threshold."""
        s = self._state
        t0, b = s.t, len(x)
        cum = np.empty(b + 1, dtype=np.int64)
        cum[0] = s.sums[-1]
        np.cumsum(x, out=cum[1:])
        cum[1:] += s.sums[-1]
        t = t0 + np.arange(1, b + 1, dtype=np.int64)
        levels = max(int(t0 + b).bit_length() - 1, 0)  # (a newer part is at most t0 + b)
        shift, back = _columns(self.cuts, levels)
        positions = np.asarray(s.positions, dtype=np.int64)
        sums = np.asarray(s.sums, dtype=np.int64)
        lowest = self._lowest(levels)
        found = _Cells(self, t0, cum, positions, sums)
        self._add_low(found, t, cum, min(levels, _BLOCK_BITS - 1), armed_from)
        cols = np.flatnonzero(shift >= _BLOCK_BITS)  # per block first
        if len(cols):
            first = (-(t0 + 1)) % _BLOCK or _BLOCK  # the second block's first event
            first = np.concatenate((_ZERO, np.arange(first, b, _BLOCK)))
            last = np.append(first[1:], b)  # (one past each block's last event)
            q = t[first] >> _BLOCK_BITS
            level = shift[cols] - _BLOCK_BITS
            tau = ((q[:, None] >> level) - back[cols]) << shift[cols]
            n0, k0 = found.older(tau)
            n1 = (t[first][:, None] - tau).astype(float)  # the fewest newer events
            k1 = (cum[last] + s.base_k).astype(float)[:, None] - k0  # the most ones
            d = k1 * n0 - k0 * n1
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = d * d / (n1 * k0 * (n0 - k0))
            blocks, which = np.nonzero((tau >= 0) & (d > 0) & (bound * (1 + 1e-9) >= lowest))
            if len(blocks):
                sizes = last[blocks] - first[blocks]
                rows = np.repeat(first[blocks] - (np.cumsum(sizes) - sizes), sizes)
                rows += np.arange(len(rows))
                found.add(rows, np.repeat(cols[which], sizes),
                          np.repeat(tau[blocks, which], sizes), armed_from, lowest)
        alarm = found.alarm(t)
        if alarm is not None:
            return alarm
        self._advance(int(t0 + b), cum, t0, positions, sums)
        return None

    def _add_low(self, found: _Cells, t: np.ndarray, cum: np.ndarray, top: int,
                 armed_from: int) -> None:
        """Add the cells of levels ``0`` to ``top`` (per event) whose newer part may hold
        enough ones to alarm.

        The cuts of level ``j`` of an event ``t`` leave ``n1`` in ``[m, M]`` (:func:`_span`),
        so their newer part lies in the last ``M`` events, holds at most the ``K`` ones of
        those, and their older part has at least the ones before ``t - M`` (``k0``) in at
        most ``t - m`` events (``n0``): ``G <= n1 KL(p1 || p0)`` is then at most ``n
        KL(K / n || k0 / n0)`` with ``n = max(m, K)`` (it grows with ``k1``, shrinks with
        ``n1`` and with ``p0`` where ``p1 > p0``). :func:`_critical` turns that into a
        table per ``K``: the largest ``k0 / n0`` at which it may reach the least threshold
        of the level. An event's cells of the level are bounded one by one (:meth:`_Cells.
        add`) only where ``k0 / n0`` is at most that, and at the first ``M - 1`` events of
        the chunk, whose ``t - M`` lies before it."""
        s, b = self._state, len(t)
        plan = self._low_plan(top)
        lowest = min(p[-1] for p in plan)
        if b < _FEW:  # the table's savings would not pay for its steps
            shift, back = _columns(self.cuts, top)
            tau = ((t[:, None] >> shift) - back) << shift
            found.add(np.repeat(_ARANGE[:b], len(shift)), np.tile(np.arange(len(shift)), b),
                      tau.ravel(), armed_from, lowest)
            return
        rows, cols, taus = [], [], []
        for j, m, most, mine, back, table, _ in plan:
            if b >= most:
                before = cum[:b + 1 - most]  # ones up to t - M
                n0 = t[most - 1:] + (s.base_n - m)
                may = np.flatnonzero(before + s.base_k <= table[cum[most:] - before] * n0)
                at = np.concatenate((_ARANGE[:most - 1], may + (most - 1)))
            else:
                at = _ARANGE[:b]
            if len(at):
                rows.append(np.repeat(at, len(mine)))
                cols.append(np.tile(mine, len(at)))
                taus.append((((t[at, None] >> j) - back) << j).ravel())
        if rows:
            found.add(np.concatenate(rows), np.concatenate(cols), np.concatenate(taus),
                      armed_from, lowest)

    def _low_plan(self, top: int) -> list[tuple]:
        """Per level ``j`` from 0 to ``top``: ``j``, its span ``(m, M)``, its cut columns and
        how far back each is, its table (:func:`_critical`) and the least threshold of a
        newer part of at most ``M`` events it is taken at."""
        found = self._low_of.get(top)
        if found is None:
            shift, back = _columns(self.cuts, top)
            found = []
            for j in range(top + 1):
                m, most = _span(self.cuts, j)
                normal = (self.normal_from is not None
                          and most >= 4 * self.normal_from * (1 - 1e-9))
                lowest = self._lowest(_level(most), normal=normal)
                mine = np.flatnonzero(shift == j)
                found.append((j, m, most, mine, back[mine], _critical(m, most, lowest),
                              lowest))
            self._low_of[top] = found
        return found

    def _lowest(self, levels: int, normal: bool = True) -> float:
        """Less than the threshold of any cut whose newer part is shorter than
        ``2 ** (levels + 1)`` events, by the bound's margin (and a little more for rounding);
        ``normal=False``: of such cuts when none of them can take the normal tail."""
        key = (levels, normal)
        found = self._lowest_of.get(key)
        if found is None:
            needed = self.threshold - self.discount * np.arange(levels + 1, dtype=float)
            least = float(np.maximum(needed, self.floor).min())
            if normal and self.normal_from is not None:
                least = min(least, float(np.maximum(normal_threshold(needed), self.floor).min()))
            found = self._lowest_of[key] = least - _MARGIN - 1e-9
        return found

    def _advance(self, t1: int, cum: np.ndarray, t0: int, positions: np.ndarray,
                 sums: np.ndarray) -> None:
        keep = _kept(t1, self.cuts)
        old = keep < t0
        idx = np.clip(np.searchsorted(positions, keep), 0, len(positions) - 1)
        values = np.where(old, sums[idx], cum[np.clip(keep - t0, 0, len(cum) - 1)])
        s = self._state
        self._state = GlrState(t=t1, base_n=s.base_n, base_k=s.base_k,
                               positions=keep.tolist(), sums=values.tolist())


class _Cells:
    """The (event, cut) cells of one chunk whose bound reaches the least threshold, and the
    first alarm among them (see :meth:`BernoulliGlr._scan`)."""

    def __init__(self, glr: BernoulliGlr, t0: int, cum: np.ndarray, positions: np.ndarray,
                 sums: np.ndarray) -> None:
        self.glr, self.t0, self.cum = glr, t0, cum
        self.positions, self.sums = positions, sums
        self.parts: list[tuple[np.ndarray, ...]] = []

    def older(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Events and ones before each cut (base included), as floats (exact below 2**53)."""
        s, t0, positions = self.glr._state, self.t0, self.positions
        idx = np.minimum(np.searchsorted(positions, tau), len(positions) - 1)
        s_tau = np.where(tau < t0, self.sums[idx], self.cum[np.maximum(tau - t0, 0)])
        n0 = tau.astype(float)
        n0 += s.base_n
        k0 = s_tau.astype(float)
        k0 += s.base_k
        return n0, k0

    def add(self, rows: np.ndarray, cols: np.ndarray, tau: np.ndarray, armed_from: int,
            lowest: float) -> None:
        """Bound the cells (``rows``: event index in the chunk, ``cols``: cut column, ``tau``:
        the cut) and keep those that may alarm."""
        s = self.glr._state
        n0, k0 = self.older(tau)
        n1 = (rows + (self.t0 + 1)).astype(float) - tau.astype(float)
        k1 = self.cum[rows + 1].astype(float) - k0 + s.base_k
        d = k1 * n0 - k0 * n1  # > 0: the newer part errs more often (n0, n1 > 0 then)
        with np.errstate(divide="ignore", invalid="ignore"):
            bound = d * d / (n1 * k0 * (n0 - k0))  # inf when p0 is 0 or 1
        keep = (tau >= 0) & (d > 0) & (bound >= lowest)
        if armed_from:
            keep &= rows >= armed_from
        if keep.any():
            self.parts.append((rows[keep], cols[keep], n0[keep], k0[keep], n1[keep], k1[keep],
                               bound[keep]))

    def alarm(self, t: np.ndarray) -> tuple[int, Alarm] | None:
        """The first event at which some kept cell reaches its own threshold (its best cut),
        the detector reset after it; None when none does."""
        if not self.parts:
            return None
        rows, cols, n0, k0, n1, k1, bound = (np.concatenate(a) for a in zip(*self.parts,
                                                                            strict=True))
        glr = self.glr
        level = np.frexp(np.maximum(n1, 1.0))[1] - 1  # floor(log2(n1))
        needed = glr.threshold - glr.discount * level
        if glr.normal_from is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                pooled = (k0 + k1) / (n0 + n1)
            normal = n1 * pooled * (1.0 - pooled) >= glr.normal_from
            needed = np.where(normal, normal_threshold(needed), needed)
        needed = np.maximum(needed, glr.floor)
        near = bound >= needed - _MARGIN
        if not near.any():
            return None
        rows, cols = rows[near], cols[near]
        a0, b0, a1, b1 = n0[near], k0[near], n1[near], k1[near]
        g = _loglik(a0, b0) + _loglik(a1, b1) - _loglik(a0 + a1, b0 + b1)
        excess = g - needed[near]
        over = excess >= 0
        if not over.any():
            return None
        i = int(rows[over].min())
        mine = np.flatnonzero(rows == i)  # its cells; the best, the first column of ties
        best = mine[excess[mine] == excess[mine].max()]
        c = int(best[np.argmin(cols[best])])
        alarm = Alarm(i, float(g[c]), float(b1[c] / a1[c]), float(b0[c] / a0[c]))
        glr._state = GlrState(base_n=int(a1[c]), base_k=int(b1[c]))
        return i, alarm
