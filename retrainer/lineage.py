"""What a retrain records in MLflow, and under which names.

One run per retrain carries the parameters, both models' holdout metrics (the challenger's as
``holdout_*``, the names the monitor reads as a version's baseline; the champion's as
``champion_holdout_*``), the trigger (a drift event or a tick of the schedule) as tags, and
``lineage.json`` with the exact topic/partition/offset ranges. The registered version carries
the facts ``driftline models list`` shows as ``driftline.*`` version tags, so listing needs one
registry query, not one per run.

>>> from driftline.events import OffsetRange
>>> format_ranges([OffsetRange(topic="labeled", partition=0, first_offset=0, last_offset=99),
...                OffsetRange(topic="labeled", partition=1, first_offset=5, last_offset=7)])
'labeled 0:0-99 1:5-7'
>>> metric_names({"roc_auc": 0.8, "brier": 0.17}, prefix="champion_")
{'champion_holdout_auc': 0.8, 'champion_holdout_brier': 0.17}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from driftline.events import DataCheck, DriftEvent, OffsetRange
from retrainer.data_checks import DataReport, DataThresholds
from retrainer.dataset import Dataset, offset_ranges
from retrainer.gate import Gate, Verdict
from retrainer.schedule import ScheduledRetrain

__all__ = [
    "TAGS",
    "Lineage",
    "Refusal",
    "Trigger",
    "check_metrics",
    "data_checks",
    "describe_trigger",
    "format_ranges",
    "metric_names",
]

Trigger = DriftEvent | ScheduledRetrain
"""What started a retrain: a drift event, or a tick of the fixed schedule."""


class _Tags:
    """Version and run tag names (all ``driftline.*``)."""

    decision = "driftline.decision"  # promoted | rejected | refused | bootstrap | manual
    reason = "driftline.reason"
    trigger_event = "driftline.trigger_event_id"
    trigger = "driftline.trigger"
    fingerprint = "driftline.data_fingerprint"
    data_checks = "driftline.data_checks"  # passed | failed: the reasons
    train_rows = "driftline.train_rows"
    holdout_rows = "driftline.holdout_rows"
    train_ranges = "driftline.train_ranges"
    holdout_ranges = "driftline.holdout_ranges"
    data_window = "driftline.data_window"
    champion_version = "driftline.champion_version"
    champion_since = "driftline.champion_since"
    champion_reason = "driftline.champion_reason"  # why it serves: the last move's reason
    rolled_back = "driftline.rolled_back"
    drift_report = "driftline.drift_report"  # runs:/<run>/drift_report.html
    holdout_auc = "driftline.holdout_auc"
    holdout_brier = "driftline.holdout_brier"
    champion_auc = "driftline.champion_holdout_auc"
    champion_brier = "driftline.champion_holdout_brier"


TAGS = _Tags()

_METRIC = {"roc_auc": "auc", "brier": "brier", "log_loss": "log_loss", "accuracy": "accuracy"}


def format_ranges(ranges: Sequence[OffsetRange]) -> str:
    """Offset ranges as one short line: ``topic partition:first-last ...``."""
    by_topic: dict[str, list[str]] = {}
    for r in ranges:
        by_topic.setdefault(r.topic, []).append(f"{r.partition}:{r.first_offset}-{r.last_offset}")
    return "; ".join(f"{topic} {' '.join(parts)}" for topic, parts in by_topic.items())


def metric_names(metrics: Mapping[str, float], prefix: str = "") -> dict[str, float]:
    """Gate metrics under the run-metric names (``holdout_auc``...), NaN left out."""
    return {
        f"{prefix}holdout_{_METRIC.get(k, k)}": float(v)
        for k, v in metrics.items()
        if not math.isnan(v)
    }


_UNSAFE = re.compile(r"[^\w\-. /]")


def check_metrics(report: DataReport) -> dict[str, float]:
    """Each data check's value as a run metric, ``data.<column>.<check>`` (``set`` for a
    set-wide check), names kept to what MLflow accepts.

    >>> from retrainer.data_checks import Check
    >>> check_metrics(DataReport(10, [Check("loan amount (€)", "missing_share", 0.1, 0.05,
    ...                                     False)]))
    {'data.loan amount ___.missing_share': 0.1}
    """
    return {
        f"data.{_UNSAFE.sub('_', c.column or 'set')}.{c.check}": float(c.value)
        for c in report.checks
        if math.isfinite(c.value)
    }


def data_checks(report: DataReport) -> list[DataCheck]:
    """The checks of a report as they travel in a DataValidationEvent."""
    return [DataCheck(column=c.column, check=c.check, value=float(c.value),
                      threshold=c.threshold, passed=c.passed) for c in report.checks]


def _checks_tag(report: DataReport) -> str:
    # MLflow keeps tag values up to 5,000 characters
    return ("passed" if report.passed else "failed: " + "; ".join(report.reasons))[:5000]


def describe_trigger(trigger: Trigger) -> str:
    """One line on what started a retrain, as tagged on its run and version.

    >>> describe_trigger(ScheduledRetrain("schedule-1060", 1060.0, "credit-risk", 60.0))
    'fixed schedule, every 60s'
    """
    if isinstance(trigger, ScheduledRetrain):
        return trigger.description
    return f"{trigger.kind} drift ({trigger.severity}) on v{trigger.model_version}"


def _fmt(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.4f}"


@dataclass(frozen=True)
class Lineage:
    """Everything a retrain records: the trigger, the data and the verdict."""

    model_name: str
    event: Trigger
    dataset: Dataset
    verdict: Verdict
    gate: Gate
    pipeline: str
    champion_version: str | None
    rows_read: int = 0
    incomplete_rows: int = 0
    dead_lettered: int = 0
    checks: DataReport | None = None

    @property
    def decision(self) -> str:
        return "promoted" if self.verdict.promote else "rejected"

    def params(self) -> dict[str, Any]:
        d = self.dataset
        return {
            "model_name": self.model_name,
            "pipeline": self.pipeline,
            "champion_version": self.champion_version or "none",
            "gate_metric": self.gate.metric,
            "gate_margin": self.gate.margin,
            "gate_brier_tolerance": self.gate.brier_tolerance,
            "train_rows": len(d.train),
            "holdout_rows": len(d.holdout),
            "rows_read": self.rows_read,
            "duplicates": d.duplicates,
            "incomplete_rows": self.incomplete_rows,
            "window_start": d.window_start,
            "window_end": d.window_end,
            "data_fingerprint": d.fingerprint,
            "trigger_event_id": self.event.event_id,
        }

    def metrics(self) -> dict[str, float]:
        return {
            **metric_names(self.verdict.challenger),
            **metric_names(self.verdict.champion, prefix="champion_"),
            **(check_metrics(self.checks) if self.checks else {}),
        }

    @property
    def run_name(self) -> str:
        e = self.event
        short = e.event_id if isinstance(e, ScheduledRetrain) else e.event_id[:12]
        return f"retrain-{self.model_name}-{short}"

    def run_tags(self) -> dict[str, str]:
        e = self.event
        tags = {
            TAGS.trigger_event: e.event_id,
            TAGS.trigger: describe_trigger(e),
            TAGS.decision: self.decision,
            TAGS.reason: self.verdict.reason,
            TAGS.fingerprint: self.dataset.fingerprint,
        }
        if isinstance(e, DriftEvent):
            tags["driftline.trigger_window"] = f"{e.window_start:.0f}-{e.window_end:.0f}"
        if self.checks is not None:
            tags[TAGS.data_checks] = _checks_tag(self.checks)
        return tags

    def version_tags(self) -> dict[str, str]:
        d, v = self.dataset, self.verdict
        return {
            **self.run_tags(),
            TAGS.train_rows: str(len(d.train)),
            TAGS.holdout_rows: str(len(d.holdout)),
            TAGS.train_ranges: format_ranges(d.train_ranges),
            TAGS.holdout_ranges: format_ranges(d.holdout_ranges),
            TAGS.data_window: f"{d.window_start:.3f}-{d.window_end:.3f}",
            TAGS.champion_version: self.champion_version or "",
            TAGS.holdout_auc: _fmt(v.challenger.get("roc_auc")),
            TAGS.holdout_brier: _fmt(v.challenger.get("brier")),
            TAGS.champion_auc: _fmt(v.champion.get("roc_auc")),
            TAGS.champion_brier: _fmt(v.champion.get("brier")),
        }

    def to_json(self) -> bytes:
        """``lineage.json``: the trigger event as read and the exact offset ranges."""
        d = self.dataset
        return msgspec.json.encode(
            {
                "model_name": self.model_name,
                "trigger": self.event,
                "champion_version": self.champion_version,
                "decision": self.decision,
                "reason": self.verdict.reason,
                "data": {
                    "fingerprint": d.fingerprint,
                    "window_start": d.window_start,
                    "window_end": d.window_end,
                    "train_rows": len(d.train),
                    "holdout_rows": len(d.holdout),
                    "duplicates": d.duplicates,
                    "incomplete_rows": self.incomplete_rows,
                    "dead_lettered": self.dead_lettered,
                    "train_ranges": d.train_ranges,
                    "holdout_ranges": d.holdout_ranges,
                },
                "metrics": {"challenger": self.verdict.challenger,
                            "champion": self.verdict.champion},
            }
        )


@dataclass(frozen=True)
class Refusal:
    """A retrain whose training data failed its checks: nothing was trained. What its MLflow
    run records (no model version is registered)."""

    model_name: str
    event: Trigger
    window: Dataset
    report: DataReport
    thresholds: DataThresholds
    champion_version: str | None
    rows_read: int = 0

    @property
    def reason(self) -> str:
        return "refused: " + "; ".join(self.report.reasons)

    @property
    def run_name(self) -> str:
        e = self.event
        short = e.event_id if isinstance(e, ScheduledRetrain) else e.event_id[:12]
        return f"refused-{self.model_name}-{short}"

    def tags(self) -> dict[str, str]:
        return {
            TAGS.trigger_event: self.event.event_id,
            TAGS.trigger: describe_trigger(self.event),
            TAGS.decision: "refused",
            TAGS.reason: self.reason[:5000],
            TAGS.data_checks: _checks_tag(self.report),
            TAGS.fingerprint: self.window.fingerprint,
        }

    def params(self) -> dict[str, Any]:
        t, w = self.thresholds, self.window
        return {
            "model_name": self.model_name,
            "champion_version": self.champion_version or "none",
            "rows_read": self.rows_read,
            "rows_checked": self.report.rows,
            "usable_rows": self.report.usable_rows,
            "failed_checks": len(self.report.reasons),
            "window_start": w.window_start,
            "window_end": w.window_end,
            "data_fingerprint": w.fingerprint,
            "trigger_event_id": self.event.event_id,
            "max_missing_share": t.max_missing_share,
            "max_invalid_share": t.max_invalid_share,
            "min_rows_per_class": t.min_rows_per_class,
            "min_minority_share": t.min_minority_share,
            "max_psi": "none" if t.max_psi is None else t.max_psi,
            "max_jensen_shannon": "none" if t.max_jensen_shannon is None
            else t.max_jensen_shannon,
        }

    def to_json(self) -> bytes:
        """``data_checks.json``: every check, the reasons and the rows' offset ranges."""
        w = self.window
        return msgspec.json.encode({
            "model_name": self.model_name,
            "trigger": self.event,
            "champion_version": self.champion_version,
            "decision": "refused",
            "reasons": self.report.reasons,
            "checks": data_checks(self.report),
            "data": {"fingerprint": w.fingerprint, "window_start": w.window_start,
                     "window_end": w.window_end, "rows": self.report.rows,
                     "usable_rows": self.report.usable_rows,
                     "ranges": offset_ranges([*w.train, *w.holdout])},
        })
