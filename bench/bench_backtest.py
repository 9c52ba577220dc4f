"""Backtest throughput: prediction events (each with its label) a ``driftline backtest`` reads,
joins, counts in windows and judges per second on one process, against aiokafka's raw consume
rate of the same topics in the same run (the anchor).

The topics are filled first (predictions and their labels, 6 partitions, one prediction every
20 ms of event time); aiokafka then reads them all; then the backtest runs in this process
over the whole range with the default policy, to its end, with the garbage collector tuned
as `driftline backtest` tunes it. Its rate: prediction events over
the wall time of the run (from resolving the offsets to the last window judged).

    .venv/bin/python bench/bench_backtest.py [--events 2000000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from _broker import bench_broker, drop_topics
from bench_monitor import fill, raw_rate

from driftline.kafka import create_topics
from driftline.process import tune_gc
from driftline.settings import KafkaSettings
from monitor.backtest.run import BacktestRequest, run_backtest
from monitor.settings import MonitorSettings

PORT = int(os.environ.get("DRIFTLINE_BENCH_BACKTEST_KAFKA_PORT", "29692"))
T0 = 1_700_000_000.0  # bench_monitor.fill's first event time
GOAL = 100_000  # prediction events/s on one process
GOAL_RATIO = 0.5  # of aiokafka's raw consume rate (events of both topics)


def one_round(bootstrap: str, events: int) -> tuple[float, float, dict[str, int]]:
    """Fresh topics filled, read raw by aiokafka, then backtested; returns aiokafka's raw
    rate (events/s, both topics), the backtest's prediction events/s and its counts."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap,
                          topic_prefix=f"bt{uuid.uuid4().hex[:6]}.")
    try:
        create_topics(kafka)
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            from producers.bootstrap import bootstrap as register_champion

            register_champion(home, rows=4000)  # v1 @champion with its reference profile
            began = time.perf_counter()
            fill(kafka, events)
            print(f"filled {2 * events:,} messages in {time.perf_counter() - began:.0f} s",
                  flush=True)
            raw = asyncio.run(raw_rate(kafka, 2 * events))
            settings = MonitorSettings(home=home, kafka=kafka, window_size=60.0)
            end = T0 + events / 50.0
            tune_gc()  # as `driftline backtest` does
            began = time.perf_counter()
            result = run_backtest(settings, BacktestRequest(start=T0, end=end))
            seconds = time.perf_counter() - began
        return raw, events / seconds, result.counts
    finally:
        drop_topics(kafka)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000,
                        help="predictions (and as many labels)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    bootstrap, local = bench_broker("backtest", PORT)
    rows = []
    try:
        for _ in range(args.rounds):
            raw, rate, counts = one_round(bootstrap, args.events)
            rows.append((raw, rate))
            print(f"{args.events:,} predictions + {args.events:,} labels, 6 partitions, "
                  f"one process; joined {counts['joined']:,}, read {counts['read']:,}")
            print(f"{'measure':48} {'events/s':>12}")
            print(f"{'aiokafka raw consume, both topics (anchor)':48} {raw:12,.0f}")
            print(f"{'driftline backtest: predictions + labels':48} {2 * rate:12,.0f}")
            print(f"{'driftline backtest: prediction events':48} {rate:12,.0f}")
            print(f"backtest / aiokafka raw = {2 * rate / raw:.3f} (goal {GOAL_RATIO}: "
                  f"{'met' if 2 * rate / raw >= GOAL_RATIO else 'NOT met'}); goal {GOAL:,} "
                  f"prediction events/s: {'met' if rate >= GOAL else 'NOT met'}", flush=True)
        if len(rows) > 1:
            rate = statistics.median(r[1] for r in rows)
            ratio = statistics.median(2 * r[1] / r[0] for r in rows)
            print(f"median of {len(rows)} rounds: {rate:,.0f} prediction events/s, "
                  f"{ratio:.3f} of aiokafka raw")
    finally:
        if local is not None:
            local.stop()


if __name__ == "__main__":
    main()
