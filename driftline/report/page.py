"""The drift report as one self-contained HTML page.

:func:`build_report` takes a :class:`~driftline.report.inputs.ReportInput` and returns the
page: inline CSS, inline SVG charts, no script, and no URL but the page's own anchors, so it
opens offline in any browser. Sections, in reading order: ``summary`` (what moved, did it
hurt, models and versions, drift events by kind and severity, one timeline), ``features``
(per feature: reference against the window's distribution, the statistic over time with its
threshold, the verdict in words), ``score``, ``performance`` and ``events`` (each drift event
with its drivers, its evidence and what followed).
"""

from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Iterable, Sequence

from driftline.events import DriftEvent, Driver, FeatureStatistic
from driftline.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from driftline.report import charts
from driftline.report.digest import (
    STATISTICS,
    EventDigest,
    FeatureDigest,
    PerfPoint,
    auc_interval,
    event_digests,
    feature_digests,
    fmt_stat,
    fmt_time,
    fmt_value,
    gate_metrics,
    move_times,
    performance_clauses,
    performance_points,
    performance_verdict,
    timeline,
    wilson_interval,
)
from driftline.report.inputs import ReportInput, VersionInfo, WindowRecord

__all__ = ["SECTIONS", "build_report"]

SECTIONS = ("summary", "features", "score", "performance", "events")
_KINDS = ("covariate", "prediction", "performance", "performance-estimate", "concept", "dataset")
_SEVERITIES = ("low", "medium", "high")

