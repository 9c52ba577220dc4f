"""The numbers and words of a drift report, before any drawing: per feature, the statistic
over time with its threshold and a verdict in words; per model, performance with its
uncertainty; the timeline of drift events, retrains and alias moves; what followed each
drift event.

>>> w = lambda start, value, drifted: WindowRecord(
...     kind="drift", model_name="m", model_version="1", window_start=start,
...     window_end=start + 60, drift=DriftWindow(rows=500, features=[Judgement(
...         feature="x", method="psi", value=value, threshold=0.2, ratio=value / 0.2,
...         drifted=drifted, rows=500)]))
>>> d = feature_digests([w(0, 0.05, False)] + [w(60 * i, 0.9, True) for i in (1, 2, 3)]
...                     + [w(240, 0.1, False)])[0]
>>> d.drifted_windows, d.severity, d.sustained
(3, 'high', True)
>>> print(d.verdict)  # doctest: +NORMALIZE_WHITESPACE
x moved: past its threshold in 3 windows in a row from Jan 01 00:01 UTC (3 of 5 windows in
all). Worst: PSI 0.9 (drifts at 0.2 and above, high) in the window from Jan 01 00:01. Back
within its threshold from Jan 01 00:04.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from driftline.events import DriftEvent, ModelUpdateEvent
from driftline.intervals import auc_interval, wilson_interval
from driftline.report.inputs import (
    DriftWindow,
    Judgement,
    Performance,
    ReportInput,
    VersionInfo,
    WindowRecord,
)

__all__ = [
    "P_FLOOR",
    "STATISTICS",
    "SUSTAINED_RUN",
    "EventDigest",
    "FeatureDigest",
    "Marker",
    "PerfPoint",
    "Point",
    "auc_interval",
    "event_digests",
    "feature_digests",
    "fmt_stat",
    "fmt_time",
    "fmt_value",
    "gate_metrics",
    "move_times",
    "performance_clauses",
    "performance_points",
    "performance_verdict",
    "retrain_time",
    "severity",
    "timeline",
    "wilson_interval",
]

SUSTAINED_RUN = 3
"""Windows in a row past the threshold that make a feature's drift sustained."""

# statistic name -> (label, drifts when "above" or "below" its threshold)
STATISTICS: dict[str, tuple[str, str]] = {
    "psi": ("PSI", "above"),
    "ks_p_value": ("KS p-value", "below"),
    "ks_statistic": ("KS distance", "above"),
    "wasserstein_normed": ("Wasserstein distance (reference std)", "above"),
    "chi_square_p_value": ("chi-square p-value", "below"),
    "jensen_shannon": ("Jensen-Shannon distance", "above"),
    "unseen_share": ("share of unseen categories", "above"),
    "missing_share": ("share missing", "above"),
    "rank_sum_p_value": ("rank-sum p-value", "below"),
    "bins_chi_square_p_value": ("chi-square p-value of the bins", "below"),
    "pooled": ("p-value of the last windows pooled", "below"),
    "e_cusum": ("e-CUSUM evidence over windows", "above"),
}


def severity(ratio: float | None) -> str | None:
    """How far past its threshold a finding is: none below 1, low (< 2), medium (< 4), high.

    >>> severity(0.5), severity(1.5), severity(3.0), severity(9.0)
    (None, 'low', 'medium', 'high')
    """
    if ratio is None or not ratio >= 1.0:
        return None
    if ratio < 2.0:
        return "low"
    return "medium" if ratio < 4.0 else "high"


def fmt_time(t: float | None, *, day: bool = False) -> str:
    """A UTC time as ``Mon DD HH:MM`` (``day``: ``YYYY-MM-DD HH:MM``).

    >>> fmt_time(90.0), fmt_time(90.0, day=True)
    ('Jan 01 00:01', '1970-01-01 00:01')
    """
    if t is None or not math.isfinite(t):
        return "?"
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if day else "%b %d %H:%M")


