"""Two model versions scored on the same labeled rows: metrics, calibration, windows and the
gate's verdict, as a table for people and a dict for scripts.

:func:`compare` takes the labels, the rows' event times and both versions' scores. Each
version gets ROC AUC, Brier score, log loss and accuracy (:func:`retrainer.gate.holdout_metrics`,
as the retrainer's gate), the expected calibration error and a reliability table
(:mod:`retrainer.calibration`), overall and per event-time window. The verdict is the gate's
(:class:`retrainer.gate.Gate`): by default its non-regression rule (the candidate is not worse
than the other by more than the margin), or its promotion rule (the candidate beats it by the
margin), the rule the retrainer promotes by.

>>> from retrainer.gate import Gate
>>> labels = [0, 1, 0, 1, 0, 1, 0, 1]
>>> times = [0.0, 10.0, 20.0, 30.0, 60.0, 70.0, 80.0, 90.0]
>>> good = [0.2, 0.8, 0.3, 0.7, 0.1, 0.9, 0.4, 0.6]
>>> poor = [0.6, 0.4, 0.5, 0.5, 0.7, 0.3, 0.2, 0.8]
>>> result = compare(labels, times, good, poor, gate=Gate(margin=0.01), window=60.0, start=0.0)
>>> result.passed, result.candidate["roc_auc"], [w.rows for w in result.windows]
(True, 1.0, [4, 4])
>>> compare(labels, times, poor, good, gate=Gate(margin=0.01)).verdict.reason
'worse: roc_auc 0.4688 is below the champion 1.0000 by more than 0.0100'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from retrainer.calibration import ReliabilityBin, expected_calibration_error, reliability
from retrainer.gate import Gate, Verdict, holdout_metrics

__all__ = ["Comparison", "Rule", "WindowResult", "compare", "render", "to_dict"]

Rule = Literal["no-regression", "promotion"]
METRICS = ("roc_auc", "brier", "log_loss", "accuracy", "ece")


def _metrics(labels: Sequence[int], scores: Sequence[float],
             bins: int) -> tuple[dict[str, float], list[ReliabilityBin]]:
    table = reliability(labels, scores, bins)
    return {**holdout_metrics(labels, scores), "ece": expected_calibration_error(table)}, table


@dataclass(frozen=True)
class WindowResult:
    """Both versions' metrics on the rows of one event-time window ``[start, end)``."""

    start: float
    end: float
    rows: int
    positives: int
    candidate: dict[str, float]
    against: dict[str, float]


@dataclass(frozen=True)
class Comparison:
    """The candidate against the other version on the same rows, and the verdict."""

    rows: int
    positives: int
    candidate: dict[str, float]
    against: dict[str, float]
    candidate_reliability: list[ReliabilityBin]
    against_reliability: list[ReliabilityBin]
    windows: list[WindowResult]
    verdict: Verdict
    rule: Rule
    gate: Gate
    window: float | None = None
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict.promote


def compare(
    labels: Sequence[int],
    times: Sequence[float],
    candidate_scores: Sequence[float],
    against_scores: Sequence[float],
    *,
    gate: Gate,
    rule: Rule = "no-regression",
    window: float | None = None,
    start: float | None = None,
    bins: int = 10,
) -> Comparison:
    """Compare the candidate's scores with the other version's on the same rows; windows of
    ``window`` seconds of event time counted from ``start`` (the first row's time when
    None)."""
    if not len(labels) == len(times) == len(candidate_scores) == len(against_scores):
        raise ValueError("labels, times and both versions' scores must be as many")
    if not len(labels):
        raise ValueError("no rows to compare on")
    judge = gate.judge_regression if rule == "no-regression" else gate.judge
    verdict = judge(labels, against_scores, candidate_scores)
    ours, our_table = _metrics(labels, candidate_scores, bins)
    theirs, their_table = _metrics(labels, against_scores, bins)
    y = np.asarray(labels, dtype=int)
    windows: list[WindowResult] = []
    if window is not None:
        t = np.asarray(times, dtype=float)
        origin = float(t.min()) if start is None else start
        index = np.floor((t - origin) / window).astype(int)
        c, a = np.asarray(candidate_scores, dtype=float), np.asarray(against_scores, dtype=float)
        for i in np.unique(index):
            mask = index == i
            windows.append(WindowResult(
                origin + i * window, origin + (i + 1) * window, int(mask.sum()),
                int(y[mask].sum()), _metrics(y[mask], c[mask], bins)[0],
                _metrics(y[mask], a[mask], bins)[0],
            ))
    return Comparison(
        rows=len(y), positives=int(y.sum()), candidate=ours, against=theirs,
        candidate_reliability=our_table, against_reliability=their_table, windows=windows,
        verdict=verdict, rule=rule, gate=gate, window=window,
    )