_CSS = """
:root{color-scheme:light}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#1d2433;margin:0;background:#f5f6f8}
main{max-width:1120px;margin:0 auto;padding:18px 28px 60px}
header{background:#1d2433;color:#fff;padding:16px 28px}
header h1{margin:0;font-size:22px}header p{margin:4px 0 0;color:#c9d1e0;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #dde1e8;padding:8px 28px;
 z-index:2;font-size:14px}
nav a{margin-right:18px;color:#1f6fb2;text-decoration:none}
section{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:14px 20px;
 margin:18px 0}
h2{font-size:19px;margin:0 0 10px}h3{font-size:16px;margin:18px 0 6px}
.answer{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.answer div{background:#f8f9fb;border-radius:6px;padding:10px 14px}
.answer h3{margin-top:0}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px}
th,td{border-bottom:1px solid #e6e8ee;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#f3f4f7;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;font-weight:600;
 color:#fff;margin-right:6px;vertical-align:1px}
.high{background:#c0392b}.medium{background:#e67e22}.low{background:#b7950b}
.held{background:#2a9d8f}.unjudged{background:#888}
.verdict{margin:4px 0 8px}
.feature{border-top:1px solid #e6e8ee;padding-top:6px;margin-top:10px}
.event{border-left:4px solid #c0392b;padding:4px 0 4px 14px;margin:14px 0}
.event.medium{border-color:#e67e22;background:none}.event.low{border-color:#b7950b;background:none}
.event.high{background:none}
.muted{color:#667085;font-size:13px}
svg{max-width:100%;height:auto;display:block}
ul{margin:4px 0 8px;padding-left:22px}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(label: str, cls: str) -> str:
    return f'<span class="badge {cls}">{_e(label)}</span>'


def _events(data: ReportInput, windows: Sequence[WindowRecord]) -> list[DriftEvent]:
    seen: dict[str, DriftEvent] = {}
    for e in [*data.events, *(e for w in windows for e in w.events)]:
        if data.model is None or e.model_name == data.model:
            seen.setdefault(e.event_id, e)
    return sorted(seen.values(), key=lambda e: (e.window_end, e.event_id))


def _moves(data: ReportInput, model: str, start: float, end: float) -> list[tuple[float, str]]:
    return [(when, f"@{u.alias} v{u.version}")
            for when, u in move_times(data, data.windows, start, end) if u.model_name == model]


def _range(data: ReportInput, windows: Sequence[WindowRecord],
           events: Sequence[DriftEvent]) -> tuple[float, float]:
    """The charts' time axis: what the windows and events span, within the range asked
    for (a day asked of a quarter hour of data draws the quarter hour)."""
    times = [t for w in windows for t in (w.window_start, w.window_end)]
    times += [t for e in events for t in (e.window_start, e.window_end)]
    start, end = min(times, default=None), max(times, default=None)
    if start is None or end is None:
        start = data.start if data.start is not None else 0.0
        end = data.end if data.end is not None else start + 1.0
    if data.start is not None:
        start = max(start, data.start)
    if data.end is not None:
        end = min(end, data.end)
    return start, max(end, start + 1.0)


def build_report(data: ReportInput) -> str:
    """The report page for ``data`` (one HTML document, self-contained)."""
    windows = [w for w in data.windows if data.model is None or w.model_name == data.model]
    events = _events(data, windows)
    versions = [v for v in data.versions if data.model is None or v.name == data.model]
    start, end = _range(data, windows, events)
    asked = (data.start if data.start is not None else start,
             data.end if data.end is not None else end)
    features = feature_digests(windows)
    scores = feature_digests(windows, score=True)
    perf = performance_points(windows)
    digests = event_digests(data, events, windows)
    parts = [
        _summary(data, windows, events, versions, features, perf, start, end),
        _features(data, windows, features, start, end),
        _score(data, windows, scores, start, end),
        _performance(data, perf, versions, start, end),
        _event_section(digests),
    ]
    nav = "".join(f'<a href="#{s}">{s.capitalize()}</a>' for s in SECTIONS)
    scope = f"model {data.model}" if data.model else "every model"
    source = f" · {_e(data.source)}" if data.source else ""
    footer = _footer(data)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(data.title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(data.title)}</h1><p>{fmt_time(asked[0], day=True)} to "
        f"{fmt_time(asked[1], day=True)} UTC · {scope}{source}</p></header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}{footer}</main></body></html>\n"
    )


def _anchor(d: FeatureDigest) -> str:
    return _e(f"f-{d.kind}-{d.model_name}-{d.name}".replace(" ", "_"))


def _section(name: str, title: str, body: str) -> str:
    return f'<section id="{name}" data-section="{name}"><h2>{_e(title)}</h2>{body}</section>'


def _summary(data: ReportInput, windows: Sequence[WindowRecord], events: Sequence[DriftEvent],
             versions: Sequence[VersionInfo], features: Sequence[FeatureDigest],
             perf: dict[str, list[PerfPoint]], start: float, end: float) -> str:
    moved = [f for f in features if f.sustained]
    sporadic = [f for f in features if f.drifted_windows and not f.sustained]
    if moved or sporadic:
        items = "".join(
            f'<li>{_badge(f.severity or "low", f.severity or "low")}'
            f'<a href="#{_anchor(f)}">{_e(f.name)}</a> ({_e(f.model_name)}): '
            f"{f.drifted_windows} of {f.judged_windows} windows, from "
            f"{fmt_time(f.first_drifted)}</li>" for f in moved)
        what = f"<ul>{items}</ul>" if moved else "<p>No feature stayed past its threshold.</p>"
        if sporadic:
            links = ", ".join(f'<a href="#{_anchor(f)}">{_e(f.name)}</a>' for f in sporadic)
            what += (f'<p class="muted">Past the threshold only in scattered single windows '
                     f"(chance at this window size): {links}.</p>")
    elif features:
        what = f"<p>No feature passed its threshold in {len(windows)} judged windows.</p>"
    else:
        what = "<p>No drift window in this range.</p>"
    hurt = "".join(
        f"<p><b>{_e(m)}</b></p><ul>"
        + "".join(f"<li>{_e(c)}</li>" for c in performance_clauses(pts, versions, m))
        + "</ul>" for m, pts in sorted(perf.items())) or "<p>No labeled window.</p>"
    answer = (f'<div class="answer"><div><h3>What moved</h3>{what}</div>'
              f"<div><h3>Did it hurt</h3>{hurt}</div></div>")
    serving: dict[str, tuple[float, float]] = {}
    for w in windows:
        a, b = serving.get(w.model_version, (w.window_start, w.window_end))
        serving[w.model_version] = (min(a, w.window_start), max(b, w.window_end))
    markers = timeline(data, events, windows, start, end)
    chart = charts.timeline_chart(markers, serving, start, end)
    body = (answer + "<h3>Models and versions</h3>" + _versions_table(windows, events, versions)
            + "<h3>Drift events by kind and severity</h3>" + _kind_table(events)
            + "<h3>Timeline</h3><p class=\"muted\">Versions judged (bars), drift events "
            "(triangles, by severity), retrains (circle: promoted, x: rejected) and alias "
            f"moves.</p>{chart}")
    return _section("summary", "Summary", body)


def _versions_table(windows: Sequence[WindowRecord], events: Sequence[DriftEvent],
                    versions: Sequence[VersionInfo]) -> str:
    known = {(v.name, v.version): v for v in versions}
    keys = sorted({(w.model_name, w.model_version) for w in windows} | set(known),
                  key=lambda k: (k[0], len(k[1]), k[1]))
    if not keys:
        return "<p>No model version in this range.</p>"
    rows = []
    for name, version in keys:
        v = known.get((name, version))
        ws = [w for w in windows if (w.model_name, w.model_version) == (name, version)]
        n_rows = sum(w.drift.rows for w in ws if w.drift is not None)
        gate = gate_metrics(v) if v else {}
        n_events = sum(1 for e in events if (e.model_name, e.model_version) == (name, version))
        rows.append(
            f"<tr><td>{_e(name)}</td><td>v{_e(version)}</td>"
            f"<td>{_e(', '.join('@' + a for a in v.aliases) if v else '')}</td>"
            f"<td>{_e(fmt_time(v.created_at, day=True) if v and v.created_at else '')}</td>"
            f"<td>{_e(v.decision if v else '')}</td>"
            f'<td class="n">{_e(fmt_value(gate.get("roc_auc")))}</td>'
            f'<td class="n">{_e(fmt_value(gate.get("brier")))}</td>'
            f'<td class="n">{sum(1 for w in ws if w.drift is not None)}</td>'
            f'<td class="n">{n_rows:,}</td><td class="n">{n_events}</td></tr>')
    return ("<table><tr><th>model</th><th>version</th><th>aliases</th><th>registered</th>"
            "<th>decision</th><th>gate AUC</th><th>gate Brier</th><th>drift windows</th>"
            f"<th>predictions</th><th>drift events</th></tr>{''.join(rows)}</table>")


def _kind_table(events: Sequence[DriftEvent]) -> str:
    if not events:
        return "<p>No drift event in this range.</p>"
    count = Counter((e.kind, e.severity) for e in events)
    kinds = [k for k in _KINDS if any(count[(k, s)] for s in _SEVERITIES)]
    rows = "".join(
        f"<tr><td>{k}</td>" + "".join(f'<td class="n">{count[(k, s)] or ""}</td>'
                                      for s in _SEVERITIES)
        + f'<td class="n">{sum(count[(k, s)] for s in _SEVERITIES)}</td></tr>' for k in kinds)
    head = "".join(f"<th>{_badge(s, s)}</th>" for s in _SEVERITIES)
    return f"<table><tr><th>kind</th>{head}<th>total</th></tr>{rows}</table>"


def _profile(data: ReportInput, model: str, version: str) -> ReferenceProfile | None:
    return data.profiles.get((model, version))


def _reference_of(profile: ReferenceProfile, d: FeatureDigest
                  ) -> NumericProfile | CategoricalProfile | None:
    """``d``'s reference in ``profile``: the score's, a number's or a category's."""
    if d.kind == "score":
        return profile.score
    return profile.numeric_by_name.get(d.name) or profile.categorical_by_name.get(d.name)


def _distribution(data: ReportInput, d: FeatureDigest) -> str:
    """The reference of every version judged in the range, and the last and the worst
    window's own distribution when their judgements carry counts."""
    versions = list(dict.fromkeys(p.version for p in d.points))
    profiles = [(v, prof) for v in versions
                if (prof := _profile(data, d.model_name, v)) is not None]
    if not profiles:
        return (f'<p class="muted">No reference profile of {_e(d.model_name)} '
                f"v{_e(', v'.join(versions))} was given, so no distribution is drawn.</p>")
    shown = []
    if d.latest is not None:
        shown.append(("last window " + fmt_time(d.latest[0].window_start), *d.latest))
    if d.worst is not None and d.latest is not None and d.worst[0] is not d.latest[0]:
        shown.append(("worst window " + fmt_time(d.worst[0].window_start), *d.worst))
    title = f"{d.name}: reference{'s' if len(profiles) > 1 else ''} and windows"
    by_version = dict(profiles)
    references = [(f"reference v{v}", r) for v, p in profiles
                  if (r := _reference_of(p, d)) is not None]
    numeric = [(label, r) for label, r in references if isinstance(r, NumericProfile)]
    categorical = [(label, r) for label, r in references if isinstance(r, CategoricalProfile)]
    if numeric:
        current = [(label, n, j.counts) for label, w, j in shown
                   if isinstance(j.counts, list) and w.model_version in by_version
                   and isinstance(n := _reference_of(by_version[w.model_version], d),
                                  NumericProfile)]
        chart = charts.numeric_chart(title, numeric, current)
    elif categorical:
        current = [(label, j.counts) for label, _w, j in shown if isinstance(j.counts, dict)]
        chart = charts.categorical_chart(title, categorical, current)
    else:
        return f'<p class="muted">{_e(d.name)} is not in the reference profile.</p>'
    note = "" if current else (
        '<p class="muted">The window reports carry no bin counts, so only the reference'
        f"{'s are' if len(profiles) > 1 else ' is'} drawn; the statistic below says how far "
        "each window was from its version's reference.</p>")
    return chart + note


