"""What a drift report is built from: judged windows, drift events, alias moves, versions.

The monitor writes each judged window as JSON to its ``<app id>-reports`` topic; a backtest
produces the same records in process. :func:`read_windows` turns such records (JSON bytes or
decoded dicts) into :class:`WindowRecord` structs and counts the ones it cannot read, so a
report is built the same way from a live range or a backtest. Fields a record lacks take
their defaults; fields the report does not use are ignored.

A judgement may carry the window's own distribution in ``counts``: the count per bin of the
reference profile's cuts (numeric features and the score) or per category (categorical
features). The report draws it against the reference when it is there.

>>> windows, unreadable = read_windows([
...     {"kind": "drift", "model_name": "m", "model_version": "1", "window_start": 0.0,
...      "window_end": 60.0, "drift": {"rows": 40, "features": []}},
...     b'{"kind": "drift"}',
... ])
>>> windows[0].drift.rows, len(unreadable)
(40, 1)
>>> unreadable[0]
'record 1: Object missing required field `model_name`'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from driftline.events import DriftEvent, ModelUpdateEvent
from driftline.profile import ReferenceProfile

__all__ = [
    "DriftWindow",
    "Estimate",
    "Judgement",
    "Performance",
    "ReportInput",
    "Statistic",
    "VersionInfo",
    "WindowRecord",
    "read_windows",
]


class Statistic(msgspec.Struct, kw_only=True, frozen=True):
    """One statistic of a judgement (None: not a finite number; JSON writes NaN as null)."""

    statistic: str
    value: float | None = None
    threshold: float | None = None
    drifted: bool = False


class Judgement(msgspec.Struct, kw_only=True, frozen=True):
    """One feature's (or the score's, or a metric's) verdict in one window."""

    feature: str
    feature_type: str = "numeric"
    method: str = ""
    value: float | None = None
    threshold: float | None = None
    ratio: float | None = None
    drifted: bool = False
    rows: int = 0
    statistics: list[Statistic] = []
    counts: list[int] | dict[str, int] | None = None


class DriftWindow(msgspec.Struct, kw_only=True, frozen=True):
    """The drift part of a judged window (the monitor's ``WindowReport``)."""

    rows: int = 0
    judged: bool = True
    features: list[Judgement] = []
    score: Judgement | None = None
    drifted_features: list[str] = []
    share_drifted: float = 0.0
    dataset_drifted: bool = False
    dataset_threshold: float = 0.5


class Performance(msgspec.Struct, kw_only=True, frozen=True):
    """The performance part of a judged window (the monitor's ``PerformanceReport``)."""

    predictions: int = 0
    labeled: int = 0
    label_coverage: float | None = None
    accuracy: float | None = None
    roc_auc: float | None = None
    brier: float | None = None
    log_loss: float | None = None
    positive_rate: float | None = None
    # each metric's standard error, where the window's counts give one
    standard_errors: dict[str, float] = {}


class Estimate(msgspec.Struct, kw_only=True, frozen=True):
    """A performance window's estimate before the labels (the monitor's
    ``PerformanceEstimate``): the window's metrics with the unlabeled part estimated."""

    predictions: int = 0
    labeled: int = 0
    unlabeled: int = 0
    label_coverage: float | None = None
    accuracy: float | None = None
    roc_auc: float | None = None
    brier: float | None = None
    realized_roc_auc: float | None = None
    recalibrated: bool = False


class WindowRecord(msgspec.Struct, kw_only=True, frozen=True):
    """One judged window of one model version, with the drift events it raised."""

    kind: str
    model_name: str
    model_version: str
    window_start: float
    window_end: float
    drift: DriftWindow | None = None
    performance: Performance | None = None
    estimate: Estimate | None = None
    events: list[DriftEvent] = []


@dataclass(frozen=True)
class VersionInfo:
    """A model version as the registry knows it: when it was made, its aliases, its run's
    metrics (``holdout_auc``, ``holdout_brier``...: the gate's numbers) and its tags."""

    name: str
    version: str
    created_at: float | None = None
    aliases: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def trigger_event_id(self) -> str | None:
        """The drift event that started the retrain which made this version, if any."""
        return self.tags.get("driftline.trigger_event_id")

    @property
    def decision(self) -> str:
        """promoted, rejected, bootstrap, manual, or empty when the tags do not say."""
        return self.tags.get("driftline.decision", "")


@dataclass(frozen=True)
class ReportInput:
    """Everything one report shows, from any source (a live range or a backtest).

    ``windows``: judged windows, any model (``model`` keeps one); ``events``: drift events
    (those embedded in the windows count too, once each); ``updates``: alias moves from
    ``model-updates``; ``versions``: registry facts per version; ``profiles``: the reference
    profile per (model name, version); ``start``/``end``: the range shown (default: the
    windows' own); ``unreadable``: why records were left out, shown at the end of the page.
    """

    windows: list[WindowRecord]
    events: list[DriftEvent] = field(default_factory=list)
    updates: list[ModelUpdateEvent] = field(default_factory=list)
    versions: list[VersionInfo] = field(default_factory=list)
    profiles: Mapping[tuple[str, str], ReferenceProfile] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None
    model: str | None = None
    title: str = "Drift report"
    source: str = ""
    unreadable: list[str] = field(default_factory=list)
    report_url: str = ""


_decoder = msgspec.json.Decoder(WindowRecord)


def read_windows(records: Iterable[bytes | str | Mapping[str, Any] | WindowRecord]
                 ) -> tuple[list[WindowRecord], list[str]]:
    """The records as :class:`WindowRecord` (JSON or dicts), and why each other one was not
    read (``record <i>: <reason>``)."""
    out: list[WindowRecord] = []
    bad: list[str] = []
    for i, record in enumerate(records):
        try:
            if isinstance(record, WindowRecord):
                out.append(record)
            elif isinstance(record, bytes | str):
                out.append(_decoder.decode(record))
            else:
                out.append(msgspec.convert(record, WindowRecord, from_attributes=True))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            bad.append(f"record {i}: {exc}")
        except RecursionError:
            bad.append(f"record {i}: the JSON is nested too deeply")
    return out, bad