def _clean(value: Any) -> Any:
    """NaN and infinity as None, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_dict(result: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready data (NaN as null)."""
    g = result.gate
    return _clean({
        **result.context,
        "passed": result.passed,
        "reason": result.verdict.reason,
        "rule": result.rule,
        "gate": {"metric": g.metric, "margin": g.margin, "brier_tolerance": g.brier_tolerance},
        "rows": result.rows,
        "positives": result.positives,
        "candidate": result.candidate,
        "against": result.against,
        "reliability": {
            "candidate": [asdict(b) for b in result.candidate_reliability],
            "against": [asdict(b) for b in result.against_reliability],
        },
        "window_seconds": result.window,
        "windows": [asdict(w) for w in result.windows],
    })


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _num(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.4f}"


def _diff(ours: float, theirs: float) -> str:
    return "-" if not (math.isfinite(ours) and math.isfinite(theirs)) else f"{ours - theirs:+.4f}"


def render(result: Comparison, candidate: str = "candidate", against: str = "champion") -> str:
    """The comparison as text: metrics side by side, the reliability tables, the windows and
    the verdict on the last line."""
    lines = [f"{result.rows:,} labeled rows, {result.positives:,} labelled 1", ""]
    head = f"{'metric':<10} {candidate:>14} {against:>14} {'difference':>11}"
    lines += [head, "-" * len(head)]
    for m in METRICS:
        ours, theirs = result.candidate[m], result.against[m]
        lines.append(f"{m:<10} {_num(ours):>14} {_num(theirs):>14} {_diff(ours, theirs):>11}")
    lines += ["", "reliability: rows, mean score, share labelled 1 per score bin"]
    ours_by_bin = {b.low: b for b in result.candidate_reliability}
    theirs_by_bin = {b.low: b for b in result.against_reliability}
    for low in sorted(ours_by_bin.keys() | theirs_by_bin.keys()):
        cells = []
        for table in (ours_by_bin, theirs_by_bin):
            b = table.get(low)
            cells.append(f"{'':>22}" if b is None else
                         f"{b.rows:>7,} {b.mean_score:>6.3f} {b.positive_rate:>7.3f}")
        high = (ours_by_bin.get(low) or theirs_by_bin[low]).high
        lines.append(f"  {low:.2f}-{high:.2f}  {candidate}: {cells[0]}   {against}: {cells[1]}")
    if result.windows:
        lines += ["", f"per window of {result.window:g}s (AUC / Brier / ECE)"]
        for w in result.windows:
            c, a = w.candidate, w.against
            lines.append(
                f"  {_when(w.start)}  {w.rows:>7,} rows {w.positives:>6,} labelled 1  "
                f"{candidate} {_num(c['roc_auc'])} / {_num(c['brier'])} / {_num(c['ece'])}  "
                f"{against} {_num(a['roc_auc'])} / {_num(a['brier'])} / {_num(a['ece'])}"
            )
    g = result.gate
    rule = (f"not worse than {against} by more than {g.margin:g} on {g.metric}"
            if result.rule == "no-regression" else
            f"better than {against} by {g.margin:g} on {g.metric}")
    lines += ["", f"rule: {rule}, Brier within {g.brier_tolerance:g}",
              f"{'PASS' if result.passed else 'FAIL'}: {result.verdict.reason}"]
    return "\n".join(lines)
