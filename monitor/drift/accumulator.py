"""Mergeable window counts of one model version's predictions, judged against its reference.

A :class:`WindowAccumulator` keeps, for one (model name, version, window), the count of
predictions in each of the reference profile's bins per numeric feature (and the sum of the
values in each bin, for the binned Wasserstein distance), the count per category per
categorical feature, missing counts, the same bins for the score, and the first and last
offset per topic partition of the events it counted (the evidence a drift event cites).

- :meth:`~WindowAccumulator.update` queues a prediction; the queue is counted in one go the
  next time the counts are read (in the worker: at each checkpoint and when the window
  closes): a sorted search per numeric feature over at most ``bins`` cut points and a bin
  count, done by numpy for the whole queue, and a count per category. Each row is counted
  once, then dropped.
- :meth:`~WindowAccumulator.merge` adds another accumulator of the same model version:
  partial windows from several workers or partitions, or panes into a larger window.
- :meth:`~WindowAccumulator.evaluate` judges the window in O(features x bins) and returns a
  plain :class:`~monitor.drift.judge.WindowReport`; no raw row is rescanned.
- The state is a msgspec Struct (:class:`WindowState`): :meth:`~WindowAccumulator.encode`
  gives JSON bytes for a faust table with a changelog, :meth:`~WindowAccumulator.decode`
  reads them back with the profile.

A numeric value that is ``None``, not a number or not finite counts as missing; so does a
categorical ``None``. Features not in the profile are ignored. At most ``max_categories``
distinct categories are kept per feature per window; further new ones count as ``"__other__"``
(never a reference category, so they show as unseen).

>>> import numpy as np
>>> from driftline.profile import build_profile
>>> rng = np.random.default_rng(1)
>>> profile = build_profile({"x": rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)},
...                         rng.random(5000), numeric=["x"], categorical=["c"], bins=10)
>>> acc = WindowAccumulator(profile, Window(0.0, 60.0))
>>> for i, (x, c) in enumerate(zip(rng.normal(1.0, size=2000), rng.choice(["a", "b"], 2000))):
...     acc.update({"x": float(x), "c": str(c)}, score=0.5, evidence=("predictions", 0, 100 + i))
>>> report = acc.evaluate()
>>> report.rows, report.drifted_features, report.share_drifted
(2000, ['x'], 0.5)
>>> report.evidence
[OffsetRange(topic='predictions', partition=0, first_offset=100, last_offset=2099)]
>>> WindowAccumulator.decode(profile, acc.encode()).evaluate() == report
True
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from operator import itemgetter

import msgspec
import numpy as np

from driftline.events import FeatureValue, OffsetRange
from driftline.profile import NumericProfile, ReferenceProfile
from monitor.drift.judge import (
    DriftConfig,
    FeatureJudgement,
    WindowReport,
    judge_categorical,
    judge_numeric,
)
from monitor.drift.spans import merge_spans, offset_ranges, widen
from monitor.drift.windows import Window

__all__ = [
    "OTHER_CATEGORY",
    "CategoricalCounts",
    "NumericCounts",
    "WindowAccumulator",
    "WindowState",
]

OTHER_CATEGORY = "__other__"
_QUEUE = 4096  # rows queued by update_many before they are counted


class NumericCounts(msgspec.Struct, kw_only=True):
    """Counts and value sums per bin of one numeric feature (``len(cuts) + 1`` bins)."""

    counts: list[int]
    sums: list[float]
    missing: int = 0

    @classmethod
    def empty(cls, bins: int) -> NumericCounts:
        return cls(counts=[0] * bins, sums=[0.0] * bins)

    def merge(self, other: NumericCounts) -> None:
        if len(other.counts) != len(self.counts):
            raise ValueError("cannot merge counts made on different bins")
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.sums = [a + b for a, b in zip(self.sums, other.sums, strict=True)]
        self.missing += other.missing


class CategoricalCounts(msgspec.Struct, kw_only=True):
    """Counts per category of one categorical feature."""

    counts: dict[str, int] = {}
    missing: int = 0

    def merge(self, other: CategoricalCounts) -> None:
        for name, count in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + count
        self.missing += other.missing


class WindowState(msgspec.Struct, kw_only=True):
    """The serialisable counts of one window; ``offsets`` maps ``"topic:partition"`` to
    ``[first, last]`` offset counted."""

    model_name: str
    model_version: str
    window_start: float
    window_end: float
    rows: int = 0
    numeric: dict[str, NumericCounts] = {}
    categorical: dict[str, CategoricalCounts] = {}
    score: NumericCounts | None = None
    offsets: dict[str, list[int]] = {}


class WindowAccumulator:
    """Counts of one model version's predictions in one window, against ``profile``.

    Parameters
    ----------
    profile
        The reference profile of the version that made the predictions: it fixes the bins.
    window
        The window's bounds, copied into reports and drift events.
    max_categories
        Distinct categories kept per categorical feature; further new ones pool as
        ``"__other__"``, so that a free-text field cannot grow the state without bound.
    """

    def __init__(
        self,
        profile: ReferenceProfile,
        window: Window | None = None,
        *,
        max_categories: int = 1000,
        state: WindowState | None = None,
    ) -> None:
        self.profile = profile
        self.max_categories = max_categories
        if state is None:
            window = window or Window(0.0, 0.0)
            state = WindowState(
                model_name=profile.model_name,
                model_version=profile.model_version,
                window_start=window.start,
                window_end=window.end,
                numeric={p.name: NumericCounts.empty(len(p.cuts) + 1) for p in profile.numeric},
                categorical={p.name: CategoricalCounts() for p in profile.categorical},
                score=None if profile.score is None else NumericCounts.empty(
                    len(profile.score.cuts) + 1
                ),
            )
        self._state = state
        # Events counted but not yet added in: update() only queues, _flush() counts the
        # queue with numpy (a few array calls per feature instead of a search per value).
        self._queued: list[Mapping[str, FeatureValue]] = []
        self._queued_scores: list[float | None] = []
        self._queued_evidence: list[tuple[str, int, int]] = []
        self._bind()

    def _bind(self) -> None:
        # Lookups resolved once: (name, cuts, counts) per numeric feature.
        st = self._state
        self._numeric = [(p.name, _cuts(p.cuts), st.numeric[p.name])
                         for p in self.profile.numeric]
        self._categorical = [(p.name, st.categorical[p.name]) for p in self.profile.categorical]
        self._score = (
            None if self.profile.score is None or st.score is None
            else (_cuts(self.profile.score.cuts), st.score)
        )

    @property
    def state(self) -> WindowState:
        self._flush()
        return self._state

    @property
    def rows(self) -> int:
        return self._state.rows + len(self._queued)

    @property
    def window(self) -> Window:
        return Window(self._state.window_start, self._state.window_end)

    def update(
        self,
        features: Mapping[str, FeatureValue],
        score: float | None = None,
        *,
        evidence: tuple[str, int, int] | None = None,
    ) -> None:
        """Count one prediction; ``evidence`` is its ``(topic, partition, offset)``.

        The mapping is kept until the counts are next read (do not change it meanwhile)."""
        self._queued.append(features)
        self._queued_scores.append(score)
        if evidence is not None:
            self._queued_evidence.append(evidence)

    def update_many(
        self,
        features: list[Mapping[str, FeatureValue]],
        scores: list[float | None],
        evidence: tuple[str, int, int, int] | None = None,
    ) -> None:
        """Count predictions in order, as :meth:`update` does each; ``evidence`` is their
        ``(topic, partition, first offset, last offset)``. The mappings are kept as in
        :meth:`update`."""
        self._queued.extend(features)
        self._queued_scores.extend(scores)
        if evidence is not None:
            topic, partition, first, last = evidence
            self._queued_evidence.append((topic, partition, first))
            self._queued_evidence.append((topic, partition, last))
        if len(self._queued) >= _QUEUE:
            self._flush()  # while the rows are recent (in the CPU's caches)

    def _flush(self) -> None:
        """Add the queued events into the counts: the same counts and sums, bit for bit,
        as adding them one at a time in order."""
        rows = self._queued
        if not rows:
            return
        scores, evidence = self._queued_scores, self._queued_evidence
        self._queued, self._queued_scores, self._queued_evidence = [], [], []
        st = self._state
        st.rows += len(rows)
        columns = self._columns(rows)
        for (_, cuts, nc), values in zip(self._numeric, columns, strict=False):
            _count_numbers(nc, cuts, values)
        for (_, cc), values in zip(self._categorical, columns[len(self._numeric):],
                                   strict=True):
            _count_categories(cc, values, self.max_categories)
        if self._score is not None:
            _count_numbers(self._score[1], self._score[0],
                           [v for v in scores if v is not None])
        for (topic, partition), group in groupby(evidence, key=itemgetter(0, 1)):
            offsets = [e[2] for e in group]
            widen(st.offsets, f"{topic}:{partition}", min(offsets), max(offsets))

    def _columns(self, rows: list[Mapping[str, FeatureValue]]) -> list[Sequence[object]]:
        """The profile's numeric then categorical features of ``rows``, a list of values per
        feature (None where a row lacks it)."""
        names = [name for name, _, _ in self._numeric] + [name for name, _ in self._categorical]
        if len(names) > 1:
            try:  # every row has every feature (the common case): one C call per row
                return list(zip(*map(itemgetter(*names), rows), strict=True))
            except KeyError:
                pass
        return [[r.get(name) for r in rows] for name in names]

    def merge(self, other: WindowAccumulator) -> WindowAccumulator:
        """Add ``other``'s counts (same model version and bins) into this one; returns self.

        The window becomes the smallest interval covering both.
        """
        a, b = self.state, other.state
        if (a.model_name, a.model_version) != (b.model_name, b.model_version):
            raise ValueError(
                f"cannot merge windows of {b.model_name}/{b.model_version} into "
                f"{a.model_name}/{a.model_version}: judge each version against its own profile"
            )
        a.rows += b.rows
        a.window_start = min(a.window_start, b.window_start)
        a.window_end = max(a.window_end, b.window_end)
        for name, nc in b.numeric.items():
            a.numeric[name].merge(nc)
        for name, cc in b.categorical.items():
            a.categorical[name].merge(cc)
        if a.score is not None and b.score is not None:
            a.score.merge(b.score)
        merge_spans(a.offsets, b.offsets)
        return self

    def judged_score(self, ignored: frozenset[str]) -> tuple[NumericProfile, NumericCounts] | None:
        """The score's reference and window counts when the window's judgement tests the score
        (a numeric score in the profile, counted, not ``ignored``); None otherwise."""
        ref, counts = self.profile.score, self.state.score
        if isinstance(ref, NumericProfile) and counts is not None and ref.name not in ignored:
            return ref, counts
        return None

    def evaluate(self, config: DriftConfig | None = None) -> WindowReport:
        """Judge the window against the profile: per-feature verdicts and dataset drift.

        The p-value tests of the window (every judged feature and the score) share the
        contract's level of one look (:meth:`~monitor.drift.judge.DriftConfig.contracted`).
        """
        config = config or DriftConfig()
        st = self.state
        features: list[FeatureJudgement] = []
        ignored = config.ignored
        judged_score = self.judged_score(ignored)
        tests = sum(ref.name not in ignored for ref in self.profile.numeric) + sum(
            ref.name not in ignored for ref in self.profile.categorical) + (
            judged_score is not None)
        config = config.contracted(st.window_end - st.window_start, tests)
        for ref in self.profile.numeric:
            if ref.name in ignored:
                continue
            nc = st.numeric[ref.name]
            features.append(judge_numeric(ref, nc.counts, nc.sums, nc.missing,
                                          config.for_feature(ref.name)))
        for cref in self.profile.categorical:
            if cref.name in ignored:
                continue
            cc = st.categorical[cref.name]
            features.append(judge_categorical(cref, cc.counts, cc.missing,
                                              config.for_feature(cref.name)))
        score = None
        if judged_score is not None:
            ref, counts = judged_score
            score = judge_numeric(ref, counts.counts, counts.sums, counts.missing,
                                  config.for_feature(ref.name), feature_type="score")
        drifted = [j.feature for j in features if j.drifted]
        share = len(drifted) / len(features) if features else 0.0
        judged = st.rows >= config.min_rows
        return WindowReport(
            model_name=st.model_name,
            model_version=st.model_version,
            window_start=st.window_start,
            window_end=st.window_end,
            rows=st.rows,
            judged=judged,
            features=features,
            score=score,
            drifted_features=drifted,
            share_drifted=share,
            dataset_drifted=judged and bool(features) and share >= config.dataset_share,
            dataset_threshold=config.dataset_share,
            evidence=self.evidence(),
            importance=self.profile.importance,
        )

    def evidence(self) -> list[OffsetRange]:
        """The offset ranges of the counted events, per topic partition, sorted."""
        return offset_ranges(self.state.offsets)

    def encode(self) -> bytes:
        """The state as JSON bytes."""
        return _ENCODER.encode(self.state)

    @classmethod
    def decode(
        cls, profile: ReferenceProfile, data: bytes, *, max_categories: int = 1000
    ) -> WindowAccumulator:
        """Rebuild an accumulator from :meth:`encode`'s bytes and the same profile."""
        return cls(profile, max_categories=max_categories, state=_DECODER.decode(data))

    @classmethod
    def from_state(cls, profile: ReferenceProfile, state: WindowState) -> WindowAccumulator:
        return cls(profile, state=state)