def fmt_value(v: float | None) -> str:
    """A statistic for a reader: four significant digits, ``n/a`` for none.

    >>> fmt_value(0.123456), fmt_value(3.2e-9), fmt_value(None)
    ('0.1235', '3.2e-09', 'n/a')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.4g}"


P_FLOOR = 1e-16
"""p-values below this show as ``< 1e-16`` (and are drawn at it)."""


def fmt_stat(statistic: str, v: float | None) -> str:
    """A statistic's value for a reader; a p-value too small to tell shows as a bound.

    >>> fmt_stat("ks_p_value", 0.0), fmt_stat("psi", 0.0), fmt_stat("ks_p_value", 0.012)
    ('< 1e-16', '0', '0.012')
    """
    if v is not None and STATISTICS.get(statistic, ("", "above"))[1] == "below" and (
            v < P_FLOOR):
        return "< 1e-16"
    return fmt_value(v)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _label(statistic: str) -> str:
    return STATISTICS.get(statistic, (statistic, "above"))[0]


def _rule(statistic: str, threshold: float | None) -> str:
    side = STATISTICS.get(statistic, ("", "above"))[1]
    return (f"drifts below {fmt_value(threshold)}" if side == "below"
            else f"drifts at {fmt_value(threshold)} and above")


@dataclass(frozen=True)
class Point:
    """One window's value of the plotted statistic."""

    start: float
    end: float
    value: float | None
    threshold: float | None
    drifted: bool
    rows: int
    version: str


@dataclass
class FeatureDigest:
    """One feature (or the score) of one model over the range."""

    model_name: str
    name: str
    kind: str
    statistic: str
    points: list[Point]
    judged_windows: int
    drifted_windows: int
    worst: tuple[WindowRecord, Judgement] | None
    latest: tuple[WindowRecord, Judgement] | None
    verdict: str
    severity: str | None
    longest_run: int = 0
    first_drifted: float | None = None  # start of the longest run of drifted windows

    @property
    def sustained(self) -> bool:
        """Past its threshold in at least :data:`SUSTAINED_RUN` windows in a row, or far past
        it (high severity) in any window; scattered windows just past a p-value threshold
        are expected by chance."""
        return self.longest_run >= SUSTAINED_RUN or self.severity == "high"

    @property
    def label(self) -> str:
        return _label(self.statistic)

    @property
    def worst_ratio(self) -> float:
        return (self.worst[1].ratio or 0.0) if self.worst else 0.0


def _judgements(window: DriftWindow, include_score: bool) -> Iterable[Judgement]:
    yield from window.features
    if include_score and window.score is not None:
        yield window.score


def _statistic_value(j: Judgement, statistic: str) -> tuple[float | None, float | None, bool]:
    for s in j.statistics:
        if s.statistic == statistic:
            return s.value, s.threshold, s.drifted
    if j.method == statistic:
        return j.value, j.threshold, j.drifted
    return None, None, False


def feature_digests(windows: Sequence[WindowRecord], *, score: bool = False
                    ) -> list[FeatureDigest]:
    """Per (model, feature) of the drift windows, most moved first (``score``: the score's
    digest only)."""
    by: dict[tuple[str, str], list[tuple[WindowRecord, Judgement]]] = {}
    for w in sorted(windows, key=lambda w: w.window_start):
        if w.drift is None:
            continue
        judged = [w.drift.score] if score and w.drift.score else (
            [] if score else list(w.drift.features))
        for j in judged:
            by.setdefault((w.model_name, j.feature), []).append((w, j))
    out = [_digest(model, name, pairs) for (model, name), pairs in by.items()]
    out.sort(key=lambda d: (not d.sustained, d.drifted_windows == 0, -d.worst_ratio,
                            d.model_name, d.name))
    return out


