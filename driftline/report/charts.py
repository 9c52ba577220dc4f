"""The drift report's charts: matplotlib figures rendered to inline SVG.

SVG keeps a report one small text file that any browser draws with no script: text stays
text (``svg.fonttype = none``: the browser's own sans-serif, no embedded glyphs), numbers
are rounded, and each figure gets its own id salt so that several inline figures in one page
never share a clip path id. Only ``matplotlib.figure.Figure`` is used (no pyplot), so drawing
touches no global backend or state.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import matplotlib as mpl
import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from driftline.profile import CategoricalProfile, NumericProfile
from driftline.report.digest import STATISTICS, Marker, PerfPoint, Point

__all__ = [
    "OTHER",
    "categorical_chart",
    "category_grid",
    "category_map",
    "distribution_map",
    "numeric_chart",
    "performance_chart",
    "statistic_chart",
    "timeline_chart",
    "window_grid",
]

_T = TypeVar("_T", bound=tuple[Any, ...])

WIDTH = 9.0  # inches; the page scales figures to its column
REFERENCES = ("#8c8c8c", "#2a9d8f", "#8e44ad", "#e76f51")
CURRENT = "#1f6fb2"
WORST = "#d1495b"
SEVERITY = {"low": "#e9c46a", "medium": "#f4a261", "high": "#d1495b", None: "#1f6fb2"}
VERSION_COLOURS = ["#1f6fb2", "#2a9d8f", "#8e44ad", "#e76f51", "#6d597a", "#264653"]
_RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "legend.fontsize": 8.0,
    "svg.image_inline": True,
}
_counter = itertools.count()
_HEAD = re.compile(rb"^.*?(?=<svg)", re.S)
_METADATA = re.compile(rb"<metadata>.*?</metadata>\s*", re.S)
_NUMBER = re.compile(rb"(\d+\.\d{2})\d+")
_ATTRIBUTE = re.compile(rb'="[^"]*"')


def _svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (no XML prolog, no metadata), the numbers of its
    attributes (coordinates, paths) cut to two decimals."""
    buf = io.BytesIO()
    with mpl.rc_context({**_RC, "svg.hashsalt": f"dl{next(_counter)}"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    data = _METADATA.sub(b"", _HEAD.sub(b"", buf.getvalue(), count=1), count=1)
    data = _ATTRIBUTE.sub(lambda m: _NUMBER.sub(rb"\1", m.group(0)), data)
    return data.decode()


def _figure(height: float, rows: int = 1, ratios: Sequence[float] | None = None
            ) -> tuple[Figure, list]:
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(WIDTH, height))
        axes = fig.subplots(rows, 1, sharex=True, squeeze=False,
                            gridspec_kw={"height_ratios": ratios} if ratios else None)
    return fig, [a[0] for a in axes]


def _dates(times: Sequence[float]) -> list[datetime]:
    return [datetime.fromtimestamp(t, UTC) for t in times]


def _time_axis(ax, start: float, end: float) -> None:
    ax.set_xlim(*_dates([start, end]))
    locator = mdates.AutoDateLocator(minticks=4, maxticks=10, tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_xlabel("time (UTC)", fontsize=8, color="#555")
    ax.grid(axis="y", color="#eee", linewidth=0.6)
    ax.set_axisbelow(True)


def _moves(ax, moves: Sequence[tuple[float, str]]) -> None:
    """Alias moves as dotted vertical lines, labelled at the top of the axes."""
    for when, label in moves:
        at = _dates([when])[0]
        ax.axvline(at, color="#2a9d8f", linestyle="-", linewidth=2.0, alpha=0.55, zorder=1)
        if label:
            ax.annotate(label, (at, 0.5), xycoords=("data", "axes fraction"), xytext=(4, 0),
                        textcoords="offset points", fontsize=7.5, color="#1e7066",
                        va="center", bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                                           "ec": "#2a9d8f", "lw": 0.6})


def _version_colour(versions: Sequence[str]) -> dict[str, str]:
    ordered = sorted(set(versions), key=lambda v: (len(v), v))
    return {v: VERSION_COLOURS[i % len(VERSION_COLOURS)] for i, v in enumerate(ordered)}


def timeline_chart(markers: Sequence[Marker], serving: Mapping[str, tuple[float, float]],
                   start: float, end: float) -> str:
    """One timeline: which version was judged when (bars), drift events by kind (one lane
    each) and severity (colour), retrains and alias moves."""
    kinds = [k for k in ("covariate", "prediction", "dataset", "performance",
                         "performance-estimate", "concept")
             if any(m.lane == "drift" and m.kind == k for m in markers)]
    lanes = ["alias moves", "retrains", *(f"{k} drift" for k in kinds), "versions judged"]
    top = len(lanes) - 1
    with mpl.rc_context(_RC):
        fig, (ax,) = _figure(1.0 + 0.32 * len(lanes))
        colours = _version_colour(list(serving))
        for version, (a, b) in serving.items():
            left, right = _dates([a, b])
            ax.barh(top, mdates.date2num(right) - mdates.date2num(left), left=left,
                    height=0.5, color=colours[version], alpha=0.75)
            ax.annotate(f"v{version}", (left, top), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8, color="white", fontweight="bold")
        for m in markers:
            when = _dates([m.time])[0]
            if m.lane == "drift":
                ax.scatter([when], [2 + kinds.index(m.kind)], s=60, marker="v",
                           color=SEVERITY.get(m.severity), edgecolor="#333", linewidth=0.4,
                           zorder=3)
            elif m.lane == "retrain":
                ok = m.kind == "promoted"
                ax.scatter([when], [1], s=55, marker="o" if ok else "x",
                           color="#2a9d8f" if ok else "#999", zorder=3)
                ax.annotate(m.label, (when, 1), xytext=(5, 0), textcoords="offset points",
                            va="center", fontsize=7.5)
            else:
                rollback = m.kind == "rollback"
                ax.scatter([when], [0], s=60, marker="<" if rollback else ">",
                           color="#d1495b" if rollback else "#2a9d8f", zorder=3)
                ax.annotate(m.label + (" (rollback)" if rollback else ""), (when, 0),
                            xytext=(5, 0), textcoords="offset points", va="center",
                            fontsize=7.5)
        ax.set_yticks(range(len(lanes)), lanes)
        ax.set_ylim(-0.6, top + 0.6)
        for sev in ("low", "medium", "high"):
            ax.scatter([], [], marker="v", color=SEVERITY[sev], label=f"{sev} severity")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=3)
        _time_axis(ax, start, end)
        return _svg(fig)