def _stats_table(pairs: Iterable[tuple[str, WindowRecord, object]]) -> str:
    rows = []
    for label, w, j in pairs:
        for s in j.statistics:
            mark = _badge("drifted", "high") if s.drifted else ""
            name = STATISTICS.get(s.statistic, (s.statistic,))[0]
            rows.append(f"<tr><td>{_e(label)} {fmt_time(w.window_start)}</td><td>{_e(name)}"
                        f'</td><td class="n">{fmt_stat(s.statistic, s.value)}</td><td class="n">'
                        f"{fmt_value(s.threshold)}</td><td>{mark}</td></tr>")
    if not rows:
        return ""
    return ("<table><tr><th>window</th><th>statistic</th><th>value</th><th>threshold</th>"
            f"<th></th></tr>{''.join(rows)}</table>")


def _feature_block(data: ReportInput, windows: Sequence[WindowRecord], d: FeatureDigest,
                   start: float, end: float) -> str:
    if d.sustained:
        badge = _badge(f"moved · {d.severity}", d.severity or "low")
    elif d.drifted_windows:
        badge = _badge("scattered", "unjudged")
    elif d.judged_windows:
        badge = _badge("held", "held")
    else:
        badge = _badge("not judged", "unjudged")
    title = f"{d.label} per window"
    chart = charts.statistic_chart(d.points, d.statistic, start, end, title,
                                   _moves(data, d.model_name, start, end))
    shown = [("worst", *d.worst)] if d.worst else []
    table = _stats_table(shown)
    return (f'<div class="feature" id="{_anchor(d)}"><h3>{_e(d.name)} '
            f'<span class="muted">({_e(d.kind)}, {_e(d.model_name)})</span></h3>'
            f'<p class="verdict">{badge}{_e(d.verdict)}</p>'
            f"{_distribution(data, d)}{_window_map(data, windows, d, start, end)}{chart}"
            f"{table}</div>")


