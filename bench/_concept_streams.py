"""Concept drift detection against river's detectors, on streams kept apart for tuning and
for evaluation (the ``detection`` part of ``bench_drift_quality.py``).

Every stream is a labeled stream with one known onset. A model stream trains scikit-learn's
HistGradientBoostingClassifier on its first ``TRAIN`` events and monitors the rest, so each
detector sees the same deployed model's scores and 0/1 errors; a Bernoulli stream is the
error stream itself (the OptWin/MOA protocol: errors drawn with probability ``p0``, then
``p1``), scored for driftline's detector as 0.3 when wrong and 0.7 when right with label 1.

Tuning set: ``agrawal-1-6`` (the concept benchmark's stream; driftline's detector and its
parameters were chosen looking at it) and stable streams (the GLR thresholds' split of the
budget over the scales of the newer part, :func:`monitor.drift.concept.glr_threshold`, was
chosen from where a flat threshold's false alarms fall on stable Bernoulli error streams).
Evaluation set: everything else. One change was made after a first look at them: the flat
threshold became the scale-dependent one, for the reason above (a null-stream finding); no
constant was fitted to them.

Detectors, each on the same stream per seed:

- ``driftline``: :class:`monitor.drift.concept.ConceptDriftDetector` (the one-sided
  Bernoulli GLR scan on the error, its thresholds from the default contract at one labeled
  event a second, 1,000-event warm-up) through :class:`monitor.merging.policy.DriftPolicy`
  (one hour of cooldown at one event a second);
- ``driftline, 6 partitions``: the same as the monitor runs it with six partitions: each
  event goes to one of six partitions (at random, as keys hash), labeled one a second (the
  event's position is its label time); each partition counts its errors in label-time
  buckets (:class:`monitor.state.error_buckets.ErrorBuckets`, the default 1 s) a run of
  ``RUN`` events at a time and sends the closed ones with its watermark, and the merger
  (:class:`monitor.merging.merge.WindowMerger`) feeds them to one detector in bucket order and
  raises the policy's events; an alarm is at the label time the event carries (the newest
  label of the partition's share of the bucket that fired), delays in events of the whole
  stream. The ``60-s buckets`` row is the same with buckets of 60 events, whose six shares are
  fed one partition after another;
- river's ``ADWIN``, ``PageHinkley`` and ``KSWIN`` (defaults) on the error stream;
- ``periodic``: as many alarms as driftline raised on that seed, evenly spaced over the
  monitored stream at a random phase (a detector must beat it);
- ``CUSUM knowing both rates (floor)``: Page's CUSUM told the seed's error rate before the
  onset and after the change (the share of errors in the last quarter of the stream), its
  threshold set for the false alarms the contract allows driftline's concept detector (a
  quarter of one per 30 days at one labeled event a second): the optimal detector for a step
  between known rates (:mod:`_oracle_cusum`), so its median delay is a floor for the others
  at that false-alarm rate. It stops at its first alarm after the onset, and is left out of
  the gradual stream, where a step between two known rates is not the change.

A detection delay is counted in events from the onset (gradual drifts: from the start of the
transition) to the first alarm at or after it; alarms before it are false alarms.
"""

from __future__ import annotations

import functools
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import _oracle_cusum
import numpy as np

from driftline.events import FeatureStatistic
from monitor.drift.concept import ConceptDriftDetector
from monitor.drift.contract import family_budget
from monitor.merging.concept import ConceptParams
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.error_buckets import ErrorBuckets
from monitor.state.partition import Partial

__all__ = ["EVALUATION", "STREAMS", "TUNING", "Alarms", "beats", "detection",
           "driftline_alarms", "errors_of", "print_goal", "print_stream", "river_alarms"]

TOTAL, TRAIN, ONSET = 100_000, 10_000, 55_000
GRADUAL_WIDTH = 5_000
PARTITIONS = 6
LABEL_RATE = 1.0  # labeled events a second (the policy's clock), for the GLR threshold
RUN = 500  # events of the whole stream applied per partition between sends
BUCKETS = {"": 1.0, ", 60-s buckets": 60.0}  # row suffix -> error bucket width (seconds)
ORACLE = "CUSUM knowing both rates (floor)"


@dataclass(frozen=True)
class Stream:
    """What a detector sees of one seed: the deployed model's scores and the labels after
    ``TRAIN``, and where the drift begins (a position in the whole stream)."""

    scores: np.ndarray
    labels: np.ndarray
    onset: int