def _edges(profile: NumericProfile) -> np.ndarray:
    cuts = np.asarray(profile.cuts, dtype=float)
    low = min(profile.minimum, cuts[0]) if len(cuts) else profile.minimum
    high = max(profile.maximum, cuts[-1]) if len(cuts) else profile.maximum
    if high <= low:
        high = low + 1.0
    return np.concatenate([[low], cuts, [high]])


def _density(counts: Sequence[float], widths: np.ndarray) -> np.ndarray:
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    return c / max(total, 1.0) / np.where(widths > 0, widths, 1.0)


def _short(value: float) -> str:
    """A value in three significant digits, large ones with a k, M or G.

    >>> _short(0.1234), _short(5_000.0), _short(298_123.0), _short(1_234_567.0)
    ('0.123', '5k', '298k', '1.23M')
    """
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"


def _large_values(axis, low: float, high: float) -> None:
    """Money and counts on ``axis`` as 250k and 1.5M (not with a "1e6" offset)."""
    if max(abs(low), abs(high)) >= 10_000:
        axis.set_major_formatter(EngFormatter(sep=""))


def _span(profiles: Sequence[NumericProfile]) -> tuple[float, float]:
    """The x range that shows the bulk of every profile: 1st to 99th percentile, padded."""
    lows = [p.quantiles.get("0.01", p.minimum) for p in profiles]
    highs = [p.quantiles.get("0.99", p.maximum) for p in profiles]
    low, high = min(lows), max(highs)
    pad = (high - low) * 0.08 or 1.0
    return low - pad, high + pad