def _features(data: ReportInput, windows: Sequence[WindowRecord],
              features: Sequence[FeatureDigest], start: float, end: float) -> str:
    if not features:
        return _section("features", "Features", "<p>No drift window in this range.</p>")
    intro = ('<p class="muted">Most moved first. Each feature: its verdict in words, the '
             "reference distribution, its distribution in every window, the deciding "
             "statistic per window with its threshold, and every statistic of its worst "
             "window.</p>")
    body = intro + "".join(_feature_block(data, windows, d, start, end) for d in features)
    return _section("features", "Features", body)


def _score(data: ReportInput, windows: Sequence[WindowRecord],
           scores: Sequence[FeatureDigest], start: float, end: float) -> str:
    if not scores:
        return _section("score", "Score distribution",
                        "<p>No judged score in this range.</p>")
    intro = ('<p class="muted">The model\'s score against the score on its training data: '
             "a moved score is prediction drift.</p>")
    return _section("score", "Score distribution over time", intro + "".join(
        _feature_block(data, windows, d, start, end) for d in scores))


def _window_map(data: ReportInput, windows: Sequence[WindowRecord], d: FeatureDigest,
                start: float, end: float) -> str:
    """Every window's distribution of ``d`` (the score, a number or a category) as a heat
    map, when at least two windows carry its counts and their version's reference profile
    is given."""
    columns: list = []
    references: dict[str, CategoricalProfile] = {}
    for w in windows:
        profile = _profile(data, w.model_name, w.model_version)
        if w.model_name != d.model_name or w.drift is None or profile is None:
            continue
        judged = (w.drift.score if d.kind == "score" else
                  next((j for j in w.drift.features if j.feature == d.name), None))
        reference = _reference_of(profile, d)
        if judged is None or reference is None:
            continue
        if isinstance(reference, CategoricalProfile) and isinstance(judged.counts, dict):
            references.setdefault(w.model_version, reference)
            columns.append((w.window_start, w.window_end, judged.counts))
        elif not isinstance(reference, CategoricalProfile) and isinstance(judged.counts, list):
            columns.append((w.window_start, w.window_end, reference, judged.counts))
    if len(columns) < 2:
        return ""
    title, moves = f"{d.name} of every window", _moves(data, d.model_name, start, end)
    if references:
        return charts.category_map(title, list(references.values()), columns, start, end,
                                   moves)
    return charts.distribution_map(title, columns, start, end, moves)


