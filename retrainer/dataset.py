"""Training data from the ``labeled`` topic: the features exactly as they were served.

Rows are :class:`~driftline.events.LabeledEvent` records with where they were read
(topic, partition, offset). :func:`build_dataset` de-duplicates by prediction id (``labeled``
is written at least once), keeps the recent range by event time, checks the minimum size,
and splits off the most recent slice by event time as the holdout, so the challenger is
tested on data newer than all it was trained on. It records the offset ranges of each split
and a fingerprint of the data for lineage.

>>> from driftline.events import LabeledEvent, PredictionEvent
>>> def row(i, t):
...     p = PredictionEvent(prediction_id=f"p{i}", event_time=t, model_name="m",
...                         model_version="1", features={"x": float(i)}, score=0.5,
...                         decision="LOW")
...     return SourcedRow(LabeledEvent(event_time=t, prediction=p, label=i % 2,
...                                    label_time=t + 5, delay_seconds=5.0), "labeled", 0, i)
>>> rows = [row(i, 1000.0 + i) for i in range(100)] + [row(7, 1007.0)]  # one duplicate
>>> data = build_dataset(rows, RangePolicy(window=80, min_rows=20, holdout_fraction=0.25))
>>> len(data.train), len(data.holdout), data.duplicates
(61, 20, 1)
>>> data.train_ranges
[OffsetRange(topic='labeled', partition=0, first_offset=19, last_offset=79)]
>>> data.holdout_ranges[0].first_offset, data.holdout_ranges[0].last_offset
(80, 99)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import msgspec

from driftline.errors import DriftlineError
from driftline.events import LabeledEvent, OffsetRange

__all__ = [
    "Dataset",
    "InsufficientDataError",
    "RangePolicy",
    "SourcedRow",
    "build_dataset",
    "latest_rows",
    "offset_ranges",
]


class InsufficientDataError(DriftlineError):
    """Too few labeled rows in the range to train and test a challenger."""


@dataclass(frozen=True)
class SourcedRow:
    """One labeled record and where it was read."""

    event: LabeledEvent
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class RangePolicy:
    """Which labeled rows make a dataset.

    window
        Seconds of event time, counted back from the newest row, that are used (``None``: all
        rows read).
    min_rows
        Fewer rows than this (after de-duplication, in the window) raise
        InsufficientDataError.
    holdout_fraction
        The most recent share of the rows, by event time, held out for the gate.
    model_name
        Only rows whose prediction came from this model (``None``: any).
    max_rows
        Keep at most this many of the most recent rows (``None``: no cap), so a busy topic
        cannot make a retrain slow or memory-hungry.
    not_before
        Leave out rows with an earlier event time (``None``: no bound), for example the start
        of the drift window that triggered the retrain, to train on the new population only.
    """

    window: float | None = 3600.0
    min_rows: int = 2000
    holdout_fraction: float = 0.25
    model_name: str | None = None
    max_rows: int | None = None
    not_before: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError("holdout_fraction must be in (0, 1)")
        if self.min_rows < 2:
            raise ValueError("min_rows must be at least 2")
        if self.window is not None and self.window <= 0:
            raise ValueError("window must be positive seconds or None")
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError("max_rows must be at least min_rows")


@dataclass
class Dataset:
    train: list[SourcedRow]
    holdout: list[SourcedRow]
    duplicates: int = 0
    window_start: float = 0.0
    window_end: float = 0.0
    train_ranges: list[OffsetRange] = field(default_factory=list)
    holdout_ranges: list[OffsetRange] = field(default_factory=list)
    fingerprint: str = ""

    def columns(self, split: str, names: Sequence[str]) -> tuple[dict[str, list], list[int]]:
        """``(feature columns, labels)`` of ``split`` ("train" or "holdout")."""
        rows = self.train if split == "train" else self.holdout
        cols: dict[str, list] = {n: [] for n in names}
        for r in rows:
            features = r.event.prediction.features
            for n in names:
                cols[n].append(features.get(n))
        return cols, [r.event.label for r in rows]

    def champion_scores(self, split: str = "holdout") -> list[float]:
        """The scores the serving model gave these rows when they were served."""
        rows = self.train if split == "train" else self.holdout
        return [r.event.prediction.score for r in rows]


def offset_ranges(rows: Iterable[SourcedRow]) -> list[OffsetRange]:
    """Per topic partition, the first and last offset among ``rows`` (sorted)."""
    spans: dict[tuple[str, int], list[int]] = {}
    for r in rows:
        span = spans.get((r.topic, r.partition))
        if span is None:
            spans[(r.topic, r.partition)] = [r.offset, r.offset]
        else:
            span[0] = min(span[0], r.offset)
            span[1] = max(span[1], r.offset)
    return [
        OffsetRange(topic=t, partition=p, first_offset=a, last_offset=b)
        for (t, p), (a, b) in sorted(spans.items())
    ]


def _fingerprint(rows: Iterable[SourcedRow]) -> str:
    digest = hashlib.sha256()
    for r in rows:
        digest.update(r.event.prediction.prediction_id.encode())
        digest.update(msgspec.json.encode(r.event.prediction.features, order="sorted"))
        digest.update(str(r.event.label).encode())
    return digest.hexdigest()


def latest_rows(
    rows: Iterable[SourcedRow], model_name: str | None = None
) -> tuple[list[SourcedRow], int]:
    """One row per prediction id (the last copy read wins), of ``model_name``'s predictions
    (None: any), ordered by event time; and how many duplicates were dropped."""
    latest: dict[str, SourcedRow] = {}
    total = 0
    for r in rows:
        if model_name and r.event.prediction.model_name != model_name:
            continue
        total += 1
        latest[r.event.prediction.prediction_id] = r
    ordered = sorted(latest.values(), key=lambda r: (r.event.event_time, r.partition, r.offset))
    return ordered, total - len(latest)


def build_dataset(rows: Iterable[SourcedRow], policy: RangePolicy) -> Dataset:
    """De-duplicate, keep the window, check the size, split train/holdout by event time."""
    ordered, duplicates = latest_rows(rows, policy.model_name)
    if ordered and policy.window is not None:
        start = ordered[-1].event.event_time - policy.window
        ordered = [r for r in ordered if r.event.event_time >= start]
    if policy.not_before is not None:
        ordered = [r for r in ordered if r.event.event_time >= policy.not_before]
    if policy.max_rows is not None:
        ordered = ordered[-policy.max_rows:]
    if len(ordered) < policy.min_rows:
        raise InsufficientDataError(
            f"{len(ordered)} labeled rows in range, fewer than the {policy.min_rows} needed; "
            "wait for more labels or lower DRIFTLINE_RETRAIN_MIN_ROWS"
        )
    labels = {r.event.label for r in ordered}
    if len(labels) < 2:
        raise InsufficientDataError(f"every labeled row in range has label {labels.pop()}")
    cut = len(ordered) - max(1, round(len(ordered) * policy.holdout_fraction))
    train, holdout = ordered[:cut], ordered[cut:]
    return Dataset(
        train=train,
        holdout=holdout,
        duplicates=duplicates,
        window_start=ordered[0].event.event_time,
        window_end=ordered[-1].event.event_time,
        train_ranges=offset_ranges(train),
        holdout_ranges=offset_ranges(holdout),
        fingerprint=_fingerprint(ordered),
    )