def numeric_chart(title: str, references: Sequence[tuple[str, NumericProfile]],
                  windows: Sequence[tuple[str, NumericProfile, Sequence[int]]] = ()) -> str:
    """Reference histograms of a numeric feature (density on each profile's bins, filled),
    with each window's counts on its profile's bins drawn over them as a step line."""
    with mpl.rc_context(_RC):
        fig, (ax,) = _figure(2.2)
        for (label, profile), colour in zip(references, REFERENCES, strict=False):
            edges = _edges(profile)
            ax.stairs(_density(profile.counts, np.diff(edges)), edges, fill=True,
                      color=colour, alpha=0.35, label=f"{label} ({profile.count:,} rows)")
        for (label, profile, counts), colour in zip(windows, (CURRENT, WORST), strict=False):
            edges = _edges(profile)
            if len(counts) != len(edges) - 1:
                continue
            ax.stairs(_density(counts, np.diff(edges)), edges, color=colour, linewidth=1.6,
                      label=f"{label} ({int(sum(counts)):,} rows)")
        low, high = _span([p for _, p in references] or [w[1] for w in windows])
        ax.set_xlim(low, high)
        _large_values(ax.xaxis, low, high)
        ax.set_title(title)
        ax.set_ylabel("density", fontsize=8, color="#555")
        ax.set_yticks([])
        ax.legend(loc="upper right")
        return _svg(fig)


def categorical_chart(title: str, references: Sequence[tuple[str, CategoricalProfile]],
                      windows: Sequence[tuple[str, Mapping[str, int]]] = ()) -> str:
    """Share per category of each reference and each window's counts, side by side."""
    cats: list[str] = []
    for _, p in references:
        cats += [c for c in sorted(p.counts, key=lambda c: -p.counts[c]) if c not in cats]
    for _, counts in windows:
        cats += [c for c in counts if c not in cats]
    cats = cats[:25]
    x = np.arange(len(cats))
    series = [(f"{label} ({p.count:,} rows)", p.counts, colour, 0.55)
              for (label, p), colour in zip(references, REFERENCES, strict=False)]
    series += [(f"{label} ({sum(c.values()):,} rows)", c, colour, 0.9)
               for (label, c), colour in zip(windows, (CURRENT, WORST), strict=False)]
    width = 0.8 / max(len(series), 1)
    with mpl.rc_context(_RC):
        fig, (ax,) = _figure(2.2)
        for i, (label, counts, colour, alpha) in enumerate(series):
            total = max(sum(counts.values()), 1)
            ax.bar(x + i * width - 0.4 + width / 2, [counts.get(c, 0) / total for c in cats],
                   width=width, color=colour, alpha=alpha, label=label)
        many = len(cats) > 6
        ax.set_xticks(x, cats, rotation=30 if many else 0, ha="right" if many else "center")
        ax.set_ylabel("share", fontsize=8, color="#555")
        ax.set_title(title)
        ax.legend(loc="upper right")
        return _svg(fig)


# one window's distribution: its start, end, version's profile and counts on that profile's bins
Column = tuple[float, float, NumericProfile, Sequence[int]]


def _placed(columns: Sequence[_T], rows: Callable[[_T], float]
            ) -> tuple[list[float], list[_T | None]]:
    """Windows (each starting with its start and end seconds) on one time axis: the x edges
    (a window runs to the next one's start) and per column the window, or None for a gap
    between two windows. Of windows with the same start, the one with the most ``rows``."""
    kept: dict[float, _T] = {}
    for column in columns:
        start = column[0]
        if start not in kept or rows(column) > rows(kept[start]):
            kept[start] = column
    ordered = [kept[t] for t in sorted(kept)]
    xs: list[float] = []
    placed: list[_T | None] = []
    for i, column in enumerate(ordered):
        start, end = column[0], column[1]
        after = ordered[i + 1][0] if i + 1 < len(ordered) else end
        xs.append(start)
        placed.append(column)
        if after > end:  # no window between this one's end and the next one's start
            xs.append(end)
            placed.append(None)
    if ordered:
        xs.append(ordered[-1][1])
    return xs, placed


