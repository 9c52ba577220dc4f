"""Backtest throughput: prediction events (each with its label) a ``driftline backtest`` reads,
joins, counts in windows and judges per second on one process, against aiokafka's raw
consume rate of the same topics in the same run (the anchor).

The topics are filled once (predictions and their labels, 6 partitions, 50 predictions a
second of event time, or ``--rate``). Each round then reads them all with aiokafka,
backtests them in this process over the whole range with the default policy, to its end, and
reads them with aiokafka again, all with the garbage collector tuned as `driftline backtest`
tunes it; the round's anchor is the mean of the two raw reads around its backtest. The
backtest's rate: prediction events over the wall time of the run (from resolving the offsets
to the last window judged). Each round also times the backtest's read path alone (its
consumer and options, its decoder, nothing else), which shows how much of the backtest's
time the join, the windows and the judging take.
The result is the median of the rounds' rates and of their ratios.

    .venv/bin/python bench/bench_backtest.py [--events 2000000] [--rounds 3] [--rate 50]
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
from confluent_kafka import TopicPartition

from driftline.events import LabelEvent, PredictionEvent
from driftline.intake import decode_run
from driftline.kafka import create_topics
from driftline.process import tune_gc
from driftline.settings import KafkaSettings
from monitor.backtest.loop import range_consumer
from monitor.backtest.run import BacktestRequest, run_backtest
from monitor.settings import MonitorSettings

PORT = int(os.environ.get("DRIFTLINE_BENCH_BACKTEST_KAFKA_PORT", "29692"))
T0 = 1_700_000_000.0  # bench_monitor.fill's first event time
GOAL = 100_000  # prediction events/s on one process
GOAL_RATIO = 0.5  # of aiokafka's raw consume rate (events of both topics)


def filled(bootstrap: str, events: int, home: Path, rate: float) -> KafkaSettings:
    """Fresh topics filled with ``events`` predictions and their labels, ``rate`` predictions
    a second of event time, and the champion (v1 with its reference profile) registered
    under ``home``."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"bt{uuid.uuid4().hex[:6]}.")
    create_topics(kafka)
    from producers.bootstrap import bootstrap as register_champion

    register_champion(home, rows=4000)
    began = time.perf_counter()
    fill(kafka, events, rate)
    print(f"filled {2 * events:,} messages in {time.perf_counter() - began:.0f} s", flush=True)
    return kafka


def read_decode_rate(settings: MonitorSettings, events: int) -> float:
    """Events/s (both topics) of reading every message with the backtest's consumer and
    options and decoding each topic's messages of a batch with the backtest's decoder, and
    nothing else: what the backtest's read path costs without the join, the windows and the
    judging."""
    kafka = settings.kafka
    consumer = range_consumer(kafka)
    decoders = {kafka.topic("predictions"): PredictionEvent, kafka.topic("labels"): LabelEvent}
    try:
        consumer.client.assign([TopicPartition(topic, p, 0) for topic in decoders
                                for p in range(kafka.partitions)])
        seen, began = 0, time.perf_counter()
        while seen < 2 * events:
            messages = consumer.consume(settings.source_batch, 0.5)
            seen += len(messages)
            values: dict[str, list[bytes | None]] = {topic: [] for topic in decoders}
            for message in messages:
                values[message.topic()].append(message.value())
            for topic, run in values.items():
                decoded = decode_run(decoders[topic], run)
                assert decoded.bad == 0, f"{decoded.bad} undecodable messages in {topic}"
        return seen / (time.perf_counter() - began)
    finally:
        consumer.close()


def one_round(kafka: KafkaSettings, home: Path, events: int, rate: float
              ) -> tuple[float, float, float, float, dict[str, int]]:
    """aiokafka's raw rate (events/s, both topics) read right before and right after the
    backtest (their mean is the round's anchor, so that a change of the machine's load
    during the round moves both sides alike), the backtest's prediction events/s, the rate
    of its read path alone (:func:`read_decode_rate`, read after the backtest) and the
    backtest's counts."""
    before = asyncio.run(raw_rate(kafka, 2 * events))
    settings = MonitorSettings(home=home, kafka=kafka, window_size=60.0)
    end = T0 + events / rate
    began = time.perf_counter()
    result = run_backtest(settings, BacktestRequest(start=T0, end=end))
    seconds = time.perf_counter() - began
    read_decode = read_decode_rate(settings, events)
    after = asyncio.run(raw_rate(kafka, 2 * events))
    return before, after, events / seconds, read_decode, result.counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000,
                        help="predictions (and as many labels)")
    parser.add_argument("--rate", type=float, default=50.0,
                        help="predictions per second of event time (windows of 60 s: 50 "
                        "gives 3,000 predictions a window, 1,000 gives 60,000)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="backtests of the same topics; the median is the result")
    args = parser.parse_args()
    bootstrap, local = bench_broker("backtest", PORT)
    rows = []
    kafka = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            kafka = filled(bootstrap, args.events, home, args.rate)
            # The collector as `driftline backtest` tunes it, for the backtest and for every
            # raw read alike: aiokafka reads about 1.5x as fast with it as with the default
            # one, which would otherwise slow the first round's first read alone.
            tune_gc()
            for _ in range(args.rounds):
                before, after, rate, read_decode, counts = one_round(kafka, home, args.events,
                                                                     args.rate)
                raw = (before + after) / 2
                rows.append((raw, rate, read_decode))
                print(f"{args.events:,} predictions + {args.events:,} labels, {args.rate:g} a "
                      f"second of event time, 6 partitions, one process; joined "
                      f"{counts['joined']:,}, read {counts['read']:,}")
                print(f"{'measure':48} {'events/s':>12}")
                print(f"{'aiokafka raw consume, both topics, before':48} {before:12,.0f}")
                print(f"{'aiokafka raw consume, both topics, after':48} {after:12,.0f}")
                print(f"{'aiokafka raw consume: the mean (anchor)':48} {raw:12,.0f}")
                print(f"{'driftline backtest: predictions + labels':48} {2 * rate:12,.0f}")
                print(f"{'driftline backtest: prediction events':48} {rate:12,.0f}")
                print(f"{'its read path alone: consume + decode':48} {read_decode:12,.0f}")
                print(f"backtest / aiokafka raw = {2 * rate / raw:.3f}; read path alone / "
                      f"aiokafka raw = {read_decode / raw:.3f}", flush=True)
        rate = statistics.median(r[1] for r in rows)
        ratio = statistics.median(2 * r[1] / r[0] for r in rows)
        path = statistics.median(r[2] / r[0] for r in rows)
        beyond = statistics.median(1 - 2 * r[1] / r[2] for r in rows)
        print(f"median of {len(rows)} rounds: {rate:,.0f} prediction events/s "
              f"(goal {GOAL:,}: {'met' if rate >= GOAL else 'NOT met'}), {ratio:.3f} of "
              f"aiokafka raw (goal {GOAL_RATIO}: {'met' if ratio >= GOAL_RATIO else 'NOT met'})")
        print(f"the read path alone (consume + decode) runs at {path:.3f} of aiokafka raw; "
              f"the join, windows and judging take {beyond:.0%} of the backtest's time")
    finally:
        if kafka is not None:
            drop_topics(kafka)
        if local is not None:
            local.stop()


if __name__ == "__main__":
    main()
