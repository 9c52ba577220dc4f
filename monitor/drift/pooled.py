"""Pooled windows: the counts of the last few windows tested together against the reference.

A shift too small for one window's rows can be plain in the rows of a few windows together.
A window's test sees only its rows, and the e-CUSUM (:mod:`monitor.drift.sequential`)
turns each window's p-value into an e-value, which keeps little of a p-value near 0.05.
Adding the windows' counts keeps all of it: at each judged window :class:`PooledEvidence`
adds its counts to those of the windows just before it (:data:`POOLS`: 2, 4 and 6 windows
in all at every window, 12 at one window in 3 and 24 at one in 6) and tests each pooled
column with the p-value the e-CUSUM takes (:func:`~monitor.drift.sequential.window_p_value`:
binned KS, rank sum and chi-square, Bonferroni over the three, for a number and the score;
chi-square for a category). The long pools catch, within two hours of 5-minute windows, a
shift too small for six windows' rows that the e-CUSUM would take many hours to build up;
judging them at one window in 3 or 6 keeps their cost and their share of the budget small.

Level: a union bound. The pooled tests spend their share of the contract
(:attr:`~monitor.drift.judge.DriftConfig.pooled_budget`) evenly over their looks: a pool
judged at one window in ``every`` looks ``1 / every`` as often, so every look of every pool
gets ``alpha = B / sum(1 / every) * look / 30 days / tests``
(:func:`~monitor.drift.contract.per_test_alpha`; ``sum(1 / every)`` is 3.5), and the
expected number of pooled rejections over 30 days of stable traffic is at most their
budget whatever the dependence between overlapping pools, the windows and the shared
reference: the same argument as the window tests', and it needs only each look's p-value
to be valid (the two-sample tests count the reference's sampling noise). Which windows a
long pool is judged at is set by the window's place in time (its end over its length), so
a restarted publisher and a backtest judge the same ones. Pools are made of contiguous
windows that do not overlap: like the e-CUSUM, only windows that start at or after the end
of the last window fed are fed, a gap (a window with too few rows, or none) starts the
pools again, and looks are counted at the window's length.

How it decides. A column whose pooled p-value is at or under the level is drifted in that
window, with method ``"pooled"`` (value: the p-value, threshold: the level) when the
window's own test and the e-CUSUM did not reject; every judgement of a pooled column carries
a ``pooled`` statistic for the pool with the strongest evidence (the smallest p-value: every
pool has the same level), and its ratio is at least ``log p / log alpha`` while the pools
hold the shift, so the drift policy does not clear the finding meanwhile. Between two looks
of a long pool its last p-value counts towards that ratio (capped under 1: only a look
rejects), so a shift only the long pools see raises one event, not one at every look.
Features decided by their own rule (a policy file's method) are outside the contract and are
not pooled.

The state is plain data per model version (:class:`PooledState`, and the last 23 windows'
counts, a record each) in any ``MutableMapping[str, bytes]`` (a faust table in the app).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import NamedTuple

import msgspec

from driftline.events import FeatureStatistic
from monitor.drift.accumulator import WindowAccumulator, WindowState
from monitor.drift.contract import per_test_alpha
from monitor.drift.judge import (
    DriftConfig,
    FeatureJudgement,
    WindowReport,
    categorical_p_values,
    numeric_p_values,
    p_ratio,
)
from monitor.drift.sequential import combined_p_value

__all__ = [
    "POOLED_METHOD", "POOLS", "Pool", "PooledEvidence", "PooledState", "pooled_alpha", "pools_at",
]

POOLED_METHOD = "pooled"


class Pool(NamedTuple):
    """A pool of ``windows`` windows (the newest included), judged at one window in
    ``every``."""

    windows: int
    every: int


POOLS = (Pool(2, 1), Pool(4, 1), Pool(6, 1), Pool(12, 3), Pool(24, 6))
_LONGEST = max(pool.windows for pool in POOLS)
_EVERY_WINDOW = {pool.windows for pool in POOLS if pool.every == 1}
_SCORE = "\tscore"  # the score's key among the held p-values (no feature's name)


def pooled_alpha(config: DriftConfig, look: float, tests: int) -> float:
    """The level of every pooled test of each of a window's ``tests`` columns, windows
    looked at every ``look`` seconds: the pooled budget split evenly over the pools' looks.

    >>> round(pooled_alpha(DriftConfig(), 300.0, tests=8), 9)  # 5-minute windows, 8 tests
    5.17e-07
    """
    looks = sum(1 / pool.every for pool in POOLS)
    return per_test_alpha(config.pooled_budget / looks, look, tests)


def pools_at(window_end: float, length: float) -> list[Pool]:
    """The pools judged at the window of ``length`` seconds ending at ``window_end``: each at
    one window in ``pool.every``, by the window's place in time.

    >>> [p.windows for p in pools_at(3600.0, 300.0)], [p.windows for p in pools_at(3300.0, 300.0)]
    ([2, 4, 6, 12, 24], [2, 4, 6])
    """
    at = round(window_end / length)
    return [pool for pool in POOLS if pool.every == 1 or at % pool.every == 0]


def _p_values(pool: WindowAccumulator, config: DriftConfig) -> dict[str, float]:
    """A pool's p-value per column that the window's judgement has (every feature and the
    score not ignored; the score under :data:`_SCORE`): what
    :func:`~monitor.drift.sequential.window_p_value` takes from the judgement of the pool
    as one window, without judging the rest (effect sizes, verdicts)."""
    profile, state, ignored = pool.profile, pool.state, config.ignored
    found: dict[str, float | None] = {}
    for ref in profile.numeric:
        if ref.name not in ignored:
            found[ref.name] = combined_p_value(
                numeric_p_values(ref, state.numeric[ref.name].counts))
    for cref in profile.categorical:
        if cref.name not in ignored:
            found[cref.name] = combined_p_value(
                categorical_p_values(cref, state.categorical[cref.name].counts))
    judged_score = pool.judged_score(ignored)
    if judged_score is not None:
        ref, counts = judged_score
        found[_SCORE] = combined_p_value(numeric_p_values(ref, counts.counts))
    return {column: p for column, p in found.items() if p is not None}


class PooledState(msgspec.Struct, kw_only=True):
    """Where one model version's pooling stands: the end of the last window fed, how many
    windows fed are contiguous up to it (``kept``, the last one included, at most
    :data:`SLOTS`) and how many have been fed (``fed``; the window fed ``i``-th is kept in
    slot ``i % SLOTS``)."""

    window_end: float | None = None
    kept: int = 0
    fed: int = 0
    # per pool judged at one window in several (its size), each column's p-value at its
    # last look: between looks it holds the column's ratio, so that a shift only that pool
    # sees does not clear and raise again at every look
    held: dict[str, dict[str, float]] = {}


SLOTS = _LONGEST - 1  # windows kept: what the longest pool adds to the newest one
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PooledState)
_window_decoder = msgspec.json.Decoder(WindowState)


class PooledEvidence:
    """Test each judged window's columns pooled with the windows before it.

    ``store`` holds, per model version, its :class:`PooledState` under
    ``"<model>\\t<version>"`` and the counts of its last windows fed, one per key
    (``"<model>\\t<version>\\t<slot>"``), so that no record grows with the pools: a
    window's counts are written once (default: a dict).
    """

    def __init__(self, store: MutableMapping[str, bytes] | None = None) -> None:
        self.store: MutableMapping[str, bytes] = {} if store is None else store

    def state(self, model_name: str, model_version: str) -> PooledState:
        """Where one model version's pooling stands."""
        data = self.store.get(f"{model_name}\t{model_version}")
        return PooledState() if data is None else _decoder.decode(data)

    def recent(self, model_name: str, model_version: str,
               count: int | None = None) -> list[WindowState]:
        """The counts of the last ``count`` (default: all kept) contiguous windows fed of
        one model version, oldest first."""
        state = self.state(model_name, model_version)
        return self._recent(f"{model_name}\t{model_version}", state,
                            state.kept if count is None else min(count, state.kept))

    def forget(self, model_name: str, model_version: str) -> None:
        """Delete one model version's records (a version that left service: its windows'
        counts would otherwise stay in the table for good). If it serves again, its pools
        start again, as after any gap."""
        key = f"{model_name}\t{model_version}"
        for name in (key, *(f"{key}\t{slot}" for slot in range(SLOTS))):
            self.store.pop(name, None)

    def _recent(self, key: str, state: PooledState, count: int) -> list[WindowState]:
        return [_window_decoder.decode(self.store[f"{key}\t{i % SLOTS}"])
                for i in range(state.fed - count, state.fed)]

    def observe(self, report: WindowReport, window: WindowAccumulator,
                config: DriftConfig) -> WindowReport:
        """``report`` (``window``'s judgement) with the pooled tests folded in (windows in
        order of their end). Unjudged windows, windows overlapping the last one fed, and a
        config without a pooled budget leave the report and the state as they are."""
        if not report.judged or config.pooled_budget <= 0.0:
            return report
        key = f"{report.model_name}\t{report.model_version}"
        state = self.state(report.model_name, report.model_version)
        if state.window_end is not None and report.window_start < state.window_end:
            return report
        length = report.window_end - report.window_start
        if length <= 0:
            return report
        look = max(config.look_every or length, length)
        kept = state.kept if state.window_end == report.window_start else 0
        tests = len(report.features) + (report.score is not None)
        alpha = pooled_alpha(config, look, tests)
        sizes = [pool.windows for pool in pools_at(report.window_end, length)
                 if pool.windows <= kept + 1]
        pools = self._pools(window, self._recent(key, state, sizes[-1] - 1 if sizes else 0),
                            sizes, config)
        held = dict(state.held) if kept else {}
        for size, pool in zip(sizes, pools, strict=True):
            if size not in _EVERY_WINDOW:
                held[str(size)] = pool
        # (encoded at once: the stored counts do not follow later changes of the window's)
        self.store[f"{key}\t{state.fed % SLOTS}"] = _encoder.encode(window.state)
        self.store[key] = _encoder.encode(PooledState(
            window_end=report.window_end, kept=min(kept + 1, SLOTS), fed=state.fed + 1,
            held=held))
        if not pools:
            return report

        def carried(column: str) -> float | None:
            return min((ps[column] for ps in held.values() if column in ps), default=None)

        features = [self._fold(j, [p.get(j.feature) for p in pools], config, alpha,
                               carried(j.feature))
                    for j in report.features]
        score = report.score
        if score is not None:
            score = self._fold(score, [p.get(_SCORE) for p in pools], config, alpha,
                               carried(_SCORE))
        return report.rejudged(features, score)

    @staticmethod
    def _pools(window: WindowAccumulator, recent: list[WindowState], sizes: list[int],
               config: DriftConfig) -> list[dict[str, float]]:
        """The p-values (:func:`_p_values`) of the pools of ``sizes`` windows (ascending;
        the largest is the window and all of ``recent``): one pool grows from the newest
        window back through ``recent`` and is tested at each size."""
        if not sizes:
            return []
        pool = WindowAccumulator(window.profile, window.window).merge(window)
        tested: list[dict[str, float]] = []
        for size, older in enumerate(reversed(recent), start=2):
            pool.merge(WindowAccumulator.from_state(window.profile, older))
            if size in sizes:
                tested.append(_p_values(pool, config))
        return tested

    @staticmethod
    def _fold(j: FeatureJudgement, pooled: list[float | None],
              config: DriftConfig, alpha: float, carried: float | None) -> FeatureJudgement:
        if config.for_feature(j.feature) is not config:
            return j  # decided by its own rule, outside the contract
        best = min((p for p in pooled if p is not None), default=None)
        if best is None:
            return j
        rejected = best <= alpha
        # a long pool's last look holds the ratio until its next one (never a rejection)
        strength = p_ratio(best if carried is None else min(best, carried), alpha)
        stat = FeatureStatistic(feature=j.feature, statistic=POOLED_METHOD, value=best,
                                threshold=alpha, drifted=rejected,
                                feature_type=j.feature_type)  # type: ignore[arg-type]
        if rejected and not j.drifted:
            return msgspec.structs.replace(
                j, method=POOLED_METHOD, value=best, threshold=alpha,
                ratio=max(1.0, strength), drifted=True, statistics=[stat, *j.statistics],
            )
        return msgspec.structs.replace(j, ratio=max(j.ratio, min(strength, 0.999)),
                                       statistics=[*j.statistics, stat])