# one window's categories: its start, end and counts per category
CategoryColumn = tuple[float, float, Mapping[str, int]]
OTHER = "(other)"


def category_grid(columns: Sequence[CategoryColumn], categories: Sequence[str]
                  ) -> tuple[list[float], np.ndarray]:
    """Every window's category shares on one grid: x edges as :func:`window_grid` places
    them, and per category (the given ones, then :data:`OTHER` for every other, the
    monitor's own "(other)" included) and column the share of the window's rows.

    >>> xs, z = category_grid([(0, 60, {"web": 3, "app": 1}), (120, 180, {"kiosk": 2})],
    ...                       ["web", "app"])
    >>> xs, z.tolist()
    ([0, 60, 120, 180], [[0.75, nan, 0.0], [0.25, nan, 0.0], [0.0, nan, 1.0]])
    """
    xs, placed = _placed(columns, lambda column: sum(column[2].values()))
    row = {c: i for i, c in enumerate(categories)}
    z = np.full((len(categories) + 1, len(placed)), np.nan)
    for j, column in enumerate(placed):
        total = 0 if column is None else sum(column[2].values())
        if column is None or total <= 0:
            continue
        z[:, j] = 0.0
        for category, count in column[2].items():
            z[row.get(category, len(categories)), j] += count / total
    return xs, z


def category_map(title: str, references: Sequence[CategoricalProfile],
                 columns: Sequence[CategoryColumn], start: float, end: float,
                 moves: Sequence[tuple[float, str]] = (), most: int = 12) -> str:
    """Every window's category shares over time as a heat map: one row per category of the
    references (the ``most`` frequent first), one for all others, and the alias ``moves``;
    the mesh is one embedded raster image."""
    categories: list[str] = []
    for p in references:
        categories += [c for c in sorted(p.counts, key=lambda c: -p.counts[c])
                       if c not in categories and c != OTHER]
    categories = categories[:most]
    xs, z = category_grid(columns, categories)
    names = [*categories, OTHER]
    with mpl.rc_context(_RC):
        fig, (ax,) = _figure(0.9 + 0.2 * len(names))
        mesh = ax.pcolormesh(_dates(xs), np.arange(len(names) + 1), np.ma.masked_invalid(z),
                             cmap="Blues", vmin=0.0, vmax=1.0, shading="flat",
                             rasterized=True)
        colourbar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.025)
        colourbar.set_label("share of the window's rows", fontsize=7.5, color="#555")
        colourbar.ax.tick_params(labelsize=7)
        _moves(ax, moves)
        ax.set_yticks(np.arange(len(names)) + 0.5, names, fontsize=7.5)
        ax.set_ylim(len(names), 0)  # the most frequent at the top
        ax.set_title(title, pad=20 if moves else 6)
        _time_axis(ax, start, end)
        ax.grid(False)
        return _svg(fig)