def _encoded(pairs) -> tuple[np.ndarray, np.ndarray]:
    """Rows as floats (a string feature gets a code per value) and labels as 0/1."""
    names: list[str] = []
    codes: dict[str, dict[str, float]] = {}
    rows, labels = [], []
    for x, y in pairs:
        if not names:
            names = list(x)
        row = []
        for n in names:
            v = x[n]
            if isinstance(v, str):
                v = codes.setdefault(n, {}).setdefault(v, float(len(codes.get(n, {}))))
            row.append(float(v))
        rows.append(row)
        labels.append(int(y))
    return np.asarray(rows), np.asarray(labels)


def _model_stream(make: Callable[[int], object], seed: int, onset: int) -> Stream:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    X, y = _encoded(make(seed))
    with threadpool_limits(1):  # OpenMP threads only thrash a small shared machine
        model = HistGradientBoostingClassifier(random_state=seed).fit(X[:TRAIN], y[:TRAIN])
    return Stream(model.predict_proba(X[TRAIN:])[:, 1], y[TRAIN:], onset)


def _abrupt(before, after):
    return itertools.chain(before.take(ONSET), after.take(TOTAL - ONSET))


def _agrawal(a: int, b: int) -> Callable[[int], Stream]:
    from river.datasets import synth

    return lambda seed: _model_stream(lambda s: _abrupt(
        synth.Agrawal(classification_function=a, seed=s, perturbation=0.1),
        synth.Agrawal(classification_function=b, seed=s + 10_000, perturbation=0.1)),
        seed, ONSET)


