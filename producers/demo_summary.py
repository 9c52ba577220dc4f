"""The demo's story told from what the loop wrote to Kafka: judged windows, drift events and
model updates. Pure, so it is tested without running anything.

>>> windows = [
...     WindowPoint(start=0, end=60, version="1", auc=0.80, rows=100),
...     WindowPoint(start=60, end=120, version="1", auc=0.42, rows=100),
...     WindowPoint(start=120, end=180, version="2", auc=0.79, rows=100),
... ]
>>> s = summarize(windows, onset=60.0, detections=[(75.0, "covariate", 12.0)],
...               promotions=[("2", 20.0)])
>>> s.auc_before, s.auc_worst, s.auc_after, s.recovered
(0.8, 0.42, 0.79, True)
>>> first_recovered(windows, onset=60.0, auc_before=s.auc_before)
WindowPoint(start=120, end=180, version='2', auc=0.79, rows=100)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DemoSummary", "WindowPoint", "first_recovered", "summarize"]


@dataclass(frozen=True)
class WindowPoint:
    """One judged performance window: event-time bounds, the model version, its AUC."""

    start: float
    end: float
    version: str
    auc: float | None
    rows: int


@dataclass(frozen=True)
class DemoSummary:
    onset: float
    first_detection: tuple[float, str, float] | None  # (event time, kind, wall seconds)
    promotion: tuple[str, float] | None  # (version, wall seconds)
    auc_before: float | None
    auc_worst: float | None
    auc_after: float | None

    @property
    def recovered(self) -> bool:
        """AUC after the promotion is back to at least 95% of its pre-drift value."""
        return (self.auc_before is not None and self.auc_after is not None
                and self.auc_after >= 0.95 * self.auc_before)


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(
    windows: Sequence[WindowPoint],
    *,
    onset: float,
    detections: Sequence[tuple[float, str, float]],
    promotions: Sequence[tuple[str, float]],
    first_version: str = "1",
) -> DemoSummary:
    """``detections``: (event time, kind, wall seconds since start) of each drift event;
    ``promotions``: (version, wall seconds) of each champion change."""
    judged = [w for w in windows if w.auc is not None]
    before = [w.auc for w in judged if w.end <= onset and w.version == first_version]
    during = [w.auc for w in judged if w.start >= onset and w.version == first_version]
    promoted = next((p for p in promotions if p[0] != first_version), None)
    after = [w.auc for w in judged if promoted and w.version == promoted[0] and w.start >= onset]
    return DemoSummary(
        onset=onset,
        first_detection=min(detections, default=None),
        promotion=promoted,
        auc_before=_mean(before),  # type: ignore[arg-type]
        auc_worst=min(during) if during else None,  # type: ignore[type-var]
        auc_after=_mean(after),  # type: ignore[arg-type]
    )


def first_recovered(
    windows: Sequence[WindowPoint],
    *,
    onset: float,
    auc_before: float | None,
    share: float = 0.95,
) -> WindowPoint | None:
    """The judged window, of any version, that ends first among those starting at or after
    ``onset`` with an AUC of at least ``share`` of ``auc_before`` (None: none yet). A window
    holding the onset mixes both populations and does not count."""
    if auc_before is None:
        return None
    back = [w for w in windows
            if w.auc is not None and w.start >= onset and w.auc >= share * auc_before]
    return min(back, key=lambda w: (w.end, w.start), default=None)