def window_grid(columns: Sequence[Column], low: float, high: float, steps: int = 60
                ) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Every window's distribution on one grid: x edges (seconds; a window runs to the next
    one's start, and a gap between windows is a column of NaN), y edges (``steps`` equal
    steps from ``low`` to ``high``), and per step and column the share of the window's rows
    that its own version's bins put in the step. Of windows with the same start, the one with
    the most rows is kept.

    >>> from driftline.profile import build_profile
    >>> ref = build_profile({}, np.linspace(0, 1, 1001), numeric=[], categorical=[]).score
    >>> low_half = [1 if c <= 0.5 else 0 for c in [*ref.cuts, 1.0]]
    >>> xs, ys, z = window_grid([(0, 60, ref, low_half), (120, 180, ref, low_half[::-1])],
    ...                         0.0, 1.0, steps=4)
    >>> xs, z.shape
    ([0, 60, 120, 180], (4, 3))
    >>> np.round(z, 2).tolist()  # the first window's rows low, the last one's high
    [[0.5, nan, 0.0], [0.5, nan, 0.0], [0.0, nan, 0.5], [0.0, nan, 0.5]]
    """
    xs, placed = _placed(columns, lambda column: sum(column[3]))
    ys = np.linspace(low, high, steps + 1)
    mids = (ys[:-1] + ys[1:]) / 2
    shares: list[np.ndarray] = []
    gap = np.full(steps, np.nan)
    for column in placed:
        if column is None:
            shares.append(gap)
            continue
        _, _, profile, counts = column
        edges = _edges(profile)
        c = np.asarray(counts, dtype=float)
        if len(c) != len(edges) - 1 or c.sum() <= 0:
            shares.append(gap)
        else:
            density = _density(c, np.diff(edges))
            at = np.searchsorted(edges, mids, side="right") - 1
            inside = (at >= 0) & (at < len(c))
            shares.append(np.where(inside, density[np.clip(at, 0, len(c) - 1)], 0.0)
                          * (ys[1] - ys[0]))
    z = np.column_stack(shares) if shares else np.empty((steps, 0))
    return xs, ys, z


def distribution_map(title: str, columns: Sequence[Column], start: float, end: float,
                     moves: Sequence[tuple[float, str]] = ()) -> str:
    """Every window's distribution over time as a heat map (the windows' share of rows per
    step of the value, each on its own version's bins), the versions' reference medians as
    dashed lines, and the alias ``moves``; the mesh is one embedded raster image, whose size
    follows the figure's pixels rather than the number of windows."""
    profiles = list({id(c[2]): c[2] for c in columns}.values())
    low, high = _span(profiles)
    xs, ys, z = window_grid(columns, low, high)
    with mpl.rc_context(_RC):
        fig, (ax,) = _figure(2.4)
        finite = z[np.isfinite(z)]
        top = float(np.quantile(finite, 0.99)) if finite.size else 1.0
        mesh = ax.pcolormesh(_dates(xs), ys, np.ma.masked_invalid(z), cmap="Blues", vmin=0.0,
                             vmax=top if top > 0 else 1.0, shading="flat", rasterized=True)
        colourbar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.025)
        colourbar.set_label("share of the window's rows", fontsize=7.5, color="#555")
        colourbar.ax.tick_params(labelsize=7)
        for profile, colour in zip(profiles, REFERENCES, strict=False):
            median = profile.quantiles.get("0.5")
            if median is not None:
                ax.axhline(median, color=colour, linestyle="--", linewidth=1.0,
                           label=f"reference median {_short(median)}")
        _moves(ax, moves)
        ax.set_ylim(low, high)
        _large_values(ax.yaxis, low, high)
        ax.set_title(title, pad=20)
        ax.set_ylabel("value", fontsize=8, color="#555")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3)
        _time_axis(ax, start, end)
        ax.grid(False)
        return _svg(fig)