def _digest(model: str, name: str, pairs: list[tuple[WindowRecord, Judgement]]
            ) -> FeatureDigest:
    statistic = Counter(j.method for _, j in pairs).most_common(1)[0][0]
    points = []
    for w, j in pairs:
        value, threshold, _ = _statistic_value(j, statistic)
        points.append(Point(w.window_start, w.window_end, value, threshold, j.drifted,
                            j.rows, w.model_version))
    judged = [(w, j) for w, j in pairs if w.drift is None or w.drift.judged]
    drifted = [(w, j) for w, j in judged if j.drifted]
    worst = max(judged, key=lambda p: p[1].ratio or 0.0, default=None)
    run, longest, since, first = 0, 0, None, None
    for w, j in judged:
        run = run + 1 if j.drifted else 0
        if run == 1:
            first = w.window_start
        if run > longest:
            longest, since = run, first
    digest = FeatureDigest(model, name, pairs[0][1].feature_type, statistic, points,
                           len(judged), len(drifted), worst, judged[-1] if judged else None,
                           "", severity(worst[1].ratio) if drifted and worst else None,
                           longest, since)
    digest.verdict = _verdict(digest, judged)
    return digest


def _verdict(d: FeatureDigest, judged: list[tuple[WindowRecord, Judgement]]) -> str:
    name, worst, n = d.name, d.worst, len(judged)
    if not judged or worst is None:
        return f"{name}: not judged in this range (no window had enough rows)."
    w, j = worst
    found = (f"{_label(j.method)} {fmt_stat(j.method, j.value)} ("
             f"{_rule(j.method, j.threshold)}"
             + (f", {severity(j.ratio)})" if j.drifted else ")")
             + f" in the window from {fmt_time(w.window_start)}")
    if not d.drifted_windows:
        return f"{name} held: within its threshold in all {n} windows; closest: {found}."
    if not d.sustained:
        return (f"{name} held, apart from {_plural(d.drifted_windows, 'scattered window')} "
                f"of {n} past its threshold (never {SUSTAINED_RUN} in a row: chance findings "
                f"at this window size are expected); worst: {found}.")
    when = (f"{d.longest_run} windows in a row from" if d.longest_run > 1
            else "the window from")
    text = (f"{name} moved: past its threshold in {when} {fmt_time(d.first_drifted)} UTC "
            f"({d.drifted_windows} of {n} windows in all). Worst: {found}.")
    if judged[-1][1].drifted:
        return text + " Still past it in the last window."
    run_end = next(i for i, (lw, _) in enumerate(judged) if lw.window_start == d.first_drifted)
    back = next(lw for lw, lj in judged[run_end:] if not lj.drifted)
    return text + f" Back within its threshold from {fmt_time(back.window_start)}."


@dataclass(frozen=True)
class PerfPoint:
    """One performance window of one version."""

    start: float
    end: float
    version: str
    performance: Performance


def performance_points(windows: Sequence[WindowRecord]) -> dict[str, list[PerfPoint]]:
    """Performance windows per model, in time order."""
    out: dict[str, list[PerfPoint]] = {}
    for w in sorted(windows, key=lambda w: w.window_start):
        if w.performance is not None and w.performance.labeled > 0:
            out.setdefault(w.model_name, []).append(
                PerfPoint(w.window_start, w.window_end, w.model_version, w.performance))
    return out


def gate_metrics(version: VersionInfo) -> dict[str, float]:
    """A version's gate numbers under the monitor's metric names (``roc_auc``, ``brier``,
    ``accuracy``), from its run metrics ``holdout_*``."""
    names = {"holdout_auc": "roc_auc", "holdout_brier": "brier",
             "holdout_accuracy": "accuracy"}
    return {ours: float(version.metrics[theirs]) for theirs, ours in names.items()
            if theirs in version.metrics}


_METRICS = (("roc_auc", "AUC", True), ("accuracy", "accuracy", True),
            ("brier", "Brier", False))


