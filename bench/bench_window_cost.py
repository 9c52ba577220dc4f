"""The cost of judging one window of 5,000 predictions against the reference.

driftline judges a window from counts it keeps per event (:mod:`monitor.drift.accumulator`), so the
work at window close is O(features x bins). Anchor: Evidently's ``DataDriftPreset`` (its
defaults) on the same 5,000 rows against the same 20,000 training rows, as raw DataFrames,
which is how Evidently judges a batch. Both run in this process, on the same rows, one after
the other; each time is the median of several rounds.

Two driftline numbers are printed:

- *judge*: ``evaluate()`` of a window whose counts are already there (the cost at window
  close, what the monitor pays per window);
- *count + judge*: ``update()`` for each of the 5,000 rows, then ``evaluate()``: everything
  from the raw rows, the like-for-like comparison with Evidently, which also starts from rows.

The goal is at least 10x faster than Evidently on *count + judge*. The verdicts of both are
printed too, on a stable window and on a window after the loan-amount shift.

    .venv/bin/python bench/bench_window_cost.py            # needs the bench extra (evidently)
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

from driftline.features import CREDIT_RISK
from driftline.profile import build_profile
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.windows import Window
from producers.generator import LAKH, GeneratorParams, LoanGenerator, default_probability

REFERENCE_ROWS = 20_000
WINDOW_ROWS = 5_000
NUMERIC = [*CREDIT_RISK.numeric_names, "score"]
CATEGORICAL = CREDIT_RISK.categorical_names


def _frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame({name: columns[name] for name in CREDIT_RISK.names})
    frame["score"] = default_probability(columns)
    for name in CATEGORICAL:
        frame[name] = frame[name].astype(str)
    return frame


def _median_seconds(fn: Callable[[], object], rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds per measurement")
    args = parser.parse_args()

    reference = LoanGenerator(seed=11).sample(REFERENCE_ROWS)
    ref_frame = _frame(reference.columns)
    profile = build_profile(
        reference.columns, ref_frame["score"].to_numpy(), numeric=CREDIT_RISK.numeric_names,
        categorical=CATEGORICAL, model_name="credit-risk", model_version="1",
    )
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    ref_dataset = Dataset.from_pandas(ref_frame, data_definition=definition)

    print(f"one window of {WINDOW_ROWS:,} rows against a reference of {REFERENCE_ROWS:,} rows; "
          f"{len(NUMERIC)} numeric (score included) + {len(CATEGORICAL)} categorical columns; "
          f"median of {args.rounds} rounds\n")
    header = (f"{'window':<18} {'driftline judge':>16} {'count + judge':>14} "
              f"{'Evidently':>11} {'ratio':>7} {'ratio (judge)':>14}")
    print(header)
    print("-" * len(header))
    verdicts = []
    ratios = []
    for name, params in (("stable", GeneratorParams()),
                         ("loan-amount-shift", GeneratorParams(loan_mean=8.5 * LAKH))):
        batch = LoanGenerator(seed=12).sample(WINDOW_ROWS, params)
        frame = _frame(batch.columns)
        rows = batch.rows()
        scores = frame["score"].tolist()

        def count_and_judge(rows=rows, scores=scores):
            acc = WindowAccumulator(profile, Window(0.0, 300.0))
            for row, score in zip(rows, scores, strict=True):
                acc.update(row, score)
            return acc, acc.evaluate()

        full_s, (acc, report) = _median_seconds(count_and_judge, args.rounds)
        judge_s, _ = _median_seconds(acc.evaluate, args.rounds * 3)

        def evidently(frame=frame):
            current = Dataset.from_pandas(frame, data_definition=definition)
            return Report([DataDriftPreset()]).run(current, ref_dataset).dict()

        evidently_s, snapshot = _median_seconds(evidently, max(3, args.rounds // 2))
        ratio = evidently_s / full_s
        ratios.append(ratio)
        print(f"{name:<18} {judge_s * 1e3:>13.2f} ms {full_s * 1e3:>11.1f} ms "
              f"{evidently_s * 1e3:>8.1f} ms {ratio:>6.1f}x {evidently_s / judge_s:>13.0f}x")
        ev_drifted = sorted(
            m["config"]["column"] for m in snapshot["metrics"]
            if m["config"].get("type", "").endswith("ValueDrift")
            and m["value"] >= m["config"]["threshold"]
            and "p_value" not in m["metric_name"].lower()
        )
        drifted = sorted(report.drifted_features + (["score"] if report.score and
                                                    report.score.drifted else []))
        verdicts.append((name, drifted, ev_drifted))

    print("\ndrifted columns (driftline: its defaults, PSI headline for n > 1000; "
          "Evidently: its defaults, Wasserstein normed / Jensen-Shannon)")
    for name, ours, theirs in verdicts:
        print(f"  {name:<18} driftline {ours}   Evidently {theirs}")
    worst = min(ratios)
    print(f"\nratio (Evidently / driftline count + judge), worst of the two windows: {worst:.1f}x "
          f"(goal >= 10x: {'met' if worst >= 10 else 'NOT met'})")


if __name__ == "__main__":
    main()
