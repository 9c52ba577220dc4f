"""From findings to DriftEvents: hysteresis and cooldown, so one shift gives one event per kind.

The policy keeps, per (model name, version, kind), whether a finding is *active*, when it was
last raised, and per signal (feature, score, metric) how many consecutive windows it has been
past its threshold. Kinds: ``covariate`` (input features), ``prediction`` (the score),
``dataset`` (share of drifted features), ``performance`` (metrics against a baseline) and
``concept`` (detectors on the labeled stream).

Raise
    A signal *fires* when it has been drifted (ratio >= 1) for ``raise_after`` consecutive
    judged windows, or at once when its severity reaches ``immediate`` (default ``"high"``:
    a drifted signal whose effect size is four times past its threshold; see
    :meth:`monitor.drift.judge.FeatureJudgement.level`), or at once when its evidence over
    windows rejected (method ``"pooled"``, :mod:`monitor.drift.pooled`, or ``"e_cusum"``,
    :mod:`monitor.drift.sequential`: it has gathered its evidence over windows already).
    When a signal fires, the kind is not active, and the last event of this kind is at
    least ``cooldown`` seconds of event time old, one DriftEvent is raised and the kind
    becomes active.
Stay quiet
    While the kind is active no further event of that kind is raised, however many windows
    stay drifted or however many other features join: one shift, one event.
Clear
    The kind clears when every signal is below ``clear_ratio`` times its threshold (for
    p-values: ``p > alpha ** clear_ratio``, 0.22 for 0.05) for ``clear_after`` consecutive
    windows. Between the lower and the upper threshold nothing changes, so a statistic
    hovering around its threshold does not flap.
Concept
    Detector alarms have no window statistic to clear on; a concept event is raised when a
    detector fires and the last concept event is at least ``cooldown`` seconds old.

Importance
    When the model version's profile carries feature importance (:mod:`monitor.drift.
    attribution`), a covariate finding's severity, for raising at once and for the event, is
    each feature's severity capped by its importance tier, and a dataset finding's is capped
    by the tier of the drifted features' summed importance: drift only on features the model
    ignores is ``low`` and waits ``raise_after`` windows like any low finding. Covariate and
    dataset events name their ``drivers``. Prediction, performance and concept findings are
    not weighed by importance.

Windows that were not judged (too few rows) change nothing. A new model version starts with a
clean state: it is judged against its own reference. Events are deterministic: their id is a
hash of (model, version, kind, window end), so replaying a stream gives the same ids.

The state is a msgspec Struct per key in ``store`` (any ``MutableMapping[str, bytes]``, a faust
table in the app), so it survives restarts with the table's changelog.

>>> from driftline.events import FeatureStatistic
>>> from monitor.drift.judge import FeatureJudgement
>>> def j(ratio):
...     s = FeatureStatistic(feature="x", statistic="psi", value=0.2 * ratio, threshold=0.2,
...                          drifted=ratio >= 1)
...     return FeatureJudgement(feature="x", feature_type="numeric", method="psi",
...         value=0.2 * ratio, threshold=0.2, ratio=ratio, drifted=ratio >= 1, rows=5000,
...         statistics=[s])
>>> policy = DriftPolicy(raise_after=2, clear_after=2, cooldown=0)
>>> ratios = [0.3, 1.5, 1.6, 1.8, 0.8, 0.4, 0.3, 1.2, 1.3]
>>> for i, r in enumerate(ratios):
...     e = policy.observe("covariate", "m", "1", 60.0 * i, 60.0 * (i + 1), [j(r)])
...     print(i, r, e and (e.severity, e.window_end))
0 0.3 None
1 1.5 None
2 1.6 ('low', 180.0)
3 1.8 None
4 0.8 None
5 0.4 None
6 0.3 None
7 1.2 None
8 1.3 ('low', 540.0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence

import msgspec

from driftline.events import (
    DriftEvent,
    DriftKind,
    Driver,
    FeatureStatistic,
    OffsetRange,
    Severity,
)
from monitor.drift.attribution import (
    IMPORTANCE_TIERS,
    capped,
    drivers,
    highest,
    importance_cap,
    share_of,
    weighted_level,
)
from monitor.drift.judge import FeatureJudgement, WindowReport
from monitor.drift.pooled import POOLED_METHOD
from monitor.drift.sequential import SEQUENTIAL_METHOD

__all__ = ["DriftPolicy", "KindState"]

_RANK: dict[str | None, int] = {None: 0, "low": 1, "medium": 2, "high": 3}
# methods whose evidence spans windows already: they fire without raise_after
_OVER_WINDOWS = (POOLED_METHOD, SEQUENTIAL_METHOD)


class KindState(msgspec.Struct, kw_only=True):
    """Hysteresis state of one (model, version, kind)."""

    active: bool = False
    last_raised: float | None = None
    streaks: dict[str, int] = {}
    calm_windows: int = 0
    suppressed: int = 0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(KindState)


class DriftPolicy:
    """Turn window judgements and detector alarms into few, clear DriftEvents.

    Parameters
    ----------
    raise_after
        Consecutive drifted windows before a signal fires.
    clear_after
        Consecutive calm windows (every signal below ``clear_ratio``) before a kind clears.
    clear_ratio
        The lower threshold, as a fraction of the upper one (in ratio units).
    cooldown
        Seconds of event time after an event during which no new event of the same kind is
        raised for the same model version, even if the finding cleared and came back.
    immediate
        Severity at which a signal fires in its first drifted window (None: never at once).
    importance_tiers
        The importance shares below which a covariate or dataset finding is at most low, and
        at most medium (:mod:`monitor.drift.attribution`).
    store
        Where the per-key states live: a ``MutableMapping[str, bytes]`` (default: a dict).
    """

    def __init__(
        self,
        raise_after: int = 2,
        clear_after: int = 2,
        clear_ratio: float = 0.5,
        cooldown: float = 3600.0,
        immediate: Severity | None = "high",
        importance_tiers: tuple[float, float] = IMPORTANCE_TIERS,
        *,
        store: MutableMapping[str, bytes] | None = None,
    ) -> None:
        if raise_after < 1 or clear_after < 1:
            raise ValueError("raise_after and clear_after must be at least 1")
        if not 0.0 < clear_ratio <= 1.0:
            raise ValueError("clear_ratio must be in (0, 1]")
        if cooldown < 0:
            raise ValueError("cooldown must be >= 0 seconds")
        low, medium = importance_tiers
        if not 0.0 <= low <= medium <= 1.0:
            raise ValueError("importance_tiers must be two shares in [0, 1], low <= medium")
        self.raise_after = raise_after
        self.clear_after = clear_after
        self.clear_ratio = clear_ratio
        self.cooldown = float(cooldown)
        self.immediate = immediate
        self.importance_tiers = (float(low), float(medium))
        self.store: MutableMapping[str, bytes] = {} if store is None else store

    def state(self, kind: DriftKind, model_name: str, model_version: str) -> KindState:
        """The current state of one (model, version, kind)."""
        data = self.store.get(_key(kind, model_name, model_version))
        return KindState() if data is None else _decoder.decode(data)

    def observe_window(self, report: WindowReport) -> list[DriftEvent]:
        """Covariate, prediction and dataset events (at most one each) for a judged window."""
        if not report.judged:
            return []
        args = (report.model_name, report.model_version, report.window_start, report.window_end)
        weights = report.importance
        events = [
            self.observe("covariate", *args, report.features, evidence=report.evidence,
                         share_drifted=report.share_drifted, importance=weights),
        ]
        if report.score is not None:
            events.append(self.observe("prediction", *args, [report.score],
                                       evidence=report.evidence))
        share = FeatureStatistic(
            feature="dataset", statistic="share_drifted", value=report.share_drifted,
            threshold=report.dataset_threshold, drifted=report.dataset_drifted,
            feature_type="metric",
        )
        dataset = FeatureJudgement(
            feature="dataset", feature_type="metric", method="share_drifted",
            value=report.share_drifted, threshold=report.dataset_threshold,
            ratio=report.share_drifted / report.dataset_threshold,
            drifted=report.dataset_drifted, rows=report.rows,
            statistics=[share] + [j.statistics[0] for j in report.features],
        )
        events.append(self.observe("dataset", *args, [dataset], evidence=report.evidence,
                                   share_drifted=report.share_drifted, importance=weights,
                                   features=report.features))
        return [e for e in events if e is not None]

    def observe(
        self,
        kind: DriftKind,
        model_name: str,
        model_version: str,
        window_start: float,
        window_end: float,
        judgements: Sequence[FeatureJudgement],
        *,
        evidence: Sequence[OffsetRange] = (),
        share_drifted: float | None = None,
        importance: Mapping[str, float] | None = None,
        features: Sequence[FeatureJudgement] | None = None,
    ) -> DriftEvent | None:
        """Feed one window's judgements of one kind; returns the event if one is raised.

        ``importance`` (the model's feature-importance shares) weighs the severities of a
        covariate or dataset finding; ``features`` are the feature judgements behind the
        ``judgements`` (default: the judgements themselves), which an event names as its
        drivers.
        """
        key = _key(kind, model_name, model_version)
        state = self.state(kind, model_name, model_version)
        behind = judgements if features is None else features
        weigh = _weigher(kind, importance, behind, self.importance_tiers)
        firing: list[FeatureJudgement] = []
        for j in judgements:
            streak = state.streaks.get(j.feature, 0) + 1 if j.drifted else 0
            state.streaks[j.feature] = streak
            urgent = j.method in _OVER_WINDOWS or (
                self.immediate is not None and _RANK[weigh(j)] >= _RANK[self.immediate])
            if j.drifted and (streak >= self.raise_after or urgent):
                firing.append(j)
        event = None
        if state.active:
            calm = all(j.ratio < self.clear_ratio for j in judgements)
            state.calm_windows = state.calm_windows + 1 if calm else 0
            if state.calm_windows >= self.clear_after:
                state.active = False
                state.calm_windows = 0
        elif firing:
            if self._cooled(state, window_end):
                named = (drivers(behind, importance, self.importance_tiers)
                         if kind in _ATTRIBUTED else [])
                event = _event(kind, model_name, model_version, window_start, window_end,
                               judgements, firing, evidence, share_drifted,
                               highest([weigh(j) for j in firing]) or "low", named)
                state.active = True
                state.last_raised = window_end
                state.calm_windows = 0
            else:
                state.suppressed += 1
        self.store[key] = _encoder.encode(state)
        return event

    def observe_detection(
        self,
        model_name: str,
        model_version: str,
        event_time: float,
        statistics: Sequence[FeatureStatistic],
        *,
        window_start: float | None = None,
        window_end: float | None = None,
        evidence: Sequence[OffsetRange] = (),
    ) -> DriftEvent | None:
        """A concept-drift detector fired at ``event_time``: raise unless in cooldown.

        ``statistics`` describe the alarm (one per detector that fired); two or more
        detectors agreeing make the event ``high``, one ``medium``.
        """
        key = _key("concept", model_name, model_version)
        state = self.state("concept", model_name, model_version)
        event = None
        if statistics and self._cooled(state, event_time):
            start = event_time if window_start is None else window_start
            end = event_time if window_end is None else window_end
            names = sorted({s.statistic for s in statistics})
            event = DriftEvent(
                event_id=_event_id("concept", model_name, model_version, event_time),
                event_time=event_time,
                model_name=model_name,
                model_version=model_version,
                kind="concept",
                severity="high" if len(names) > 1 else "medium",
                window_start=start,
                window_end=end,
                statistics=list(statistics),
                evidence=list(evidence),
                summary=f"concept drift in {model_name} v{model_version}: "
                + ", ".join(f"{s.statistic} on {s.feature} rose to {s.value:.4g} "
                            f"from {s.threshold:.4g}" for s in statistics),
            )
            state.last_raised = event_time
        elif statistics:
            state.suppressed += 1
        self.store[key] = _encoder.encode(state)
        return event

    def _cooled(self, state: KindState, now: float) -> bool:
        return state.last_raised is None or now - state.last_raised >= self.cooldown


_ATTRIBUTED = ("covariate", "dataset")  # the kinds whose events name feature drivers


def _weigher(kind: DriftKind, importance: Mapping[str, float] | None,
             features: Sequence[FeatureJudgement],
             tiers: tuple[float, float]) -> Callable[[FeatureJudgement], Severity | None]:
    """The severity of one of ``kind``'s judgements, weighed by feature importance: a
    covariate feature's capped by its own share, a dataset finding's by the drifted
    features' summed share; other kinds, and any kind without importance, unweighed."""
    if importance is None or kind not in _ATTRIBUTED:
        return FeatureJudgement.level
    if kind == "covariate":
        return lambda j: weighted_level(j, importance, tiers)
    cap = importance_cap(share_of([f.feature for f in features if f.drifted], importance),
                         tiers)
    return lambda j: capped(j.level(), cap)


def _key(kind: str, model_name: str, model_version: str) -> str:
    return f"{model_name}\t{model_version}\t{kind}"


def _event_id(kind: str, model_name: str, model_version: str, at: float) -> str:
    raw = f"{model_name}\t{model_version}\t{kind}\t{at!r}".encode()
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def _event(
    kind: DriftKind,
    model_name: str,
    model_version: str,
    window_start: float,
    window_end: float,
    judgements: Sequence[FeatureJudgement],
    firing: list[FeatureJudgement],
    evidence: Sequence[OffsetRange],
    share_drifted: float | None,
    level: Severity,
    named: list[Driver],
) -> DriftEvent:
    fired = {j.feature for j in firing}
    statistics: list[FeatureStatistic] = []
    for j in judgements:
        # Everything about the features that fired; the deciding statistic of the others.
        statistics.extend(j.statistics if j.feature in fired else j.statistics[:1])
    worst = max(firing, key=lambda j: j.ratio)
    parts = ", ".join(
        f"{j.feature} ({j.method} {j.value:.4g} vs {j.threshold:.4g})"
        for j in sorted(firing, key=lambda j: -j.ratio)
    )
    return DriftEvent(
        event_id=_event_id(kind, model_name, model_version, window_end),
        event_time=window_end,
        model_name=model_name,
        model_version=model_version,
        kind=kind,
        severity=level,
        window_start=window_start,
        window_end=window_end,
        statistics=statistics,
        evidence=list(evidence),
        share_drifted=share_drifted,
        summary=f"{kind} drift in {model_name} v{model_version}, worst {worst.feature}: {parts}",
        drivers=named,
    )