def _intervals(points: Sequence[PerfPoint]) -> dict[str, list[tuple[float, float] | None]]:
    acc, auc, brier = [], [], []
    for p in points:
        perf = p.performance
        acc.append(None if perf.accuracy is None
                   else wilson_interval(perf.accuracy, perf.labeled))
        auc_error = perf.standard_errors.get("roc_auc")
        if perf.roc_auc is None:
            auc.append(None)
        elif auc_error is not None:  # DeLong's, of the window's binned scores
            auc.append((max(perf.roc_auc - 1.96 * auc_error, 0.0),
                        min(perf.roc_auc + 1.96 * auc_error, 1.0)))
        elif perf.positive_rate is None:
            auc.append(None)
        else:  # a window reported without it: Hanley and McNeil's, from the class counts
            positives = round(perf.positive_rate * perf.labeled)
            auc.append(auc_interval(perf.roc_auc, positives, perf.labeled - positives))
        error = perf.standard_errors.get("brier")
        brier.append(None if perf.brier is None or error is None
                     else (max(perf.brier - 1.96 * error, 0.0), perf.brier + 1.96 * error))
    return {"accuracy": acc, "roc_auc": auc, "brier": brier}


def _performance(data: ReportInput, perf: dict[str, list[PerfPoint]],
                 versions: Sequence[VersionInfo], start: float, end: float) -> str:
    if not perf:
        return _section("performance", "Performance over time",
                        "<p>No labeled window in this range.</p>")
    body = []
    for model, points in sorted(perf.items()):
        gates = {v.version: gate_metrics(v) for v in versions if v.name == model}
        body.append(f"<h3>{_e(model)}</h3><p>{_e(performance_verdict(model, points, versions))}"
                    "</p>")
        body.append(charts.performance_chart(points, gates, _intervals(points), start, end,
                                             _moves(data, model, start, end)))
        body.append(_estimate_line(data, model))
        labeled = sum(p.performance.labeled for p in points)
        body.append(f'<p class="muted">{len(points)} windows, {labeled:,} labeled predictions. '
                    "Windows are those of the predictions' event time; coverage is labeled "
                    "over predictions.</p>")
    return _section("performance", "Performance over time", "".join(body))


def _estimate_line(data: ReportInput, model: str) -> str:
    """The last window's performance estimated before its labels, if the model has one."""
    found = [w for w in data.windows if w.model_name == model and w.estimate is not None
             and w.estimate.roc_auc is not None]
    if not found:
        return ""
    # the newest window; of its two estimates (at its end, then at its close), the later
    w = max(found, key=lambda r: (r.window_end, r.kind == "performance"))
    est = w.estimate
    assert est is not None and est.roc_auc is not None
    head = (f"<p>Estimated AUC of the last window (v{_e(w.model_version)}, "
            f"{fmt_time(w.window_start)}): {est.roc_auc:.3f}")
    when = "by the window's end" if w.kind == "estimate" else "when it closed"
    realized = ("" if est.realized_roc_auc is None
                else f", {est.realized_roc_auc:.3f} on the labeled part")
    how = ("the labels in rejected the holdout calibration; estimated from them"
           if est.recalibrated else "from the holdout calibration")
    return (f"{head} with {(est.label_coverage or 0.0):.0%} of labels in {when}{realized} "
            f"({how}).</p>")


