"""Pooled windows: the counts of the last few windows tested together against the reference.

A shift too small for one window's rows can be plain in the rows of a few windows together.
A window's test sees only its rows, and the e-CUSUM (:mod:`monitor.drift.sequential`)
turns each window's p-value into an e-value, which keeps little of a p-value near 0.05.
Adding the windows' counts keeps all of it: at each judged window :class:`PooledEvidence`
adds its counts to those of the windows just before it (:data:`POOLED_SCALES`: 2, 4 and 6
windows in all) and tests each pooled column with the p-value the e-CUSUM takes
(:func:`~monitor.drift.sequential.window_p_value`: binned KS, rank sum and chi-square,
Bonferroni over the three, for a number and the score; chi-square for a category).

Level: a union bound. The pooled tests spend their share of the contract
(:attr:`~monitor.drift.judge.DriftConfig.pooled_budget`) split evenly over the scales; at
every look each scale's test of each column gets ``alpha = B / scales * look / 30 days /
tests`` (:func:`~monitor.drift.contract.per_test_alpha`), so the expected number of pooled
rejections over 30 days of stable traffic is at most their budget whatever the dependence
between overlapping pools, the windows and the shared reference: the same argument as the
window tests', and it needs only each look's p-value to be valid (the two-sample tests
count the reference's sampling noise). Pools are made of contiguous windows that do not
overlap: like the e-CUSUM, only windows that start at or after the end of the last window
fed are fed, a gap (a window with too few rows, or none) starts the pools again, and looks
are counted at the window's length.

How it decides. A column whose pooled p-value is at or under its scale's level is drifted
in that window, with method ``"pooled"`` (value: the p-value, threshold: the level) when the
window's own test and the e-CUSUM did not reject; every judgement of a pooled column carries
a ``pooled`` statistic for the scale with the strongest evidence (``log p / log alpha``
largest), and its ratio is at least that share while the pools hold the shift, so the
drift policy does not clear the finding meanwhile. Features decided by their own rule (a
policy file's method) are outside the contract and are not pooled.

The state is plain data per model version (:class:`PooledState`: the last windows' counts)
in any ``MutableMapping[str, bytes]`` (a faust table in the app).
"""

from __future__ import annotations

from collections.abc import MutableMapping

import msgspec

from driftline.events import FeatureStatistic
from monitor.drift.accumulator import WindowAccumulator, WindowState
from monitor.drift.contract import per_test_alpha
from monitor.drift.judge import DriftConfig, FeatureJudgement, WindowReport, p_ratio
from monitor.drift.sequential import window_p_value

__all__ = ["POOLED_METHOD", "POOLED_SCALES", "PooledEvidence", "PooledState", "pooled_alpha"]

POOLED_METHOD = "pooled"
POOLED_SCALES = (2, 4, 6)  # windows per pool, the newest window included


def pooled_alpha(config: DriftConfig, look: float, tests: int) -> float:
    """The level of each scale's pooled test of each of a window's ``tests`` columns, at a
    look every ``look`` seconds: the pooled budget split evenly over the scales.

    >>> round(pooled_alpha(DriftConfig(), 300.0, tests=8), 9)  # 5-minute windows, 8 tests
    6.03e-07
    """
    return per_test_alpha(config.pooled_budget / len(POOLED_SCALES), look, tests)


class PooledState(msgspec.Struct, kw_only=True):
    """The counts of one model version's last windows fed (oldest first, contiguous) and the
    end of the last one."""

    window_end: float | None = None
    recent: list[WindowState] = []


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PooledState)


class PooledEvidence:
    """Test each judged window's columns pooled with the windows before it.

    ``store`` holds one :class:`PooledState` per model version (default: a dict).
    """

    def __init__(self, store: MutableMapping[str, bytes] | None = None) -> None:
        self.store: MutableMapping[str, bytes] = {} if store is None else store

    def state(self, model_name: str, model_version: str) -> PooledState:
        """The recent windows of one model version."""
        data = self.store.get(f"{model_name}\t{model_version}")
        return PooledState() if data is None else _decoder.decode(data)

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
        recent = state.recent if state.window_end == report.window_start else []
        tests = len(report.features) + (report.score is not None)
        alpha = pooled_alpha(config, look, tests)
        pools = self._pools(window, recent, config)
        # (encoded at once: the stored counts do not follow later changes of the window's)
        state.recent = [*recent, window.state][-(max(POOLED_SCALES) - 1):]
        state.window_end = report.window_end
        self.store[key] = _encoder.encode(state)
        if not pools:
            return report
        features = [self._fold(j, [p.feature(j.feature) for p in pools], config, alpha)
                    for j in report.features]
        score = report.score
        if score is not None:
            score = self._fold(score, [p.score for p in pools], config, alpha)
        return report.rejudged(features, score)

    @staticmethod
    def _pools(window: WindowAccumulator, recent: list[WindowState],
               config: DriftConfig) -> list[WindowReport]:
        """The reports of the pools that fit, smallest first: one pool grows from the newest
        window back through ``recent`` and is judged at each of :data:`POOLED_SCALES`."""
        pool = WindowAccumulator(window.profile, window.window).merge(window)
        reports = []
        for size, older in enumerate(reversed(recent), start=2):
            pool.merge(WindowAccumulator.from_state(window.profile, older))
            if size in POOLED_SCALES:
                reports.append(pool.evaluate(config))
        return reports

    @staticmethod
    def _fold(j: FeatureJudgement, pooled: list[FeatureJudgement | None],
              config: DriftConfig, alpha: float) -> FeatureJudgement:
        if config.for_feature(j.feature) is not config:
            return j  # decided by its own rule, outside the contract
        best: float | None = None
        for other in pooled:
            p = None if other is None else window_p_value(other)
            if p is not None and (best is None or p < best):
                best = p
        if best is None:
            return j
        strength = p_ratio(best, alpha)
        rejected = best <= alpha
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