def performance_verdict(model: str, points: Sequence[PerfPoint],
                        versions: Sequence[VersionInfo]) -> str:
    """Did drift hurt, in one sentence: :func:`performance_clauses` joined.

    >>> from driftline.report.inputs import Performance
    >>> pts = [PerfPoint(60.0 * i, 60.0 * i + 60, "1", Performance(labeled=500, roc_auc=a))
    ...        for i, a in enumerate([0.8, 0.6, 0.79])]
    >>> performance_verdict("m", pts, [VersionInfo("m", "1", metrics={"holdout_auc": 0.81})])
    'm: AUC 0.800 at Jan 01 00:00, worst 0.600 at Jan 01 00:01 (v1, gate 0.810), last 0.790.'
    """
    parts = performance_clauses(points, versions, model)
    if not parts:
        return f"{model}: no labeled window in this range."
    return f"{model}: " + "; ".join(parts) + "."


def performance_clauses(points: Sequence[PerfPoint], versions: Sequence[VersionInfo],
                        model: str) -> list[str]:
    """Per metric (AUC, accuracy, Brier): its first value, its worst with the gate of the
    version that was worst, and its last."""
    gates = {v.version: gate_metrics(v) for v in versions if v.name == model}
    parts = []
    for metric, label, higher in _METRICS:
        known = [(p, getattr(p.performance, metric)) for p in points
                 if getattr(p.performance, metric) is not None]
        if not known:
            continue
        (first, a), (last, z) = known[0], known[-1]
        worst, w = (min if higher else max)(known, key=lambda pv: pv[1])
        gate = gates.get(worst.version, {}).get(metric)
        told = f"v{worst.version}" + (f", gate {gate:.3f}" if gate is not None else "")
        text = f"{label} {a:.3f} at {fmt_time(first.start)}"
        if worst is not first and worst is not last:
            text += f", worst {w:.3f} at {fmt_time(worst.start)} ({told})"
        if last is not first:
            text += f", last {z:.3f}" + (f" (v{last.version})" if last.version
                                         != worst.version else "")
        parts.append(text)
    return parts


@dataclass(frozen=True)
class Marker:
    """One thing on the summary's timeline."""

    time: float
    lane: str  # "drift" | "retrain" | "alias"
    kind: str  # drift kind, retrain decision, promotion or rollback
    label: str
    severity: str | None = None