def statistic_chart(points: Sequence[Point], statistic: str, start: float, end: float,
                    title: str, moves: Sequence[tuple[float, str]] = ()) -> str:
    """The statistic per window over time, its threshold as a dashed step line, the
    windows judged drifted in red, and the alias ``moves`` as vertical lines."""
    label, side = STATISTICS.get(statistic, (statistic, "above"))
    usable = [p for p in points if p.value is not None and math.isfinite(p.value)]
    with mpl.rc_context(_RC):
        fig, (ax,) = _figure(2.4)
        if usable:
            mids = _dates([(p.start + p.end) / 2 for p in usable])
            values = [p.value for p in usable]
            if side == "below":  # p-values: log scale, floor at 1e-16
                values = [max(v, 1e-16) for v in values]
                ax.set_yscale("log")
            ax.plot(mids, values, color=CURRENT, linewidth=1.2, marker="o", markersize=2.5,
                    label=label)
            bad = [(m, v) for m, v, p in zip(mids, values, usable, strict=True) if p.drifted]
            if bad:
                ax.scatter(*zip(*bad, strict=True), color=WORST, s=18, zorder=3,
                           label="judged drifted")
            limits = [(m, p.threshold) for m, p in zip(mids, usable, strict=True)
                      if p.threshold is not None and math.isfinite(p.threshold)]
            if limits:
                ax.step(*zip(*limits, strict=True), where="mid", color="#333",
                        linestyle="--", linewidth=1.0,
                        label=f"threshold (drifts {side} it)")
        else:
            ax.text(0.5, 0.5, "no judged window", transform=ax.transAxes, ha="center")
        _moves(ax, moves)
        ax.set_title(title, pad=20)
        ax.set_ylabel(label, fontsize=8, color="#555")
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=3)
        _time_axis(ax, start, end)
        return _svg(fig)


def performance_chart(points: Sequence[PerfPoint], gates: Mapping[str, Mapping[str, float]],
                      intervals: Mapping[str, Sequence[tuple[float, float] | None]],
                      start: float, end: float, moves: Sequence[tuple[float, str]] = ()) -> str:
    """AUC, Brier and accuracy per window and version (95% bands where known), each
    version's gate metric as a dashed reference line over the windows it was judged in, the
    label coverage below, and the alias ``moves`` as vertical lines."""
    names = [("roc_auc", "AUC"), ("brier", "Brier (lower is better)"), ("accuracy", "accuracy")]
    versions = [p.version for p in points]
    colours = _version_colour(versions)
    with mpl.rc_context(_RC):
        fig, axes = _figure(6.4, rows=4, ratios=[1.0, 1.0, 1.0, 0.6])
        for ax, (metric, label) in zip(axes, names, strict=False):
            for version in sorted(set(versions), key=lambda v: (len(v), v)):
                idx = [i for i, p in enumerate(points) if p.version == version
                       and getattr(p.performance, metric) is not None]
                if not idx:
                    continue
                mids = _dates([(points[i].start + points[i].end) / 2 for i in idx])
                values = [getattr(points[i].performance, metric) for i in idx]
                colour = colours[version]
                ax.plot(mids, values, color=colour, marker="o", markersize=2.5,
                        linewidth=1.2, label=f"v{version}")
                bands = [intervals.get(metric, [None] * len(points))[i] for i in idx]
                if all(b is not None for b in bands):
                    ax.fill_between(mids, [b[0] for b in bands], [b[1] for b in bands],
                                    color=colour, alpha=0.15, linewidth=0)
                gate = gates.get(version, {}).get(metric)
                if gate is not None:
                    ax.hlines(gate, mids[0], mids[-1], colors=colour, linestyles="--",
                              linewidth=1.0, label=f"v{version} gate {gate:.3f}")
            ax.set_ylabel(label, fontsize=8, color="#555")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
            ax.grid(axis="y", color="#eee", linewidth=0.6)
            _moves(ax, moves if ax is axes[0] else [(t, "") for t, _ in moves])
        cov = axes[3]
        mids = _dates([(p.start + p.end) / 2 for p in points])
        cover = [p.performance.label_coverage or 0.0 for p in points]
        widths = [(p.end - p.start) / 86400.0 * 0.9 for p in points]
        cov.bar(mids, cover, width=widths, color=[colours[p.version] for p in points],
                alpha=0.6)
        cov.set_ylim(0, 1.05)
        cov.set_ylabel("label coverage", fontsize=8, color="#555")
        axes[0].set_title("performance per window (bands: 95% interval)")
        _time_axis(cov, start, end)
        return _svg(fig)