def _agrawal_gradual(a: int, b: int) -> Callable[[int], Stream]:
    from river.datasets import synth

    return lambda seed: _model_stream(lambda s: synth.ConceptDriftStream(
        stream=synth.Agrawal(classification_function=a, seed=s, perturbation=0.1),
        drift_stream=synth.Agrawal(classification_function=b, seed=s + 10_000,
                                   perturbation=0.1),
        position=ONSET, width=GRADUAL_WIDTH, seed=s).take(TOTAL),
        seed, ONSET - GRADUAL_WIDTH // 2)


def _sea(a: int, b: int) -> Callable[[int], Stream]:
    from river.datasets import synth

    return lambda seed: _model_stream(lambda s: _abrupt(
        synth.SEA(variant=a, noise=0.1, seed=s), synth.SEA(variant=b, noise=0.1, seed=s + 1)),
        seed, ONSET)


def _stagger(a: int, b: int) -> Callable[[int], Stream]:
    from river.datasets import synth

    return lambda seed: _model_stream(lambda s: _abrupt(
        synth.STAGGER(classification_function=a, seed=s, balance_classes=True),
        synth.STAGGER(classification_function=b, seed=s + 1, balance_classes=True)),
        seed, ONSET)


def _bernoulli(p0: float, p1: float) -> Callable[[int], Stream]:
    def make(seed: int) -> Stream:
        rng = np.random.default_rng(seed)
        n = TOTAL - TRAIN
        p = np.where(np.arange(TRAIN, TOTAL) < ONSET, p0, p1)
        wrong = rng.random(n) < p
        return Stream(np.where(wrong, 0.3, 0.7), np.ones(n, dtype=int), ONSET)
    return make


STREAMS: dict[str, Callable[[int], Stream]] = {
    "agrawal-1-6": _agrawal(0, 5),
    "agrawal-2-5-gradual": _agrawal_gradual(1, 4),
    "agrawal-3-7": _agrawal(2, 6),
    "sea-0-3": _sea(0, 3),
    "sea-1-2": _sea(1, 2),
    "stagger-0-1": _stagger(0, 1),
    "bernoulli-0.2-0.8": _bernoulli(0.2, 0.8),
    "bernoulli-0.2-0.3": _bernoulli(0.2, 0.3),
}
TUNING = ("agrawal-1-6",)
EVALUATION = tuple(name for name in STREAMS if name not in TUNING)


@dataclass
class Alarms:
    """One detector's alarms over the seeds of one stream."""

    name: str
    delays: list[int | None] = field(default_factory=list)
    false_alarms: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def add(self, positions: list[int], onset: int) -> None:
        after = [p for p in positions if p >= onset]
        self.delays.append(after[0] - onset if after else None)
        self.false_alarms.append(sum(p < onset for p in positions))
        self.counts.append(len(positions))

    @property
    def detected(self) -> int:
        return sum(d is not None for d in self.delays)

    @property
    def median_delay(self) -> float | None:
        found = [d for d in self.delays if d is not None]
        return statistics.median(found) if found else None


def _through_policy(positions: list[int]) -> list[int]:
    """The detections the monitor's policy turns into events (cooldown at 1 event/s)."""
    policy = DriftPolicy(cooldown=3600.0)
    stat = [FeatureStatistic(feature="error_rate", statistic="glr", value=1.0,
                             threshold=0.0, drifted=True, feature_type="metric")]
    return [p for p in positions if policy.observe_detection("m", "1", float(p), stat)]


def driftline_alarms(stream: Stream, false_alarms: float = 1.0) -> list[int]:
    """The positions of the concept events driftline's detector raises through the policy,
    at a contract of ``false_alarms`` per 30 days (the default: 1)."""
    found = ConceptDriftDetector(false_alarms=false_alarms, label_rate=LABEL_RATE).update_many(
        stream.scores, stream.labels)
    return _through_policy([TRAIN + d.index for d in found])


def _driftline_partitions(stream: Stream, seed: int, width: float) -> list[int]:
    """The positions of the concept events the monitor raises over six partitions."""
    n = len(stream.scores)
    owner = np.random.default_rng(seed + 7).integers(PARTITIONS, size=n)
    errors = ((stream.scores >= 0.5) != stream.labels.astype(bool)).astype(np.uint8)
    times = (TRAIN + np.arange(n)) / LABEL_RATE
    merger = WindowMerger(partitions=PARTITIONS, profiles=lambda _n, _v: None,
                          policy=DriftPolicy(cooldown=3600.0),
                          concept_params=ConceptParams(label_rate=LABEL_RATE),
                          idle_timeout=float("inf"), started=0.0, clock=lambda: 0.0)
    buckets = [ErrorBuckets(width, p) for p in range(PARTITIONS)]
    positions: list[int] = []

    def send(partial: Partial) -> None:
        for judged in merger.add(partial, now=0.0):
            positions.extend(round(e.event_time * LABEL_RATE) for e in judged.events)

    for start in range(0, n, RUN):
        run = slice(start, min(start + RUN, n))
        for p in range(PARTITIONS):
            mine = start + np.flatnonzero(owner[run] == p)
            if not len(mine):
                continue
            buckets[p].add("m", "1", times[mine], errors[mine], "labels", mine.tolist())
            shares = [share for _, _, share in buckets[p].advance(float(times[mine[-1]]))]
            send(Partial(kind="errors" if shares else "watermark", partition=p,
                         watermark=None, model_name="m", model_version="1",
                         buckets=shares or None, concept_watermark=buckets[p].through))
    for p in range(PARTITIONS):  # the end: every bucket out
        shares = [share for _, _, share in buckets[p].flush()]
        send(Partial(kind="errors", partition=p, watermark=None, model_name="m",
                     model_version="1", buckets=shares, concept_watermark=1e18))
    return positions


def errors_of(stream: Stream) -> list[int]:
    """The deployed model's 0/1 errors (a score of 0.5 or more predicts 1)."""
    return ((stream.scores >= 0.5).astype(int) != stream.labels).astype(int).tolist()


def river_alarms(make: Callable[[], object], errors: list[int]) -> list[int]:
    """The positions (in the whole stream) at which a river detector fed ``errors`` one at a
    time detects a change."""
    detector = make()
    out = []
    for i, e in enumerate(errors):
        detector.update(e)  # type: ignore[attr-defined]
        if detector.drift_detected:  # type: ignore[attr-defined]
            out.append(TRAIN + i)
    return out


@functools.cache
def _cusum_threshold(p0: float, p1: float) -> float:
    return _oracle_cusum.threshold(p0, p1, family_budget(1.0, "concept"), LABEL_RATE)


def _rate(errors: list[int]) -> float:
    return float(f"{sum(errors) / len(errors):.3g}")  # (3 digits: the thresholds are cached)


def oracle_alarms(errors: list[int], onset: int) -> list[int]:
    """The positions (in the whole stream) at which the CUSUM knowing both error rates
    alarms, through its first alarm at or after ``onset``: the rate before it and the rate
    in the last quarter of the stream. A model without an error before the onset is known
    to have changed at its first error after it. None when the errors do not rise."""
    p0, p1 = _rate(errors[:onset - TRAIN]), _rate(errors[-len(errors) // 4:])
    if p1 <= p0 or p1 >= 1:
        return []
    if p0 == 0:
        return [TRAIN + errors.index(1, onset - TRAIN)]
    out = []
    for i in _oracle_cusum.alarms(errors, p0, p1, _cusum_threshold(p0, p1)):
        out.append(TRAIN + i)
        if TRAIN + i >= onset:
            break
    return out


def _periodic(count: int, seed: int) -> list[int]:
    """``count`` alarms evenly spaced over the monitored stream, at a random phase (a fixed
    phase could put one exactly on the onset)."""
    if count == 0:
        return []
    spacing = (TOTAL - TRAIN) / count
    phase = np.random.default_rng(seed + 13).random() * spacing
    return [TRAIN + int(phase + j * spacing) for j in range(count)]


def run_stream(name: str, seeds: int, kswin: bool) -> list[Alarms]:
    """Every detector over ``seeds`` seeds of the stream ``name``."""
    from river import drift

    pooled = [f"driftline, {PARTITIONS} partitions{suffix}" for suffix in BUCKETS]
    results = {n: Alarms(n) for n in ("driftline", *pooled, "river ADWIN", "river PageHinkley",
                                      "river KSWIN", "periodic (driftline's count)",
                                      ORACLE)}
    if not kswin:
        del results["river KSWIN"]
    if "gradual" in name:  # (a step between two known rates is not this change)
        del results[ORACLE]
    for seed in range(seeds):
        stream = STREAMS[name](seed)
        errors = errors_of(stream)
        ours = driftline_alarms(stream)
        found = {
            "driftline": ours,
            **{name: _driftline_partitions(stream, seed, width)
               for name, width in zip(pooled, BUCKETS.values(), strict=True)},
            "river ADWIN": river_alarms(drift.ADWIN, errors),
            "river PageHinkley": river_alarms(drift.PageHinkley, errors),
            "periodic (driftline's count)": _periodic(len(ours), seed),
        }
        if ORACLE in results:
            found[ORACLE] = oracle_alarms(errors, stream.onset)
        if kswin:
            found["river KSWIN"] = river_alarms(lambda s=seed: drift.KSWIN(seed=s), errors)
        for n, positions in found.items():
            results[n].add(positions, stream.onset)
    return list(results.values())


def _met(results: list[Alarms]) -> bool:
    return beats(results[0], next(r for r in results if r.name == "river ADWIN"))


def beats(ours: Alarms, adwin: Alarms) -> bool:
    """``ours`` detects at least as often as ``adwin``, with a lower median delay and no more
    false alarms."""
    if ours.detected < adwin.detected or sum(ours.false_alarms) > sum(adwin.false_alarms):
        return False
    if adwin.median_delay is None:
        return True
    return ours.median_delay is not None and ours.median_delay < adwin.median_delay


def detection(seeds: int, bernoulli_seeds: int, kswin: bool,
              names: tuple[str, ...] = tuple(STREAMS)) -> bool:
    """Print every detector on every stream, and whether driftline beats ADWIN on each;
    True when it does on every evaluation stream."""
    print(f"detection: {TOTAL:,} events per stream, model trained on the first {TRAIN:,}, "
          f"onset at {ONSET:,} (gradual: a {GRADUAL_WIDTH:,}-event transition centred there); "
          f"{seeds} seeds per model stream, {bernoulli_seeds} per Bernoulli stream"
          + ("" if kswin else "; river KSWIN left out (--kswin: about a minute per seed)"),
          flush=True)
    header = (f"{'stream':<22} {'set':<10} {'detector':<42} {'detected':>8} "
              f"{'median delay':>12} {'false alarms':>12} {'alarms':>6}")
    print(header)
    print("-" * len(header))
    verdicts: dict[str, bool] = {}
    started = time.perf_counter()
    for name in names:
        n = bernoulli_seeds if name.startswith("bernoulli") else seeds
        results = run_stream(name, n, kswin)
        verdicts[name] = _met(results)
        print_stream(name, n, results, 42, verdicts[name], "beats ADWIN", started, counts=True)
    return print_goal(verdicts, names, "goal (lower median delay than river ADWIN, no more "
                      "false alarms, on every evaluation stream)")


def print_stream(name: str, seeds: int, rows: list[Alarms], width: int, verdict: bool,
                 says: str, started: float, *, counts: bool = False) -> None:
    """One stream's rows of the detection table (``width``: of the detector column;
    ``counts``: with every detector's alarm count) and its verdict, ``says`` yes or NO."""
    part = "tuning" if name in TUNING else "evaluation"
    for r in rows:
        delay = "-" if r.median_delay is None else f"{r.median_delay:,.0f}"
        print(f"{name:<22} {part:<10} {r.name:<{width}} {r.detected:>5}/{seeds:<2} "
              f"{delay:>12} {sum(r.false_alarms):>12}"
              + (f" {sum(r.counts):>6}" if counts else ""))
    print(f"{'':<22} {'':<10} {says}: {'yes' if verdict else 'NO'}  "
          f"[{time.perf_counter() - started:.0f} s]", flush=True)


def print_goal(verdicts: dict[str, bool], names: tuple[str, ...], goal: str) -> bool:
    """Print whether ``goal`` is met (every evaluation stream's verdict yes); returns it."""
    evaluation = [verdicts[n] for n in names if n in EVALUATION]
    met = bool(evaluation) and all(evaluation)
    print(f"\n{goal}: {'met' if met else 'NOT met'} ({sum(evaluation)} of {len(evaluation)} "
          f"evaluation streams)")
    return met