def _data_end(version: VersionInfo) -> float | None:
    """The event time of the newest row a retrained version was trained on."""
    window = version.tags.get("driftline.data_window", "")
    try:
        return float(window.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None


def _first_judged(windows: Sequence[WindowRecord], model: str, version: str,
                  after: float = -math.inf) -> float | None:
    return min((w.window_start for w in windows if w.model_name == model
                and w.model_version == version and w.window_start >= after), default=None)


def retrain_time(version: VersionInfo) -> float | None:
    """Where a retrain goes on the page's event-time axis: at the event time of the newest
    row it trained on (the registry's clock is not the traffic's when traffic is simulated
    or replayed), else when the version was registered."""
    end = _data_end(version)
    return end if end is not None else version.created_at


def move_times(data: ReportInput, windows: Sequence[WindowRecord], start: float, end: float
               ) -> list[tuple[float, ModelUpdateEvent]]:
    """Each alias move within ``[start, end]`` with its place on the page's event-time axis:
    the first window its version was judged in after the version it replaced first was (the
    move itself is stamped by the registry's clock, which is not the traffic's when traffic
    is simulated or replayed), but never before the newest row the version was trained on
    (a window holds traffic from before the move); else its own time."""
    trained = {(v.name, v.version): _data_end(v) for v in data.versions}
    out = []
    for u in data.updates:
        before = (_first_judged(windows, u.model_name, u.previous_version)
                  if u.previous_version else None)
        when = _first_judged(windows, u.model_name, u.version,
                             -math.inf if before is None else before + 1e-9)
        data_end = trained.get((u.model_name, u.version))
        if when is not None and data_end is not None:
            when = max(when, data_end)
        when = u.event_time if when is None else when
        if start <= when <= end:
            out.append((when, u))
    return out


def timeline(data: ReportInput, events: Sequence[DriftEvent], windows: Sequence[WindowRecord],
             start: float, end: float) -> list[Marker]:
    """Drift events, retrains (versions registered by a retrain) and alias moves within
    ``[start, end]``, in time order."""
    out = [Marker(e.window_end, "drift", e.kind, f"{e.kind} v{e.model_version}", e.severity)
           for e in events]
    for v in data.versions:
        if v.decision in ("", "bootstrap", "manual"):
            continue
        when = retrain_time(v)
        if when is not None:
            out.append(Marker(when, "retrain", v.decision, f"v{v.version} {v.decision}"))
    for when, u in move_times(data, windows, start, end):
        kind = "rollback" if "rollback" in u.reason.lower() else "promotion"
        out.append(Marker(when, "alias", kind, f"@{u.alias} v{u.version}"))
    return sorted((m for m in out if start <= m.time <= end), key=lambda m: m.time)


@dataclass
class EventDigest:
    """One drift event and what followed it."""

    event: DriftEvent
    followed: list[str] = field(default_factory=list)


def event_digests(data: ReportInput, events: Sequence[DriftEvent],
                  windows: Sequence[WindowRecord]) -> list[EventDigest]:
    """Each drift event with what followed: retrains it started, alias moves after it, when
    its drifted features came back, and the AUC before and after."""
    out = []
    perf = performance_points(windows)
    for e in sorted(events, key=lambda e: e.window_end):
        d = EventDigest(e)
        for v in data.versions:
            if v.name == e.model_name and v.trigger_event_id == e.event_id:
                gate = gate_metrics(v)
                auc = f", holdout AUC {gate['roc_auc']:.3f}" if "roc_auc" in gate else ""
                reason = v.tags.get("driftline.reason", "")
                d.followed.append(
                    f"Retrain: v{v.version} registered at {fmt_time(v.created_at)} (registry "
                    "clock), "
                    f"{v.decision or 'registered'}{auc}" + (f" ({reason})" if reason else ""))
        for u in data.updates:
            if u.model_name == e.model_name and u.event_time >= e.window_start:
                was = f" (was v{u.previous_version})" if u.previous_version else ""
                d.followed.append(f"Alias: @{u.alias} moved to v{u.version}{was} at "
                                  f"{fmt_time(u.event_time)} (registry clock)"
                                  + (f": {u.reason}" if u.reason else ""))
                break
        for feature in sorted({s.feature for s in e.statistics if s.drifted}):
            back = _back(windows, e, feature)
            if back is not None:
                d.followed.append(f"{feature} back within its threshold from "
                                  f"{fmt_time(back)}.")
            elif e.kind in ("covariate", "prediction", "dataset"):
                d.followed.append(f"{feature} still past its threshold at the end of the "
                                  "range.")
        d.followed.extend(_auc_change(perf.get(e.model_name, []), e))
        out.append(d)
    return out


def _back(windows: Sequence[WindowRecord], e: DriftEvent, feature: str) -> float | None:
    for w in sorted(windows, key=lambda w: w.window_start):
        if w.model_name != e.model_name or w.drift is None or w.window_start < e.window_end:
            continue
        for j in _judgements(w.drift, include_score=True):
            if j.feature == feature and w.drift.judged:
                if not j.drifted:
                    return w.window_start
                break
    return None


def _auc_change(points: Sequence[PerfPoint], e: DriftEvent) -> list[str]:
    scored = [p for p in points if p.performance.roc_auc is not None]
    at = [p for p in scored if p.start <= e.window_start < p.end or
          e.window_start <= p.start < e.window_end]
    later = [p for p in scored if p.start >= e.window_end]
    if not at or not later:
        return []
    a, b = at[0], later[-1]
    return [f"AUC {a.performance.roc_auc:.3f} (v{a.version}) in the event's window, "
            f"{b.performance.roc_auc:.3f} (v{b.version}) in the last window of the range."]