def _cuts(cuts: list[float]) -> np.ndarray:
    return np.asarray(cuts, dtype=np.float64)


_NUMBERS = frozenset({float, int, type(None)})  # None becomes NaN: counted as missing
_LABELS = frozenset({str, type(None)})


def _number(value: object) -> float:
    """A value of a numeric feature as a float; NaN (missing) when it is not a number."""
    if isinstance(value, str | bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _count_numbers(nc: NumericCounts, cuts: np.ndarray, values: Sequence[object]) -> None:
    """Count ``values`` into ``nc``'s bins. Not a number (None, a string, a bool), NaN or
    infinite counts as missing; bin ``i`` holds values in ``[cuts[i-1], cuts[i])``."""
    if not values:
        return
    if set(map(type, values)) <= _NUMBERS:
        arr = np.array(values, dtype=np.float64)
    else:
        arr = np.array([_number(v) for v in values], dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        nc.missing += int(len(arr) - np.count_nonzero(finite))
        arr = arr[finite]
    if not len(arr):
        return
    index = np.searchsorted(cuts, arr, side="right")  # as bisect_right
    counts = np.asarray(nc.counts, dtype=np.int64)
    counts += np.bincount(index, minlength=len(counts))
    nc.counts = counts.tolist()
    # ufunc.at adds in order, one value at a time: the same float sums as a loop of +=
    sums = np.asarray(nc.sums, dtype=np.float64)
    np.add.at(sums, index, arr)
    nc.sums = sums.tolist()


def _count_categories(cc: CategoricalCounts, values: Sequence[object], limit: int) -> None:
    """Count ``values`` into ``cc``: None is missing, other values by their string; at most
    ``limit`` distinct categories, later new ones pooled as OTHER_CATEGORY."""
    counts = cc.counts
    if set(map(type, values)) <= _LABELS:
        # Counter keeps first appearances in order, so the limit admits the same categories
        # as counting one value at a time
        seen = Counter(values)
        cc.missing += seen.pop(None, 0)
        items: Iterable[tuple[object, int]] = seen.items()
    else:
        items = ((v, 1) for v in values)
    for value, n in items:
        if value is None:
            cc.missing += n
            continue
        key = value if isinstance(value, str) else str(value)
        if key not in counts and len(counts) >= limit:
            key = OTHER_CATEGORY
        counts[key] = counts.get(key, 0) + n


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(WindowState)
