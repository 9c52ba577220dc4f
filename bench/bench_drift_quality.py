"""Drift detection quality: does driftline raise the events it should, and only those?

Seven benchmarks, all pure (no broker), all seeded:

covariate
    Simulated traffic at ``--rate`` predictions/s through the monitor's pure pipeline (event-
    time windows, window accumulators, the judge, the policy), judged against the profile of
    20,000 stable training rows. Scored by the generator's true default probability (a stand-in
    for the model). The ``loan-amount-shift`` scenario (the mean loan amount moves from 2.5 to
    8.5 lakh, as issue 4 defines it) starts in the middle of a window; the check is that a
    covariate DriftEvent is raised no later than the first full window after the onset, once.
    The same with a moderate shift (the mean loan amount up by a fifth, to 3.0 lakh): the
    window of its covariate event. Then one simulated hour of ``stable`` traffic per seed;
    the check is that it raises none.

false-alarms
    30 simulated days (``--days``) of stable traffic per stream and seed (the loan generator
    at 600 and 6,000 rows per 5-minute window; river's Agrawal and SEA in hourly windows)
    through the monitor's judge, sequential evidence and policy with the default false-alarm
    contract (1 per 30 days; the windows are counted with numpy in one go rather than row by
    row): the false covariate, prediction and dataset events per 30 days against the
    contract, the windows in which any window test rejected, the e-CUSUM alarms, and, on the
    labeled loan run, what the performance judge and the concept detector raise (against
    their families' budgets, a quarter of the contract each; the detector's threshold set
    for the run's label rate; beside them the detections of river's ADWIN on the same error
    stream). Beside
    them Evidently's DataDriftPreset (defaults) on a few windows per run
    (``--evidently-windows``; about 2 s a window against 20,000 reference rows), projected
    to 30 days. Then the sensitivity sweep below (``--no-sweep`` skips it).

sensitivity
    Power curves at the default contract and 5-minute looks: a location shift (loan_amount
    times 1.05 to 1.2), a scale shift (existing_debt_ratio's spread times 1.1 to 1.5), a
    category-mix change (2 % to 10 % of applications moved from channel web to partner) and
    a score shift (the model's log-odds plus 0.1 to 0.4), each in windows of 600, 1,500 and
    5,000 rows from the onset, ``--sensitivity-windows`` windows per seed: the share of
    windows in which the window test flags the shifted column, the share of seeds in which
    driftline (window test, pooled windows or e-CUSUM) has flagged it within 1, 3, 6, 12
    and 24 windows (those within ``--sensitivity-windows``, default 24), the share of
    windows Evidently's DataDriftPreset (defaults) flags (``--evidently-per-seed`` windows
    per seed), and beside it the share of stable windows of the same size in which
    Evidently flags the same column. Goal per cell: driftline flags within 6 windows in at
    least the share of windows Evidently flags.

concept
    The protocol of Poenaru-Olaru et al. (2022, "Are concept drift detectors reliable alarming
    systems?"): river's Agrawal stream, classification function 1 for positions 0-54,999 and
    function 6 from 55,000 to 99,999 (river numbers them from 0: ``classification_function``
    0 then 5; river's ``ConceptDriftStream`` overflows with an abrupt width, so the two
    generators are chained), with ``--perturbation`` noise on the features. A model
    (scikit-learn's HistGradientBoostingClassifier) is trained on positions 0-9,999 and then
    deployed unchanged; positions 10,000-99,999 are the labeled stream. Per seed: the
    detection delay (labeled events from the onset to the first alarm at or after it) and the
    false alarms (alarms before the onset), for

    - driftline: :class:`monitor.drift.concept.ConceptDriftDetector` (the one-sided Bernoulli
      GLR scan on the 0/1 error, its threshold from the default contract at one labeled event
      a second, 1,000-event warm-up) through
      :class:`monitor.merging.policy.DriftPolicy` (cooldown one hour at one event per second);
      alarms are the concept DriftEvents raised;
    - river's plain ADWIN (default delta 0.002) on the same error stream, every detection;
    - Evidently's DataDriftPreset (defaults) on tumbling windows of ``--window`` labeled
      events (the features plus the label), against the 10,000 training rows; an alarm is a
      window whose dataset drift share is reached (the preset's verdict), and separately a
      window with any drifted column; a window alarm counts at the window's end.

estimation
    Performance before the labels (:mod:`monitor.drift.estimation`). The bootstrap model
    (``producers.bootstrap.train_default``: logistic regression on 40,000 seeded rows, its
    isotonic calibration map fitted on the other 10,000) scores ``--windows`` windows of
    ``--window-rows`` predictions per scenario and seed: ``stable``, ``loan-amount-shift``
    and ``channel-mix`` (covariate shift) and ``concept-flip`` (concept shift), each with its
    default options from ``producers.scenarios`` and its onset in the middle of the first
    window. Predictions are spread evenly over a 300 s window; each label arrives after an
    exponential delay of mean 5 min, 1 h or 1 day. The estimate is taken when the window's
    labels are just under 10 % in (the earliest arrivals, counted into the window's
    accumulator, with every prediction's score), and compared with the realized metric once
    all labels are in; beside it, the realized metric of that first 10 % alone. Goal: mean
    absolute error of the estimated AUC within 0.03 on covariate shift. Printed beside it: the
    estimate from the reference calibration alone (no check against the first labels) and the
    realized metric of the first labels alone. The check's two constants (bins pooled, prior
    weight) were chosen on seeds 1000-1001; the run uses seeds from 2000.

concept-null
    The concept detector's false alarms at the default contract: stable Bernoulli error
    streams of 30 days at two labeled pairs a second (error rates 0.05, 0.176 and 0.5,
    ``--streams`` each), against the concept budget, beside river's ADWIN on
    ``--adwin-streams`` of them; see ``bench/_concept_null.py``.

detection
    Concept drift detection on a tuning stream (the concept benchmark's) and evaluation
    streams driftline's detector was not tuned on (river's SEA, STAGGER, Agrawal with other
    functions, abrupt and gradual, and the OptWin/MOA Bernoulli error streams): driftline,
    driftline split over six partitions as the monitor runs it, river's ADWIN, PageHinkley
    and (``--kswin``) KSWIN, a periodic baseline, and a floor (a CUSUM told the error rates
    before and after the change, ``bench/_oracle_cusum.py``); see
    ``bench/_concept_streams.py``.

detection-matched
    The detection part's streams with driftline at the contract whose false alarms on 30-day
    stable streams match river ADWIN's (both measured in the run), beside ADWIN and the
    default contract; see ``bench/_concept_matched.py``. ``--per-rate``: matched at each
    stream's own error rate before its drift.

    .venv/bin/python bench/bench_drift_quality.py                 # both, 10 seeds
    .venv/bin/python bench/bench_drift_quality.py estimation --seeds 5
    .venv/bin/python bench/bench_drift_quality.py concept --seeds 3
    .venv/bin/python bench/bench_drift_quality.py detection --seeds 5 --bernoulli-seeds 30
    .venv/bin/python bench/bench_drift_quality.py false-alarms    # 3 seeds, 30 days
    .venv/bin/python bench/bench_drift_quality.py sensitivity --seeds 10
    .venv/bin/python bench/bench_drift_quality.py concept-null --streams 100
    .venv/bin/python bench/bench_drift_quality.py detection-matched --streams 60 --adwin-streams 100
    .venv/bin/python bench/bench_drift_quality.py detection-matched --per-rate \\
        --streams 60 --adwin-streams 100
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from driftline.events import DriftEvent, FeatureStatistic
from driftline.features import CREDIT_RISK
from driftline.profile import ReferenceProfile, build_profile
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.concept import ConceptDriftDetector
from monitor.drift.contract import family_budget
from monitor.drift.evidence import WindowEvidence
from monitor.drift.judge import DriftConfig
from monitor.drift.pooled import POOLED_METHOD, pooled_alpha, pools_at
from monitor.drift.sequential import SEQUENTIAL_METHOD
from monitor.drift.windows import EventTimeWindows, Window, WindowClock
from monitor.merging.policy import DriftPolicy
from producers.generator import LAKH, GeneratorParams, LoanGenerator, default_probability

ONSET = 55_000
TOTAL = 100_000
TRAIN = 10_000
KEY = "credit-risk/1"


# covariate ------------------------------------------------------------------------------


def _profile() -> ReferenceProfile:
    batch = LoanGenerator(seed=11).sample(20_000)
    return build_profile(
        batch.columns, default_probability(batch.columns), numeric=CREDIT_RISK.numeric_names,
        categorical=CREDIT_RISK.categorical_names, model_name="credit-risk", model_version="1",
    )


def _run_traffic(
    profile: ReferenceProfile, seed: int, seconds: int, rate: int, onset: float | None,
    window: float, loan_mean: float = 8.5 * LAKH,
) -> list[DriftEvent]:
    gen = LoanGenerator(seed=seed)
    clock = WindowClock(EventTimeWindows(size=window, grace=10.0))
    policy, evidence, config = DriftPolicy(), WindowEvidence(), DriftConfig()
    accumulators: dict[tuple[str, float], WindowAccumulator] = {}
    events: list[DriftEvent] = []
    shifted = GeneratorParams(loan_mean=loan_mean)
    offset = 0
    for second in range(seconds):
        params = shifted if onset is not None and second >= onset else None
        batch = gen.sample(rate, params)
        scores = default_probability(batch.columns).tolist()
        for i, row in enumerate(batch.rows()):
            t = second + i / rate
            for w in clock.observe(t, KEY):
                acc = accumulators.get((KEY, w.start))
                if acc is None:
                    acc = accumulators[(KEY, w.start)] = WindowAccumulator(profile, w)
                acc.update(row, scores[i], evidence=("predictions", 0, offset))
            offset += 1
        for key, w in clock.pop_closed():
            judged = evidence.judge(accumulators.pop((key, w.start)), config)
            events.extend(policy.observe_window(judged))
    return events


def covariate(seeds: int, rate: int, window: float) -> None:
    profile = _profile()
    onset = 6.5 * window  # mid-window: [6w, 7w) is partly shifted, [7w, 8w) the first full one
    first_full_end = 8 * window
    print(f"covariate: {rate} predictions/s, tumbling windows of {window:g} s (grace 10 s), "
          f"loan-amount-shift onset at {onset:g} s; first full window after onset ends at "
          f"{first_full_end:g} s")
    header = (f"{'seed':>4}  {'shift: covariate events':<34} {'in time':>7}  "
              f"{'a fifth (3.0 lakh): covariate events':<38} {'stable hour':>12}")
    print(header)
    print("-" * len(header))
    ok_shift = ok_stable = ok_fifth = 0
    for seed in range(seeds):
        shift_events = _run_traffic(profile, 100 + seed, int(12 * window), rate, onset, window)
        cov = [e for e in shift_events if e.kind == "covariate"]
        in_time = len(cov) == 1 and cov[0].window_end <= first_full_end
        fifth = [e for e in _run_traffic(profile, 300 + seed, int(12 * window), rate, onset,
                                         window, loan_mean=3.0 * LAKH)
                 if e.kind == "covariate"]
        stable_events = _run_traffic(profile, 200 + seed, 3600, rate, None, window)
        ok_shift += in_time
        ok_fifth += len(fifth) == 1
        ok_stable += not stable_events
        shown = ", ".join(f"[{e.window_start:g}, {e.window_end:g}) {e.severity}" for e in cov)
        shown_fifth = ", ".join(f"[{e.window_start:g}, {e.window_end:g}) {e.severity}"
                                for e in fifth)
        kinds = sorted({e.kind for e in shift_events})
        print(f"{seed:>4}  {shown + ' ' + str(kinds):<34} {'yes' if in_time else 'NO':>7}  "
              f"{shown_fifth or 'none':<38} {len(stable_events):>6} events")
    print(f"\nshift raised one covariate event by the first full window: {ok_shift}/{seeds}; "
          f"a fifth of the level raised one: {ok_fifth}/{seeds}; "
          f"stable hours with no event: {ok_stable}/{seeds}\n")


# concept --------------------------------------------------------------------------------


@dataclass
class _Alarms:
    name: str
    delays: list[float | None] = field(default_factory=list)
    false_alarms: list[int] = field(default_factory=list)

    def add(self, positions: list[int]) -> None:
        after = [p for p in positions if p >= ONSET]
        self.delays.append(after[0] - ONSET if after else None)
        self.false_alarms.append(sum(p < ONSET for p in positions))


def _agrawal(seed: int, perturbation: float):
    from river.datasets import synth

    before = synth.Agrawal(classification_function=0, seed=seed, perturbation=perturbation)
    after = synth.Agrawal(classification_function=5, seed=seed + 10_000,
                          perturbation=perturbation)
    names: list[str] = []
    rows, labels = [], []
    for x, y in itertools.chain(before.take(ONSET), after.take(TOTAL - ONSET)):
        if not names:
            names = list(x)
        rows.append([x[n] for n in names])
        labels.append(int(y))
    return names, np.asarray(rows, dtype=float), np.asarray(labels)


def _evidently_alarms(names, X, y, window: int) -> tuple[list[int], list[int]]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    categorical = ["elevel", "car", "zipcode", "label"]
    numeric = [n for n in names if n not in categorical]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    def frame(lo: int, hi: int):
        f = pd.DataFrame(X[lo:hi], columns=names)
        for c in ("elevel", "car", "zipcode"):
            f[c] = f[c].astype(int).astype(str)
        f["label"] = y[lo:hi].astype(str)
        return Dataset.from_pandas(f, data_definition=definition)

    reference = frame(0, TRAIN)
    dataset_alarms, column_alarms = [], []
    for start in range(TRAIN, TOTAL, window):
        end = min(start + window, TOTAL)
        result = Report([DataDriftPreset()]).run(frame(start, end), reference).dict()
        metrics = result["metrics"]
        share = next(m["value"]["share"] for m in metrics
                     if m["config"]["type"].endswith("DriftedColumnsCount"))
        count = next(m["value"]["count"] for m in metrics
                     if m["config"]["type"].endswith("DriftedColumnsCount"))
        if share >= 0.5:
            dataset_alarms.append(end)
        if count > 0:
            column_alarms.append(end)
    return dataset_alarms, column_alarms


def concept(seeds: int, perturbation: float, window: int, with_evidently: bool) -> None:
    from river import drift
    from sklearn.ensemble import HistGradientBoostingClassifier

    print(f"concept: Agrawal function 1 -> 6 at {ONSET:,} of {TOTAL:,}, perturbation "
          f"{perturbation:g}; model trained on 0-{TRAIN - 1:,}, monitored on "
          f"{TRAIN:,}-{TOTAL - 1:,}; {seeds} seeds")
    results = [_Alarms("driftline (GLR on the error, policy)"), _Alarms("river ADWIN")]
    if with_evidently:
        results += [_Alarms(f"Evidently DataDriftPreset, {window}-event windows"),
                    _Alarms("  same, any drifted column")]
    errors_before, errors_after = [], []
    started = time.perf_counter()
    for seed in range(seeds):
        names, X, y = _agrawal(seed, perturbation)
        model = HistGradientBoostingClassifier(random_state=seed).fit(X[:TRAIN], y[:TRAIN])
        scores = model.predict_proba(X[TRAIN:])[:, 1]
        labels = y[TRAIN:]
        errors = ((scores >= 0.5).astype(int) != labels).astype(int)
        errors_before.append(errors[: ONSET - TRAIN].mean())
        errors_after.append(errors[ONSET - TRAIN:].mean())

        policy = DriftPolicy(cooldown=3600.0)  # one labeled event a second
        ours = []
        for hit in ConceptDriftDetector(label_rate=1.0).update_many(scores, labels):
            position = TRAIN + hit.index
            stats = [FeatureStatistic(feature="error_rate", statistic=name,
                                      value=hit.error_rate, threshold=hit.error_rate_before,
                                      drifted=True, feature_type="metric")
                     for name in hit.detectors]
            if policy.observe_detection("agrawal", "1", float(position), stats):
                ours.append(position)
        results[0].add(ours)

        adwin = drift.ADWIN()
        plain = []
        for i, e in enumerate(errors.tolist()):
            adwin.update(e)
            if adwin.drift_detected:
                plain.append(TRAIN + i)
        results[1].add(plain)

        if with_evidently:
            dataset_alarms, column_alarms = _evidently_alarms(names, X, y, window)
            results[2].add(dataset_alarms)
            results[3].add(column_alarms)
        print(f"  seed {seed}: model error {errors_before[-1]:.3f} before, "
              f"{errors_after[-1]:.3f} after; " + "; ".join(
                  f"{r.name.split(' (')[0].split(',')[0].strip()} delay {r.delays[-1]} "
                  f"fa {r.false_alarms[-1]}" for r in results)
              + f"  [{time.perf_counter() - started:.0f} s]", flush=True)

    print()
    header = (f"{'detector':<52} {'detected':>8} {'delay median':>12} {'delay mean':>10} "
              f"{'false alarms (total)':>20} {'seeds with FA':>13}")
    print(header)
    print("-" * len(header))
    for r in results:
        found = [d for d in r.delays if d is not None]
        med = f"{statistics.median(found):,.0f}" if found else "-"
        mean = f"{statistics.mean(found):,.0f}" if found else "-"
        print(f"{r.name:<52} {len(found):>5}/{seeds:<2} {med:>12} {mean:>10} "
              f"{sum(r.false_alarms):>20} {sum(fa > 0 for fa in r.false_alarms):>10}/{seeds}")
    print(f"\nmodel error rate: {statistics.mean(errors_before):.3f} before the onset, "
          f"{statistics.mean(errors_after):.3f} after (mean over seeds)")


# estimation -----------------------------------------------------------------------------

_ESTIMATION_SCENARIOS = (("stable", "none"), ("loan-amount-shift", "covariate"),
                         ("channel-mix", "covariate"), ("concept-flip", "concept"))
_DELAYS = (("5 min", 300.0), ("1 h", 3600.0), ("1 day", 86400.0))
_ESTIMATION_WINDOW = 300.0
GOAL_AUC = 0.03


def _window_rows(model, batch) -> np.ndarray:
    import pandas as pd

    frame = pd.DataFrame({n: batch.columns[n] for n in CREDIT_RISK.names})
    for name in CREDIT_RISK.categorical_names:
        frame[name] = frame[name].astype(str)
    return model.predict_proba(frame.to_numpy(dtype=object))[:, 1]


def _estimation_windows(model, scenario: str, seed: int, windows: int, rows: int):
    """(scores, labels) per window: the scenario's onset is mid-way through the first."""
    from producers.scenarios import DRIFTS, Conditions

    drift = DRIFTS[scenario]
    shifted = drift.apply(Conditions(), drift.resolve({})).params
    gen = LoanGenerator(seed=seed)
    out = []
    for w in range(windows):
        if w == 0:
            before, after = gen.sample(rows // 2), gen.sample(rows - rows // 2, shifted)
            scores = np.concatenate([_window_rows(model, before), _window_rows(model, after)])
            labels = np.concatenate([before.labels, after.labels])
        else:
            batch = gen.sample(rows, shifted)
            scores, labels = _window_rows(model, batch), batch.labels
        out.append((scores, labels))
    return out


def _estimate_errors(scores: np.ndarray, labels: np.ndarray, delay_mean: float,
                     rng: np.random.Generator, calibration) -> dict[str, float]:
    """Absolute errors of the estimate (and of the first labels alone) against the window's
    realized metrics, at the last moment fewer than 10 % of its labels are in."""
    from monitor.drift.estimation import estimate_performance
    from monitor.drift.performance import PerformanceAccumulator

    n = len(scores)
    made = np.arange(n) * (_ESTIMATION_WINDOW / n)
    arrives = made + rng.exponential(delay_mean, n)
    first = np.sort(np.argsort(arrives, kind="stable")[: -(-n // 10) - 1])  # < 10 %
    full = PerformanceAccumulator()
    full.update_many(scores.tolist(), labels.tolist())
    realized = full.evaluate()
    acc = PerformanceAccumulator()
    acc.add_predictions(n, scores.tolist())
    acc.update_many(scores[first].tolist(), labels[first].tolist())
    est = estimate_performance(acc, calibration)
    plain = estimate_performance(acc, calibration, check_min_labeled=n + 1)  # never checked
    # the monitor's judged estimate: at the window's end, with the labels in by then
    by_end = np.flatnonzero(arrives <= _ESTIMATION_WINDOW)
    at_end = PerformanceAccumulator()
    at_end.add_predictions(n, scores.tolist())
    at_end.update_many(scores[by_end].tolist(), labels[by_end].tolist())
    end = estimate_performance(at_end, calibration)
    assert est.label_coverage is not None and est.label_coverage < 0.1
    assert est.roc_auc is not None and est.accuracy is not None
    assert realized.roc_auc is not None and realized.accuracy is not None
    return {
        "auc": abs(est.roc_auc - realized.roc_auc),
        "accuracy": abs(est.accuracy - realized.accuracy),
        "auc_plain": abs((plain.roc_auc or 0.5) - realized.roc_auc),
        "auc_end": abs((end.roc_auc or 0.5) - realized.roc_auc),
        "coverage_end": end.label_coverage or 0.0,
        "auc_labeled": abs((est.realized_roc_auc or 0.5) - realized.roc_auc),
        "accuracy_labeled": abs((est.realized_accuracy or 0.0) - realized.accuracy),
        "realized_auc": realized.roc_auc,
        "estimated_auc": est.roc_auc,
    }


def estimation(seeds: int, windows: int, rows: int) -> bool:
    from producers.bootstrap import train_default

    started = time.perf_counter()
    trained = train_default(seed=7)
    calibration = trained.profile.calibration
    assert calibration is not None
    print(f"estimation: bootstrap model (holdout AUC {trained.metrics['holdout_auc']:.3f}), "
          f"isotonic calibration on {calibration.rows:,} holdout rows; {seeds} seeds x "
          f"{windows} windows of {rows:,} predictions; estimate taken at < 10 % of the "
          f"window's labels")
    header = (f"{'scenario':<18} {'shift':<9} {'label delay':>11}  {'realized AUC':>12} "
              f"{'est. AUC':>8}  {'MAE AUC':>7} {'MAE acc':>7}  {'unchecked AUC':>13}  "
              f"{'first 10 %: AUC':>15} {'acc':>6}  {'at end: labels':>14} {'MAE AUC':>7}")
    print(header)
    print("-" * len(header))
    worst_covariate = 0.0
    for i, (scenario, shift) in enumerate(_ESTIMATION_SCENARIOS):
        per_seed = [_estimation_windows(trained.model, scenario, 2000 + seed, windows, rows)
                    for seed in range(seeds)]
        for j, (delay_name, delay) in enumerate(_DELAYS):
            rng = np.random.default_rng([i, j])
            rows_out = [_estimate_errors(s, y, delay, rng, calibration)
                        for data in per_seed for s, y in data]
            mean = {k: statistics.mean(r[k] for r in rows_out) for k in rows_out[0]}
            if shift == "covariate":
                worst_covariate = max(worst_covariate, mean["auc"])
            print(f"{scenario:<18} {shift:<9} {delay_name:>11}  {mean['realized_auc']:>12.3f} "
                  f"{mean['estimated_auc']:>8.3f}  {mean['auc']:>7.4f} {mean['accuracy']:>7.4f}"
                  f"  {mean['auc_plain']:>13.4f}  {mean['auc_labeled']:>15.4f} "
                  f"{mean['accuracy_labeled']:>6.4f}  {mean['coverage_end']:>14.1%} "
                  f"{mean['auc_end']:>7.4f}", flush=True)
    met = worst_covariate <= GOAL_AUC
    print(f"\ngoal: estimated AUC within {GOAL_AUC} of realized (mean absolute error per window) "
          f"on covariate shift at < 10 % labels: worst {worst_covariate:.4f} -> "
          f"{'met' if met else 'NOT met'}  [{time.perf_counter() - started:.0f} s]")
    print("MAE: estimate against the realized value once all labels are in; unchecked: the "
          "reference calibration alone (plain CBPE); first 10 %: the realized metric of the "
          "labels in at that point; at end: the estimate the monitor judges, at the window's "
          "end with the labels in by then (their share, and its MAE)")
    print("concept-flip: the scores do not move; the reference calibration alone keeps the "
          "estimate near the as-trained AUC, the first labels reject it and pull it down")
    return met
# false alarms ---------------------------------------------------------------------------

DAY = 86_400.0
REFERENCE_ROWS = 20_000


@dataclass
class _Stream:
    """A stable stream: ``draw(rng, n)`` gives ``n`` rows as columns, their scores and
    labels, from one fixed distribution (the reference's)."""

    name: str
    numeric: list[str]
    categorical: list[str]
    draw: Callable[[np.random.Generator, int], tuple[dict[str, np.ndarray], np.ndarray,
                                                      np.ndarray]]


def _loan_stream(params: GeneratorParams | None = None) -> _Stream:
    def draw(rng: np.random.Generator, n: int):
        batch = LoanGenerator(seed=int(rng.integers(2**31)), params=params).sample(n)
        return batch.columns, default_probability(batch.columns), batch.labels
    return _Stream("loan", list(CREDIT_RISK.numeric_names), list(CREDIT_RISK.categorical_names),
                   draw)


def _river_stream(name: str) -> _Stream:
    """Agrawal (function 1) or SEA (variant 1) from river, scored by a model trained on
    another stretch of the same stream (scikit-learn's logistic regression on standardised
    features: single-threaded, so parallel runs do not fight over cores)."""
    from river.datasets import synth
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    categorical = ["elevel", "car", "zipcode"] if name == "agrawal" else []

    def rows(seed: int, n: int):
        gen = (synth.Agrawal(classification_function=0, seed=seed, perturbation=0.1)
               if name == "agrawal" else synth.SEA(variant=0, seed=seed, noise=0.1))
        xs, ys = zip(*itertools.islice(gen, n), strict=True)
        names = [str(k) for k in xs[0]]
        matrix = np.array([list(x.values()) for x in xs], dtype=float)
        return names, matrix, np.array(ys, dtype=int)

    names, X, y = rows(99_999, 10_000)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)

    def draw(rng: np.random.Generator, n: int):
        _, matrix, labels = rows(int(rng.integers(2**31)), n)
        columns: dict[str, np.ndarray] = {}
        for i, col in enumerate(names):
            columns[col] = (matrix[:, i].astype(int).astype(str) if col in categorical
                            else matrix[:, i])
        return columns, model.predict_proba(matrix)[:, 1], labels

    return _Stream(name, [c for c in names if c not in categorical], categorical, draw)


def _stream(name: str) -> _Stream:
    return _loan_stream() if name == "loan" else _river_stream(name)


def _stream_profile(stream: _Stream, seed: int) -> tuple[ReferenceProfile, dict, np.ndarray,
                                                          dict[str, float]]:
    """The reference of a stream: its profile, its raw columns (for Evidently), its scores
    and its performance baseline (the monitor's baseline: the holdout's metrics)."""
    from monitor.drift.performance import PerformanceAccumulator

    columns, scores, labels = stream.draw(np.random.default_rng(seed), REFERENCE_ROWS)
    profile = build_profile(columns, scores, numeric=stream.numeric,
                            categorical=stream.categorical, model_name=stream.name,
                            model_version="1")
    perf = PerformanceAccumulator()
    perf.add_predictions(len(labels))
    perf.update_many(scores.tolist(), labels.tolist())
    return profile, columns, scores, perf.evaluate().metrics()


def _counted(profile: ReferenceProfile, window: Window, columns: dict[str, np.ndarray],
             scores: np.ndarray) -> WindowAccumulator:
    """A window accumulator holding ``columns`` and ``scores``, counted with numpy in one
    go per feature (the counts the accumulator's own updates give; faster for days of
    traffic)."""
    acc = WindowAccumulator(profile, window)
    state = acc.state
    state.rows = len(scores)

    def count(counts, cuts: list[float], values: np.ndarray) -> None:
        index = np.searchsorted(np.asarray(cuts), values, side="right")
        counts.counts = np.bincount(index, minlength=len(cuts) + 1).tolist()
        counts.sums = np.bincount(index, weights=values, minlength=len(cuts) + 1).tolist()

    for ref in profile.numeric:
        count(state.numeric[ref.name], ref.cuts, np.asarray(columns[ref.name], dtype=float))
    for cref in profile.categorical:
        names, n = np.unique(np.asarray(columns[cref.name]).astype(str), return_counts=True)
        state.categorical[cref.name].counts = dict(zip(names.tolist(), n.tolist(), strict=True))
    if profile.score is not None and state.score is not None:
        count(state.score, profile.score.cuts, np.asarray(scores, dtype=float))
    return acc


def _evidently_flags(stream: _Stream, reference: dict, reference_scores: np.ndarray,
                     columns: dict, scores: np.ndarray) -> tuple[bool, bool, set[str]]:
    """Evidently's DataDriftPreset (defaults) on one window against the reference rows, the
    features and the score: (dataset drift, any drifted column, the drifted columns)."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=[*stream.numeric, "score"],
                                categorical_columns=stream.categorical)

    def frame(cols: dict, s: np.ndarray):
        f = pd.DataFrame({c: cols[c] for c in stream.numeric + stream.categorical})
        for c in stream.categorical:
            f[c] = f[c].astype(str)
        f["score"] = s
        return Dataset.from_pandas(f, data_definition=definition)

    result = Report([DataDriftPreset()]).run(frame(columns, scores),
                                             frame(reference, reference_scores)).dict()
    drifted: set[str] = set()
    share = 0.0
    for m in result["metrics"]:
        kind = m["config"]["type"]
        if kind.endswith("DriftedColumnsCount"):
            share = m["value"]["share"]
        elif kind.endswith("ValueDrift"):
            threshold = m["config"].get("threshold")
            value = m["value"]
            method = m["config"].get("method", "")
            column = m["config"]["column"]
            # p-value methods drift below their threshold, distances at or above it
            if (("p_value" in method or "test" in method) and value < threshold) or (
                    "p_value" not in method and "test" not in method and value >= threshold):
                drifted.add(column)
    return share >= 0.5, bool(drifted), drifted


@dataclass
class _Run:
    events: dict[str, int] = field(default_factory=dict)
    rejected_windows: int = 0
    sequential_alarms: int = 0
    pooled_rejections: int = 0  # windows with a column whose pooled windows' test rejected
    windows: int = 0
    evidently_windows: int = 0
    evidently_dataset: int = 0
    evidently_column: int = 0
    adwin: int = 0  # river's ADWIN (default delta) on the labeled run's error stream


def _stable_run(job: tuple[str, int, int, float, float, int, bool]) -> _Run:
    """One stream and seed: ``days`` of stable traffic in tumbling windows of ``rows`` rows
    every ``window`` seconds through the monitor's judge and DriftPolicy (default hysteresis
    and cooldown) with the default contract, and with ``with_labels`` every row labeled
    through the performance judge and the concept detector too; Evidently on ``evidently``
    of the windows, evenly spread."""
    from river import drift as river_drift

    from monitor.drift.performance import PerformanceAccumulator, judge_performance

    name, seed, rows, window, days, evidently, with_labels = job
    stream = _stream(name)
    profile, ref_columns, ref_scores, baseline = _stream_profile(stream, 1_000 + seed)
    config = DriftConfig(look_every=window)  # the default contract, 1 per 30 days
    policy, evidence = DriftPolicy(), WindowEvidence()
    detector = ConceptDriftDetector(label_rate=rows / window)  # the default contract
    adwin = river_drift.ADWIN()
    rng = np.random.default_rng(seed)
    looks = int(days * DAY / window)
    sampled = set(np.linspace(0, looks - 1, evidently).astype(int).tolist()) if evidently else set()
    run = _Run()
    for i in range(looks):
        columns, scores, labels = stream.draw(rng, rows)
        w = Window(i * window, (i + 1) * window)
        report = evidence.judge(_counted(profile, w, columns, scores), config)
        run.windows += 1
        signals = [*report.features, *([report.score] if report.score else [])]
        run.rejected_windows += any(j.drifted and j.method not in (SEQUENTIAL_METHOD,
                                                                   POOLED_METHOD)
                                    for j in signals)
        run.pooled_rejections += any(s.statistic == POOLED_METHOD and s.drifted
                                     for j in signals for s in j.statistics)
        run.sequential_alarms += sum(s.statistic == SEQUENTIAL_METHOD and s.drifted
                                     for j in signals for s in j.statistics)
        for event in policy.observe_window(report):
            run.events[event.kind] = run.events.get(event.kind, 0) + 1
        if with_labels:
            for hit in detector.update_many(scores, labels):
                at = w.start + window * hit.index / rows
                stats = [FeatureStatistic(feature="error_rate", statistic=d, value=hit.error_rate,
                                          threshold=0.0, drifted=True, feature_type="metric")
                         for d in hit.detectors]
                if policy.observe_detection(stream.name, "1", at, stats):
                    run.events["concept"] = run.events.get("concept", 0) + 1
            for e in ((scores >= 0.5) != labels.astype(bool)).tolist():
                adwin.update(e)
                run.adwin += adwin.drift_detected
            perf = PerformanceAccumulator()
            perf.add_predictions(rows)
            perf.update_many(scores.tolist(), labels.tolist())
            judgements = judge_performance(perf.evaluate(), baseline,
                                           alpha=config.performance_alpha(window))
            if policy.observe("performance", stream.name, "1", w.start, w.end, judgements):
                run.events["performance"] = run.events.get("performance", 0) + 1
        if i in sampled:
            dataset, column, _ = _evidently_flags(stream, ref_columns, ref_scores, columns,
                                                  scores)
            run.evidently_windows += 1
            run.evidently_dataset += dataset
            run.evidently_column += column
    return run


def false_alarms(seeds: int, days: float, evidently: int, processes: int,
                 sweep: bool) -> None:
    from multiprocessing import Pool

    # (stream, rows per window, window seconds): the loan stream at 2 and 20 predictions/s
    # in the monitor's default 5-minute windows; Agrawal and SEA in hourly windows (river
    # generates rows one at a time in Python)
    configs = [("loan", 600, 300.0), ("loan", 6000, 300.0), ("agrawal", 500, 3600.0),
               ("sea", 2000, 3600.0)]
    # the labeled runs (performance and concept judged too): the loan stream's first
    jobs = [(name, seed, rows, window, days, evidently, (name, rows) == configs[0][:2])
            for name, rows, window in configs for seed in range(seeds)]
    print(f"false alarms: {days:g} simulated days of stable traffic per stream and seed "
          f"({seeds} seeds), the default policy (contract: 1 false alarm per 30 days); "
          f"Evidently's DataDriftPreset (defaults) on {evidently} windows per run, evenly "
          f"spread, projected to 30 days as if every flagged window alarmed")
    started = time.perf_counter()
    with Pool(processes) as pool:
        runs = []
        for i, run in enumerate(pool.imap(_stable_run, jobs)):
            runs.append(run)
            print(f"  done {jobs[i][0]} {jobs[i][2]:,} rows, seed {jobs[i][1]}: events "
                  f"{run.events}, windows rejecting {run.rejected_windows}/{run.windows}, "
                  f"pooled {run.pooled_rejections}, e-CUSUM alarms {run.sequential_alarms}  "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)
    header = (f"{'stream':<8} {'rows/window':>11} {'window':>7} {'seed':>4} "
              f"{'drift events (kinds)':<24} {'/30 d':>6} {'perf /30 d':>10} "
              f"{'concept /30 d':>13} {'windows rejecting':>17} {'pooled':>6} "
              f"{'e-CUSUM alarms':>14} "
              f"{'Evidently dataset /30 d':>23} {'Evidently any column /30 d':>26}")
    print(header)
    print("-" * len(header))
    per_stream: dict[tuple[str, int], list[float]] = {}
    for (name, seed, rows, window, *_), run in zip(jobs, runs, strict=True):
        scale = 30.0 / days
        looks30 = 30 * DAY / window
        ev_d = (run.evidently_dataset / run.evidently_windows * looks30
                if run.evidently_windows else float("nan"))
        ev_c = (run.evidently_column / run.evidently_windows * looks30
                if run.evidently_windows else float("nan"))
        drift = sum(v for k, v in run.events.items() if k in ("covariate", "prediction",
                                                              "dataset"))
        per_stream.setdefault((name, rows), []).append(drift * scale)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(run.events.items())
                          if k in ("covariate", "prediction", "dataset"))
        labeled = name == "loan" and rows == configs[0][1]
        perf = f"{run.events.get('performance', 0) * scale:>10.1f}" if labeled else f"{'-':>10}"
        conc = f"{run.events.get('concept', 0) * scale:>13.1f}" if labeled else f"{'-':>13}"
        print(f"{name:<8} {rows:>11,} {window:>6g}s {seed:>4} {drift:>3} {kinds:<20} "
              f"{drift * scale:>6.2f} {perf} {conc} "
              f"{run.rejected_windows:>9}/{run.windows:<7} {run.pooled_rejections:>6} "
              f"{run.sequential_alarms:>14} "
              f"{ev_d:>23.1f} {ev_c:>26.0f}")
    print()
    met = True
    for (name, rows), rates in per_stream.items():
        mean = statistics.mean(rates)
        ok = mean <= 1.0
        met &= ok
        print(f"{name} ({rows:,} rows a window): {mean:.2f} false drift events per 30 days "
              f"(mean of {len(rates)} seeds) against the contract's 1: "
              f"{'met' if ok else 'NOT met'}")
    print("bounds per run and 30 days (the distribution half of the contract, split): "
          "windows with a rejected test <= 0.25 in expectation, windows with a rejected "
          "pooled test <= 0.125, e-CUSUM alarms <= 0.125")
    labeled = [run for job, run in zip(jobs, runs, strict=True) if job[-1]]
    for family in ("performance", "concept") if labeled else ():
        budget = family_budget(1.0, family)
        mean = statistics.mean(run.events.get(family, 0) * 30.0 / days for run in labeled)
        met &= mean <= budget
        print(f"{family} events (loan, {configs[0][1]:,} rows a window, every row labeled at "
              f"once): {mean:.2f} per 30 days (mean of {len(labeled)} seeds) against the "
              f"{family} budget's {budget:g}: {'met' if mean <= budget else 'NOT met'}")
    if labeled:
        adwin = statistics.mean(run.adwin * 30.0 / days for run in labeled)
        print(f"river ADWIN on the same errors: {adwin:.1f} detections per 30 days")
    print(f"goal (false drift events per 30 days at or under the contract, every stream, and "
          f"performance and concept events under their budgets): "
          f"{'met' if met else 'NOT met'}  [{time.perf_counter() - started:.0f} s]\n")
    if sweep:
        sensitivity(seeds, evidently > 0)


Transform = Callable[[np.random.Generator, dict[str, np.ndarray], np.ndarray],
                     tuple[dict[str, np.ndarray], np.ndarray]]


def _location(share: float) -> Transform:
    """loan_amount multiplied by ``1 + share``: its mean moves by that share (its spread
    with it, as a lognormal's does); the score follows the features."""
    def shift(rng, columns, scores):
        columns = {**columns, "loan_amount": np.round(columns["loan_amount"] * (1 + share))}
        return columns, default_probability(columns)
    return shift


def _scale(factor: float) -> Transform:
    """existing_debt_ratio's spread around its centre (0.32) multiplied by ``factor``."""
    def shift(rng, columns, scores):
        debt = np.clip(0.32 + (columns["existing_debt_ratio"] - 0.32) * factor, 0.0, 1.8)
        columns = {**columns, "existing_debt_ratio": np.round(debt, 3)}
        return columns, default_probability(columns)
    return shift


def _mix(share: float) -> Transform:
    """``share`` of all applications moved from channel web (40 %) to partner (10 %)."""
    def shift(rng, columns, scores):
        channel = columns["channel"].copy()
        web = channel == "web"
        channel[web & (rng.random(len(channel)) < share / 0.40)] = "partner"
        columns = {**columns, "channel": channel}
        return columns, default_probability(columns)
    return shift


def _score(delta: float) -> Transform:
    """The model's output moved by ``delta`` in log-odds, the features unchanged (a model
    or feature-pipeline change upstream of the score)."""
    def shift(rng, columns, scores):
        logit = np.log(scores / (1 - scores)) + delta
        return columns, 1.0 / (1.0 + np.exp(-logit))
    return shift


# feature type -> (the column judged, [(shift label, transform)]), largest shift first
SHIFTS: dict[str, tuple[str, list[tuple[str, Transform]]]] = {
    "location": ("loan_amount", [(f"mean +{s:.0%}", _location(s)) for s in (0.2, 0.1, 0.05)]),
    "scale": ("existing_debt_ratio",
              [(f"spread x{f:g}", _scale(f)) for f in (1.5, 1.25, 1.1)]),
    "category mix": ("channel", [(f"{s:.0%} web->partner", _mix(s)) for s in (0.1, 0.05, 0.02)]),
    "score": ("score", [(f"log-odds +{d:g}", _score(d)) for d in (0.4, 0.2, 0.1)]),
}
SIZES = (600, 1500, 5000)
WITHIN = (1, 3, 6, 12, 24)
GOAL_WITHIN = 6  # the goal: flagged within this many windows of the onset


def _score_ceiling(ref_scores: np.ndarray, delta: float, rows: int, windows: int,
                   window_seconds: float, config: DriftConfig, tests: int,
                   draws: int = 100_000) -> tuple[float, float, float]:
    """The share of seeds in which the most powerful test of a shift of ``delta`` in the
    score's log-odds would flag within ``windows`` windows of ``rows``, taking the looks the
    window tests and the pools take, each at its level under the contract (the judge's and
    the pools' own: :meth:`DriftConfig.contracted`, :func:`pooled_alpha`): a two-sided z-test
    on the mean log-odds with their spread known, against the mean of the reference (whose
    own noise it includes). It is the most powerful test of a location shift when the
    log-odds are normal; their skew and excess kurtosis in the reference are returned beside
    the share to show how close they are. The e-CUSUM is left out. Simulated over ``draws``
    seeds."""
    from scipy import stats

    logit = np.log(ref_scores / (1 - ref_scores))
    spread, m = float(logit.std()), len(logit)
    look = config.look_every or window_seconds
    z_window = stats.norm.isf(config.contracted(window_seconds, tests).ks_p_value / 2)
    z_pool = stats.norm.isf(pooled_alpha(config, look, tests) / 2)
    rng = np.random.default_rng(7)
    reference = rng.normal(0.0, spread / np.sqrt(m), draws)
    means = rng.normal(delta, spread / np.sqrt(rows), (draws, windows))
    hit = np.zeros(draws, dtype=bool)
    for i in range(windows):
        ends = (i + 1) * window_seconds  # (the windows start at 0)
        for k in (1, *(p.windows for p in pools_at(ends, window_seconds))):
            if k > i + 1:
                continue
            z = (means[:, i - k + 1:i + 1].mean(axis=1) - reference) / (
                spread * np.sqrt(1 / (rows * k) + 1 / m))
            hit |= np.abs(z) > (z_window if k == 1 else z_pool)
    return float(hit.mean()), float(stats.skew(logit)), float(stats.kurtosis(logit))


def sensitivity(seeds: int, with_evidently: bool, windows_per_seed: int = 24,
                evidently_per_seed: int = 1) -> bool:
    """Power curves at the default contract (5-minute looks): per feature type, shift and
    window size, the share of windows in which driftline's window-by-window test flags the
    shifted column, the share of seeds in which it is flagged (window test, pooled windows
    or e-CUSUM) within k windows of the onset, and Evidently's DataDriftPreset (defaults) on
    the first ``evidently_per_seed`` windows of each seed. A cell meets the goal when
    driftline flags within 6 windows in at least the share of Evidently's windows that
    Evidently flags; the columns past 6 windows show how soon the pools of 12 and 24 windows
    and the e-CUSUM catch what six windows' rows cannot."""
    if windows_per_seed < GOAL_WITHIN:
        raise ValueError(f"the goal needs at least {GOAL_WITHIN} windows per seed")
    stream = _loan_stream()
    profile, ref_columns, ref_scores, _ = _stream_profile(stream, 1_000)
    config = DriftConfig(look_every=300.0)
    print(f"sensitivity at the default contract (1 false alarm per 30 days, 5-minute looks): "
          f"{windows_per_seed} windows x {seeds} seeds per cell from the onset; Evidently's "
          f"DataDriftPreset (defaults) on {evidently_per_seed} window(s) per seed")
    horizons = [k for k in WITHIN if k <= windows_per_seed]
    within = " ".join(f"{'<=' + str(k):>5}" for k in horizons)
    # Evidently on stable windows of the same sizes: how often it flags each column with
    # no shift at all (beside its share on the shifted windows)
    stable: dict[tuple[str, int], float] = {}
    if with_evidently:
        for rows in SIZES:
            for seed in range(seeds):
                columns, scores, _ = stream.draw(np.random.default_rng(900 + seed), rows)
                _, _, drifted = _evidently_flags(stream, ref_columns, ref_scores, columns,
                                                 scores)
                for column, _ in SHIFTS.values():
                    stable[(column, rows)] = stable.get((column, rows), 0.0) + (
                        column in drifted) / seeds
    header = (f"{'type':<12} {'column':<19} {'shift':<17} {'rows':>5} {'window':>6} "
              f"{within}   {'Evidently':>9} {'(stable)':>8}  goal")
    print(header)
    print("-" * len(header))
    started = time.perf_counter()
    met = checked = 0
    always = cells = 0  # cells flagged in every seed within the last horizon, and all cells
    for kind, (column, shifts) in SHIFTS.items():
        for rows in SIZES:
            for label, transform in shifts:
                flagged = total = ev = ev_total = 0
                first: list[int | None] = []
                for seed in range(seeds):
                    rng = np.random.default_rng(500 + seed)
                    evidence = WindowEvidence()
                    hit = None
                    for i in range(windows_per_seed):
                        columns, scores, _ = stream.draw(rng, rows)
                        columns, scores = transform(rng, columns, scores)
                        counted = _counted(profile, Window(i * 300.0, (i + 1) * 300.0),
                                           columns, scores)
                        total += 1
                        flagged += counted.evaluate(config).feature(column).drifted
                        judged = evidence.judge(counted, config)
                        if hit is None and judged.feature(column).drifted:
                            hit = i
                        if with_evidently and i < evidently_per_seed:
                            _, _, drifted = _evidently_flags(stream, ref_columns, ref_scores,
                                                             columns, scores)
                            ev += column in drifted
                            ev_total += 1
                    first.append(hit)
                caught = {k: sum(h is not None and h < k for h in first) / seeds
                          for k in horizons}
                cells += 1
                always += caught[horizons[-1]] == 1.0
                shares = " ".join(f"{c:>5.2f}" for c in caught.values())
                if with_evidently:
                    q = ev / ev_total
                    ok = caught[GOAL_WITHIN] >= q
                    met += ok
                    checked += 1
                    evs = f"{q:>9.2f} {stable[(column, rows)]:>8.2f}"
                    goal = "met" if ok else "NOT met"
                else:
                    evs, goal = f"{'-':>9} {'-':>8}", "-"
                print(f"{kind:<12} {column:<19} {label:<17} {rows:>5,} {flagged / total:>6.2f} "
                      f"{shares}   {evs}  {goal}", flush=True)
                if goal == "NOT met" and kind == "score":
                    delta = float(label.rpartition("+")[2])
                    ceiling, skew, kurtosis = _score_ceiling(
                        ref_scores, delta, rows, GOAL_WITHIN, 300.0, config,
                        len(profile.numeric) + len(profile.categorical) + 1)
                    print(f"{'':<12} ceiling: the most powerful test at these looks and levels "
                          f"flags within {GOAL_WITHIN} windows in {ceiling:.2f} of seeds "
                          f"(Evidently: {q:.2f}; the reference's log-odds: skew {skew:.3f}, "
                          f"excess kurtosis {kurtosis:.3f})", flush=True)
    verdict = met == checked
    print(f"within {horizons[-1]} windows: {always} of {cells} cells flagged in every seed")
    if checked:
        print(f"goal (at the contract, flag within {GOAL_WITHIN} windows at least as often as "
              f"Evidently's defaults flag a window): {'met' if verdict else 'NOT met'} "
              f"({met} of {checked} cells met)  [{time.perf_counter() - started:.0f} s]")
        print("Evidently (stable): the share of stable windows of that size in which "
              "Evidently flags the same column\n")
    return verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="?",
                        choices=("covariate", "concept", "both", "estimation", "detection",
                                 "false-alarms", "sensitivity", "concept-null",
                                 "detection-matched"),
                        default="both")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per benchmark (default: 10; false-alarms: 3; detection and "
                        "detection-matched: 5)")
    parser.add_argument("--rate", type=int, default=20, help="covariate: predictions/s")
    parser.add_argument("--window-seconds", type=float, default=300.0)
    parser.add_argument("--window", type=int, default=1000,
                        help="concept: Evidently's tumbling window, in labeled events")
    parser.add_argument("--perturbation", type=float, default=0.1)
    parser.add_argument("--no-evidently", action="store_true")
    parser.add_argument("--windows", type=int, default=4,
                        help="estimation: windows per scenario and seed")
    parser.add_argument("--window-rows", type=int, default=3000,
                        help="estimation: predictions per window")
    parser.add_argument("--bernoulli-seeds", type=int, default=30,
                        help="detection: seeds per Bernoulli stream (OptWin/MOA: 30)")
    parser.add_argument("--kswin", action="store_true", help="detection: also river's KSWIN")
    parser.add_argument("--days", type=float, default=30.0,
                        help="false-alarms: simulated days of stable traffic per run")
    parser.add_argument("--evidently-windows", type=int, default=12,
                        help="false-alarms: windows per run that Evidently judges too")
    parser.add_argument("--processes", type=int, default=2,
                        help="false-alarms: runs in parallel")
    parser.add_argument("--no-sweep", action="store_true",
                        help="false-alarms: skip the sensitivity sweep")
    parser.add_argument("--sensitivity-windows", type=int, default=24,
                        help="sensitivity: windows per seed from the onset")
    parser.add_argument("--evidently-per-seed", type=int, default=1,
                        help="sensitivity: windows per seed that Evidently judges too")
    parser.add_argument("--streams", type=int, default=100,
                        help="concept-null, detection-matched: stable streams per error "
                        "rate (detection-matched: the GLR scan's, per contract)")
    parser.add_argument("--adwin-streams", type=int, default=20,
                        help="concept-null, detection-matched: stable streams per error "
                        "rate river's ADWIN reads")
    parser.add_argument("--per-rate", action="store_true",
                        help="detection-matched: match ADWIN at each stream's own error rate "
                        "before its drift instead of at every rate at once")
    args = parser.parse_args()
    if args.seeds is None:
        args.seeds = {"false-alarms": 3, "detection": 5,
                      "detection-matched": 5}.get(args.which, 10)
    if args.which == "sensitivity":
        sensitivity(args.seeds, not args.no_evidently, args.sensitivity_windows,
                    args.evidently_per_seed)
        return
    if args.which == "detection":
        from _concept_streams import detection

        detection(args.seeds, args.bernoulli_seeds, args.kswin)
        return
    if args.which == "detection-matched":
        from _concept_matched import detection_matched

        detection_matched(args.seeds, args.bernoulli_seeds, args.streams, args.adwin_streams,
                          per_rate=args.per_rate)
        return
    if args.which == "estimation":
        estimation(args.seeds, args.windows, args.window_rows)
        return
    if args.which == "concept-null":
        from _concept_null import concept_null

        concept_null(args.streams, args.adwin_streams)
        return
    if args.which in ("covariate", "both"):
        covariate(args.seeds, args.rate, args.window_seconds)
    if args.which in ("concept", "both"):
        concept(args.seeds, args.perturbation, args.window, not args.no_evidently)
    if args.which == "false-alarms":
        false_alarms(args.seeds, args.days, 0 if args.no_evidently else args.evidently_windows,
                     args.processes, not args.no_sweep)


if __name__ == "__main__":
    main()
