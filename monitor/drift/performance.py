"""Per-window model performance from joined predictions, mergeable as labels arrive.

A :class:`PerformanceAccumulator` belongs to one (model name, version, window) where the
window is that of the *prediction's* event time, so its numbers line up with the drift window
of the same predictions. Labels arrive late; every :meth:`~PerformanceAccumulator.evaluate`
call returns what is known so far, with the label coverage (labeled / predictions in the
window) saying how much that is.

Choices:

- A prediction is positive when ``score >= threshold`` (default 0.5); accuracy, precision,
  recall and F1 come from the confusion counts at that threshold.
- ROC AUC is *binned*: positives and negatives are counted in ``bins`` equal score bins on
  [0, 1] and pairs in the same bin count one half (as ties). That keeps the state at
  ``2 x bins`` integers and makes it mergeable across workers and windows; the error against
  the exact AUC is at most half the share of positive-negative pairs that share a bin (with
  200 bins, typically below 0.002).
- Log loss clips the score to ``[1e-15, 1 - 1e-15]``; Brier is the mean squared error of the
  score.
- Label delay (label time minus prediction time) keeps count, sum, min, max and a coarse
  histogram (1 min, 5 min, 15 min, 1 h, 6 h, 1 d, 3 d, 7 d) for an upper bound of the median
  and the 90th percentile.

>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> y = rng.integers(0, 2, 1000)
>>> s = np.clip(0.3 * y + rng.random(1000) * 0.7, 0, 1)
>>> acc = PerformanceAccumulator()
>>> acc.add_predictions(1250)
>>> for score, label in zip(s, y):
...     acc.update(float(score), int(label), delay=120.0)
>>> r = acc.evaluate()
>>> r.labeled, r.label_coverage, round(r.accuracy, 3), round(r.roc_auc, 3)
(1000, 0.8, 0.708, 0.826)
>>> from sklearn.metrics import roc_auc_score
>>> round(roc_auc_score(y, s), 3)  # exact, for comparison
0.826
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence

import msgspec
import numpy as np

from driftline.events import FeatureStatistic, OffsetRange
from driftline.intervals import binned_auc_standard_error
from monitor.drift.judge import FeatureJudgement
from monitor.drift.spans import merge_spans, offset_ranges, widen

__all__ = [
    "DEFAULT_TOLERANCES",
    "DELAY_EDGES",
    "PerformanceAccumulator",
    "PerformanceReport",
    "degradation_p_value",
    "judge_metrics",
    "judge_performance",
]

# Degradation tolerated before a metric counts as drifted, in the metric's own units.
DEFAULT_TOLERANCES: dict[str, float] = {
    "accuracy": 0.05,
    "roc_auc": 0.05,
    "f1": 0.05,
    "log_loss": 0.1,
    "brier": 0.03,
}
_HIGHER_IS_BETTER = {"accuracy", "precision", "recall", "f1", "roc_auc"}
DELAY_EDGES = (60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0, 259200.0, 604800.0)
_EPS = 1e-15
_DELAY_EDGES = np.array(DELAY_EDGES)
_BULK = 16  # fewer labeled predictions are counted one at a time (numpy's set-up costs more)


def _added(total: float, values: np.ndarray) -> float:
    """``total`` plus each of ``values`` in turn, as a loop of ``+=`` would add them."""
    if not len(values):
        return total
    return float(np.add.accumulate(np.concatenate(([total], values)))[-1])


class PerformanceReport(msgspec.Struct, kw_only=True, frozen=True):
    """Performance of one window so far; metrics are None until they are defined."""

    predictions: int
    labeled: int
    label_coverage: float | None
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None
    log_loss: float | None
    brier: float | None
    error_rate: float | None
    positive_rate: float | None
    delay_mean: float | None
    delay_min: float | None
    delay_max: float | None
    delay_p50_at_most: float | None
    delay_p90_at_most: float | None
    # each defined metric's standard error (:meth:`PerformanceAccumulator.standard_errors`)
    standard_errors: dict[str, float] = {}

    def metrics(self) -> dict[str, float]:
        """The defined metrics by name (for Prometheus gauges or a baseline comparison)."""
        names = ("label_coverage", "accuracy", "precision", "recall", "f1", "roc_auc",
                 "log_loss", "brier", "error_rate", "delay_mean")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


class PerformanceAccumulator(msgspec.Struct, kw_only=True):
    """Mergeable confusion counts, score histograms per class, loss sums and label delays.

    Parameters
    ----------
    threshold
        Score at or above which a prediction counts as positive.
    bins
        Equal-width score bins on [0, 1] for the binned ROC AUC.
    """

    threshold: float = 0.5
    bins: int = 200
    predictions: int = 0
    # every prediction's score in the ``bins`` bins, labeled or not (for the estimate of the
    # unlabeled part); counts sum to ``predictions`` unless some were counted without scores
    scored: list[int] = []
    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0
    positives: list[int] = []
    negatives: list[int] = []
    log_loss_sum: float = 0.0
    brier_sum: float = 0.0
    # sums of squares of the per-prediction log loss and Brier score, for their standard
    # errors; None while nothing is labeled, and for good in counts that were encoded with
    # labels but without these sums (their windows' losses are not tested)
    log_loss_sq_sum: float | None = None
    brier_sq_sum: float | None = None
    delay_count: int = 0
    delay_sum: float = 0.0
    delay_min: float | None = None
    delay_max: float | None = None
    delay_histogram: list[int] = []
    # where the events that completed the labeled pairs were read: "topic:partition" ->
    # [first, last] offset (see monitor.drift.spans); the evidence of a performance event
    offsets: dict[str, list[int]] = {}
    # where the counted predictions were read (the same form); a performance-estimate
    # event's evidence
    scored_offsets: dict[str, list[int]] = {}

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError("threshold must be in [0, 1]")
        if self.bins < 1:
            raise ValueError("bins must be at least 1")
        if not self.positives:
            self.positives = [0] * self.bins
            self.negatives = [0] * self.bins
        if not self.scored:
            self.scored = [0] * self.bins
        if not self.delay_histogram:
            self.delay_histogram = [0] * (len(DELAY_EDGES) + 1)

    @property
    def labeled(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def add_predictions(self, n: int = 1, scores: Sequence[float] | None = None,
                        span: tuple[str, int, int] | None = None) -> None:
        """Count ``n`` predictions made in the window (labeled or not), for the label
        coverage, and their ``scores`` (``n`` of them) for the estimate of the unlabeled part
        (``span``: ``("topic:partition", first, last)``, where they were read).

        >>> acc = PerformanceAccumulator(bins=4)
        >>> acc.add_predictions(3, [0.1, 0.3, 0.9], span=("predictions:1", 5, 7))
        >>> acc.add_score(0.95, ("predictions:1", 9))
        >>> acc.predictions, acc.scored, acc.scored_offsets
        (4, [1, 1, 0, 2], {'predictions:1': [5, 9]})
        """
        if span is not None:
            widen(self.scored_offsets, *span)
        self.predictions += n
        if scores is None:
            return
        if len(scores) != n:
            raise ValueError(f"{n} predictions but {len(scores)} scores")
        if n < _BULK:
            for score in scores:
                self._bin_score(score)
            return
        bins = self.bins
        b = np.minimum((np.asarray(scores, dtype=np.float64) * bins).astype(np.int64), bins - 1)
        self.scored = (np.asarray(self.scored, dtype=np.int64)
                       + np.bincount(b, minlength=bins)).tolist()

    def add_score(self, score: float, read_at: tuple[str, int] | None = None) -> None:
        """Count one prediction with its score (:meth:`add_predictions` of one; ``read_at``:
        ``("topic:partition", offset)``)."""
        if read_at is not None:
            widen(self.scored_offsets, read_at[0], read_at[1], read_at[1])
        self.predictions += 1
        self._bin_score(score)

    def _bin_score(self, score: float) -> None:
        b = int(score * self.bins)
        self.scored[b if b < self.bins else self.bins - 1] += 1

    def update(self, score: float, label: int, delay: float | None = None) -> None:
        """Count one labeled prediction (``label`` 0 or 1; ``delay`` in seconds)."""
        self.update_many([score], [label], None if delay is None else [delay])

    def update_many(self, scores: Sequence[float], labels: Sequence[int],
                    delays: Sequence[float] | None = None,
                    span: tuple[str, int, int] | None = None) -> None:
        """Count labeled predictions in order, each as :meth:`update` would, to the same
        counts and the same float sums bit for bit (``delays``: one per prediction, or None
        for none; ``span``: ``("topic:partition", first, last)``, the offsets of the events
        that completed the pairs). Many at once are counted by numpy; the sums still add one
        value at a time, in order.

        >>> one, many = PerformanceAccumulator(), PerformanceAccumulator()
        >>> scores, labels = [i / 40 for i in range(40)], [i % 3 == 0 for i in range(40)]
        >>> for s, y in zip(scores, labels):
        ...     one.update(s, y, delay=s * 100)
        >>> many.update_many(scores, labels, [s * 100 for s in scores])
        >>> one == many
        True
        """
        if not self.labeled:
            self.log_loss_sq_sum = self.brier_sq_sum = 0.0
        if span is not None:
            widen(self.offsets, *span)
        if len(scores) < _BULK:
            self._update_each(scores, labels, delays)
            return
        bins = self.bins
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(labels) != 0
        positive = s >= self.threshold
        tp = int(np.count_nonzero(positive & y))
        fn = int(np.count_nonzero(y)) - tp
        fp = int(np.count_nonzero(positive)) - tp
        self.tp += tp
        self.fn += fn
        self.fp += fp
        self.tn += len(s) - tp - fn - fp
        b = np.minimum((s * bins).astype(np.int64), bins - 1)
        self.positives = (np.asarray(self.positives, dtype=np.int64)
                          + np.bincount(b[y], minlength=bins)).tolist()
        self.negatives = (np.asarray(self.negatives, dtype=np.int64)
                          + np.bincount(b[~y], minlength=bins)).tolist()
        p = np.where(y, s, 1.0 - s)  # the probability given to what happened
        right = np.minimum(np.maximum(p, _EPS), 1.0 - _EPS)
        losses = np.fromiter(map(math.log, right.tolist()), np.float64, len(s))
        self.log_loss_sum = _added(self.log_loss_sum, -losses)
        miss = np.where(y, 1.0 - s, s)
        squared = miss * miss
        self.brier_sum = _added(self.brier_sum, squared)
        if self.log_loss_sq_sum is not None:
            self.log_loss_sq_sum = _added(self.log_loss_sq_sum, losses * losses)
        if self.brier_sq_sum is not None:
            self.brier_sq_sum = _added(self.brier_sq_sum, squared * squared)
        if delays is None:
            return
        d = np.asarray(delays, dtype=np.float64)
        self.delay_count += len(d)
        self.delay_sum = _added(self.delay_sum, d)
        low, high = float(d.min()), float(d.max())
        if self.delay_min is None or low < self.delay_min:
            self.delay_min = low
        if self.delay_max is None or high > self.delay_max:
            self.delay_max = high
        # the first bucket whose upper edge is >= the delay
        found = np.searchsorted(_DELAY_EDGES, d, side="left")
        self.delay_histogram = (np.asarray(self.delay_histogram, dtype=np.int64)
                                + np.bincount(found, minlength=len(DELAY_EDGES) + 1)).tolist()

    def _update_each(self, scores: Sequence[float], labels: Sequence[int],
                     delays: Sequence[float] | None) -> None:
        """:meth:`update_many` one prediction at a time (the same arithmetic)."""
        bins, threshold = self.bins, self.threshold
        for i, (score, label) in enumerate(zip(scores, labels, strict=True)):
            positive = score >= threshold
            b = int(score * bins)
            if b >= bins:
                b = bins - 1
            if label:
                if positive:
                    self.tp += 1
                else:
                    self.fn += 1
                self.positives[b] += 1
                p, miss = score, 1.0 - score
            else:
                if positive:
                    self.fp += 1
                else:
                    self.tn += 1
                self.negatives[b] += 1
                p, miss = 1.0 - score, score
            loss = math.log(min(max(p, _EPS), 1.0 - _EPS))
            self.log_loss_sum -= loss
            squared = miss * miss
            self.brier_sum += squared
            if self.log_loss_sq_sum is not None:
                self.log_loss_sq_sum += loss * loss
            if self.brier_sq_sum is not None:
                self.brier_sq_sum += squared * squared
            if delays is not None:
                delay = delays[i]
                self.delay_count += 1
                self.delay_sum += delay
                low, high = self.delay_min, self.delay_max
                if low is None or delay < low:
                    self.delay_min = delay
                if high is None or delay > high:
                    self.delay_max = delay
                # the first bucket whose upper edge is >= delay
                self.delay_histogram[bisect_left(DELAY_EDGES, delay)] += 1

    def predictions_only(self) -> PerformanceAccumulator:
        """A new accumulator with this one's predictions and their scores, and no labels:
        what the scores alone say, whenever the labels arrive.

        >>> acc = PerformanceAccumulator(bins=4)
        >>> acc.add_predictions(2, [0.1, 0.9])
        >>> acc.update(0.9, 1)
        >>> early = acc.predictions_only()
        >>> early.predictions, early.scored, early.labeled, acc.labeled
        (2, [1, 0, 0, 1], 0, 1)
        """
        return PerformanceAccumulator(
            threshold=self.threshold, bins=self.bins, predictions=self.predictions,
            scored=list(self.scored),
            scored_offsets={where: list(span) for where, span in self.scored_offsets.items()})

    def merge(self, other: PerformanceAccumulator) -> PerformanceAccumulator:
        """Add ``other`` (same threshold and bins) into this one; returns self."""
        if (self.threshold, self.bins) != (other.threshold, other.bins):
            raise ValueError("cannot merge performance counts with another threshold or bins")
        # the squares first: a side with nothing labeled counts as zeros (read before the
        # counts below change)
        squares = {}
        for name in ("log_loss_sq_sum", "brier_sq_sum"):
            mine = getattr(self, name) if self.labeled else 0.0
            theirs = getattr(other, name) if other.labeled else 0.0
            squares[name] = None if mine is None or theirs is None else mine + theirs
        if self.labeled or other.labeled:
            for name, value in squares.items():
                setattr(self, name, value)
        for name in ("predictions", "tp", "fp", "tn", "fn", "log_loss_sum", "brier_sum",
                     "delay_count", "delay_sum"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.positives = [a + b for a, b in zip(self.positives, other.positives, strict=True)]
        self.negatives = [a + b for a, b in zip(self.negatives, other.negatives, strict=True)]
        self.scored = [a + b for a, b in zip(self.scored, other.scored, strict=True)]
        self.delay_histogram = [
            a + b for a, b in zip(self.delay_histogram, other.delay_histogram, strict=True)
        ]
        mins = [d for d in (self.delay_min, other.delay_min) if d is not None]
        maxs = [d for d in (self.delay_max, other.delay_max) if d is not None]
        self.delay_min = min(mins) if mins else None
        self.delay_max = max(maxs) if maxs else None
        merge_spans(self.offsets, other.offsets)
        merge_spans(self.scored_offsets, other.scored_offsets)
        return self

    def evidence(self) -> list[OffsetRange]:
        """The offset ranges of the events that completed the labeled pairs, per topic
        partition.

        >>> acc = PerformanceAccumulator()
        >>> acc.update_many([0.2, 0.9], [0, 1], span=("labels:3", 17, 18))
        >>> acc.merge(PerformanceAccumulator(offsets={"labels:3": [4, 9]})).evidence()
        [OffsetRange(topic='labels', partition=3, first_offset=4, last_offset=18)]
        """
        return offset_ranges(self.offsets)

    def scored_evidence(self) -> list[OffsetRange]:
        """The offset ranges of the counted predictions, per topic partition."""
        return offset_ranges(self.scored_offsets)

    def roc_auc(self) -> float | None:
        """Binned ROC AUC, or None while one class is absent."""
        n_pos, n_neg = sum(self.positives), sum(self.negatives)
        if n_pos == 0 or n_neg == 0:
            return None
        below = 0  # negatives in lower bins
        wins = 0.0
        for pos, neg in zip(self.positives, self.negatives, strict=True):
            wins += pos * (below + 0.5 * neg)
            below += neg
        return wins / (n_pos * n_neg)

    def standard_errors(self) -> dict[str, float]:
        """The standard error of each defined metric, at its observed value: binomial for
        accuracy, DeLong's for the binned ROC AUC, the delta method over the confusion
        counts for F1, and the per-prediction spread for the log loss and the Brier score
        (left out for counts encoded without their squares).

        >>> acc = PerformanceAccumulator()
        >>> acc.update_many([0.9, 0.8, 0.3, 0.2] * 100, [1, 0, 1, 0] * 100)
        >>> {k: round(v, 4) for k, v in acc.standard_errors().items()}
        {'accuracy': 0.025, 'roc_auc': 0.0251, 'f1': 0.0306, 'log_loss': 0.0319, 'brier': 0.0138}
        """
        n = self.labeled
        if not n:
            return {}
        out: dict[str, float] = {}
        tp, fp, fn = self.tp, self.fp, self.fn
        accuracy = (tp + self.tn) / n
        out["accuracy"] = math.sqrt(accuracy * (1.0 - accuracy) / n)
        auc_error = binned_auc_standard_error(self.positives, self.negatives)
        if auc_error is not None:
            out["roc_auc"] = auc_error
        if tp:
            # F1 = 2a / (2a + b + c) of the shares a, b, c of tp, fp, fn; its gradient is
            # orthogonal to the shares (F1 does not change when they scale), so the
            # multinomial variance reduces to sum(g_i^2 share_i) / n
            a, b, c = tp / n, fp / n, fn / n
            d = (2 * a + b + c) ** 2
            g_a, g_bc = 2 * (b + c) / d, -2 * a / d
            out["f1"] = math.sqrt((g_a * g_a * a + g_bc * g_bc * (b + c)) / n)
        for name, total, squares in (("log_loss", self.log_loss_sum, self.log_loss_sq_sum),
                                     ("brier", self.brier_sum, self.brier_sq_sum)):
            if squares is not None:
                mean = total / n
                out[name] = math.sqrt(max(squares / n - mean * mean, 0.0) / n)
        return out

    def evaluate(self) -> PerformanceReport:
        """The window's performance so far."""
        n = self.labeled
        tp, fp, fn = self.tp, self.fp, self.fn
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = (
            2 * precision * recall / (precision + recall)
            if precision is not None and recall is not None and precision + recall > 0
            else None
        )
        accuracy = (tp + self.tn) / n if n else None
        return PerformanceReport(
            predictions=self.predictions,
            labeled=n,
            label_coverage=min(n / self.predictions, 1.0) if self.predictions else None,
            accuracy=accuracy,
            precision=precision,
            recall=recall,
            f1=f1,
            roc_auc=self.roc_auc(),
            log_loss=self.log_loss_sum / n if n else None,
            brier=self.brier_sum / n if n else None,
            error_rate=None if accuracy is None else 1.0 - accuracy,
            positive_rate=(tp + fn) / n if n else None,
            delay_mean=self.delay_sum / self.delay_count if self.delay_count else None,
            delay_min=self.delay_min,
            delay_max=self.delay_max,
            delay_p50_at_most=self._delay_bound(0.5),
            delay_p90_at_most=self._delay_bound(0.9),
            standard_errors=self.standard_errors(),
        )

    def _delay_bound(self, q: float) -> float | None:
        if not self.delay_count:
            return None
        target = q * self.delay_count
        seen = 0
        for i, count in enumerate(self.delay_histogram):
            seen += count
            if seen >= target:
                return DELAY_EDGES[i] if i < len(DELAY_EDGES) else self.delay_max
        return self.delay_max

    def encode(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def decode(cls, data: bytes) -> PerformanceAccumulator:
        return msgspec.json.decode(data, type=cls)


def judge_performance(
    report: PerformanceReport,
    baseline: Mapping[str, float],
    tolerances: Mapping[str, float] | None = None,
    *,
    min_labeled: int = 200,
    alpha: float | None = None,
) -> list[FeatureJudgement]:
    """Judge a window's metrics against the model version's baseline (its test metrics).

    A metric's limit is ``baseline - tolerance`` (``+`` for losses); its ratio is the
    degradation over the tolerance. With ``alpha`` (the window's share of the contract, see
    :func:`judge_metrics`) a metric is drifted when the window shows, at that level, that it
    is worse than its limit; without, when its value is past the limit. Metrics missing from
    ``baseline`` or from the report are skipped; with fewer than ``min_labeled`` labels
    nothing is drifted.

    >>> acc = PerformanceAccumulator()
    >>> for score, label in [(0.9, 1), (0.8, 0), (0.3, 1), (0.2, 0)] * 100:
    ...     acc.update(score, label)
    >>> [(j.feature, round(j.value, 3), round(j.threshold, 3), j.drifted)
    ...  for j in judge_performance(acc.evaluate(), {"accuracy": 0.8, "roc_auc": 0.78})]
    [('accuracy', 0.5, 0.75, True), ('roc_auc', 0.75, 0.73, False)]
    >>> [(j.feature, j.drifted) for j in judge_performance(
    ...     acc.evaluate(), {"accuracy": 0.8, "roc_auc": 0.78}, alpha=1e-6)]
    [('accuracy', True), ('roc_auc', False)]
    """
    tolerances = DEFAULT_TOLERANCES if tolerances is None else tolerances
    return judge_metrics(report.metrics(), baseline, tolerances, rows=report.labeled,
                         judged=report.labeled >= min_labeled, alpha=alpha,
                         standard_errors=report.standard_errors)


def degradation_p_value(value: float, limit: float, standard_error: float, *,
                        higher_is_better: bool) -> float:
    """One-sided p-value of "the metric is no worse than ``limit``" given the window's
    ``value`` and its ``standard_error`` (normal approximation). Small when the value is far
    past the limit for its standard error.

    >>> round(degradation_p_value(0.70, 0.75, 0.02, higher_is_better=True), 5)
    0.00621
    >>> degradation_p_value(0.80, 0.75, 0.0, higher_is_better=True)
    1.0
    """
    worse = limit - value if higher_is_better else value - limit
    if standard_error <= 0.0:
        return 0.0 if worse > 0 else 1.0
    return 0.5 * math.erfc(worse / standard_error / math.sqrt(2.0))


def judge_metrics(
    values: Mapping[str, float],
    baseline: Mapping[str, float],
    tolerances: Mapping[str, float],
    *,
    rows: int,
    judged: bool,
    method_prefix: str = "",
    alpha: float | None = None,
    standard_errors: Mapping[str, float] | None = None,
) -> list[FeatureJudgement]:
    """Judge metric ``values`` against ``baseline`` within ``tolerances`` (as
    :func:`judge_performance` describes); nothing is drifted unless ``judged``. The
    judgements' method is the metric's name after ``method_prefix``.

    With ``alpha``, the metrics judged share it evenly (Bonferroni) and each is drifted
    when its :func:`degradation_p_value` is below its share; a metric without a standard
    error in ``standard_errors`` is reported, never drifted. Each judgement then carries
    the p-value as a second statistic."""
    out = []
    names = [n for n, t in tolerances.items() if n in baseline and n in values and t > 0]
    level = None if alpha is None else alpha / max(len(names), 1)
    errors = standard_errors or {}
    for name in names:
        tolerance = tolerances[name]
        value, base = values[name], baseline[name]
        higher = name in _HIGHER_IS_BETTER
        worse = base - value if higher else value - base
        limit = base - tolerance if higher else base + tolerance
        ratio = max(worse, 0.0) / tolerance
        method = method_prefix + name
        if level is None:
            drifted = judged and ratio >= 1.0
            p_value = None
        else:
            error = errors.get(name)
            p_value = (None if error is None
                       else degradation_p_value(value, limit, error, higher_is_better=higher))
            drifted = judged and p_value is not None and p_value < level
        stats = [FeatureStatistic(feature=name, statistic=method, value=value, threshold=limit,
                                  drifted=drifted, feature_type="metric")]
        if level is not None and p_value is not None:
            stats.append(FeatureStatistic(feature=name, statistic=f"{method}_p_value",
                                          value=p_value, threshold=level, drifted=drifted,
                                          feature_type="metric"))
        out.append(FeatureJudgement(
            feature=name, feature_type="metric", method=method, value=value, threshold=limit,
            ratio=ratio, drifted=drifted, rows=rows, statistics=stats,
        ))
    return out