def _stat_rows(stats: Iterable[FeatureStatistic]) -> str:
    return "".join(
        f"<tr><td>{_e(s.feature)}</td><td>{_e(STATISTICS.get(s.statistic, (s.statistic,))[0])}"
        f'</td><td class="n">{fmt_stat(s.statistic, s.value)}</td><td class="n">'
        f"{fmt_value(s.threshold)}"
        f"</td><td>{_badge('drifted', 'high') if s.drifted else ''}</td></tr>"
        for s in stats)


def _driver_table(drivers: Sequence[Driver]) -> str:
    """The features that drove an event, most importance-weighted effect first."""
    if not drivers:
        return ""
    rows = "".join(
        f"<tr><td>{_e(d.feature)}</td><td class=\"n\">"
        f"{'unknown' if d.importance is None else f'{d.importance:.1%}'}</td>"
        f'<td class="n">{d.effect:.3g}x</td><td>{_badge(d.severity, d.severity)}</td></tr>'
        for d in drivers)
    return ("<p><b>Drivers</b> (most importance-weighted effect first)</p><table><tr>"
            "<th>feature</th><th>importance to the model</th><th>effect vs threshold</th>"
            f"<th>severity</th></tr>{rows}</table>")


def _event_block(d: EventDigest) -> str:
    e = d.event
    head = ("<tr><th>feature</th><th>statistic</th><th>value</th><th>threshold</th>"
            "<th></th></tr>")
    drifted = [s for s in e.statistics if s.drifted]
    within = [s for s in e.statistics if not s.drifted]
    table = f"<table>{head}{_stat_rows(drifted)}</table>" if drifted else ""
    if within:
        table += (f"<details><summary>{len(within)} within "
                  f"{'their thresholds' if len(within) > 1 else 'its threshold'}"
                  f"</summary><table>{head}{_stat_rows(within)}</table></details>")
    evidence = ", ".join(f"{r.topic}[{r.partition}] offsets {r.first_offset}-{r.last_offset}"
                         for r in e.evidence) or "none recorded"
    share = (f" · share of features drifted {e.share_drifted:.0%}"
             if e.share_drifted is not None else "")
    followed = "".join(f"<li>{_e(f)}</li>" for f in d.followed) or "<li>Nothing recorded in "\
        "this range.</li>"
    return (f'<div class="event {e.severity}" id="e-{_e(e.event_id)}">'
            f"<h3>{_badge(e.severity, e.severity)}{_e(e.kind)} drift on {_e(e.model_name)} "
            f"v{_e(e.model_version)}, window {fmt_time(e.window_start, day=True)} to "
            f"{fmt_time(e.window_end, day=True)[-5:]}</h3><p>{_e(e.summary)}</p>"
            f"{_driver_table(e.drivers)}{table}"
            f'<p class="muted">Evidence: {_e(evidence)}{share} · event {_e(e.event_id)}</p>'
            f"<p><b>What followed</b></p><ul>{followed}</ul></div>")


def _event_section(digests: Sequence[EventDigest]) -> str:
    if not digests:
        return _section("events", "Drift events", "<p>No drift event in this range.</p>")
    return _section("events", "Drift events",
                    "".join(_event_block(d) for d in digests))


def _footer(data: ReportInput) -> str:
    unread = ""
    if data.unreadable:
        items = "".join(f"<li>{_e(u)}</li>" for u in data.unreadable[:50])
        more = (f"<li>and {len(data.unreadable) - 50} more</li>"
                if len(data.unreadable) > 50 else "")
        unread = (f"<p>{len(data.unreadable)} records could not be read and are left out:"
                  f"</p><ul>{items}{more}</ul>")
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f'<p class="muted">Built by driftline at {made}.</p>{unread}'
