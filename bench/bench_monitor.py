"""Monitor throughput: prediction events processed per second by one ``driftline monitor``
worker, against raw consume rates of the same topics measured in the same run: aiokafka's
(the anchor the issue names: faust's client) and confluent-kafka's (the client the monitor's
source loop reads with, so its true ceiling).

The topics are filled first (predictions and their labels, 6 partitions each); the raw
consumers then read them all, with the garbage collector tuned as the worker's processes
tune theirs; then one monitor worker (a subprocess) joins, counts windows and judges them.
Its rate: pairs joined per second from the moment its source loop took its partitions (its
log line) to the write time of its last joined pair on ``labeled``. Each prediction event is
counted with its label processed too (a prediction event/s is a pair/s).

    .venv/bin/python bench/bench_monitor.py [--events 100000] [--rounds 3] [--source-processes 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from _broker import bench_broker, drop_topics

from driftline.events import LabelEvent, PredictionEvent
from driftline.kafka import Producer, create_topics, read_topic
from driftline.kafka.admin import watermarks
from driftline.process import tune_gc
from driftline.settings import KafkaSettings
from producers.generator import LoanGenerator

PORT = int(os.environ.get("DRIFTLINE_BENCH_MONITOR_KAFKA_PORT", "29392"))
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")


def fill(kafka: KafkaSettings, n: int, rate: float = 50.0) -> None:
    """``n`` predictions, ``rate`` per second of event time, each with its label 60 s of
    event time later."""
    batch = LoanGenerator(3).sample(n)
    t0 = 1_700_000_000.0
    with Producer(kafka) as producer:
        for i, (row, label, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                                batch.probabilities.tolist(), strict=True)):
            pid = f"b{i:08d}"
            t = t0 + i / rate
            producer.send(kafka.topic("predictions"), PredictionEvent(
                prediction_id=pid, event_time=t, model_name="credit-risk", model_version="1",
                features=row, score=p, decision="LOW"))
            producer.send(kafka.topic("labels"),
                          LabelEvent(prediction_id=pid, event_time=t + 60.0, label=label))


async def raw_rate(kafka: KafkaSettings, total: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        kafka.topic("predictions"), kafka.topic("labels"),
        group_id=None, auto_offset_reset="earliest", **kafka.aiokafka_config())
    await consumer.start()
    try:
        seen, began = 0, time.perf_counter()
        while seen < total:
            records = await consumer.getmany(timeout_ms=2000, max_records=10_000)
            seen += sum(len(r) for r in records.values())
        return seen / (time.perf_counter() - began)
    finally:
        await consumer.stop()


def confluent_rate(kafka: KafkaSettings, total: int) -> float:
    from confluent_kafka import Consumer

    consumer = Consumer({**kafka.confluent_config(), "group.id": f"bench-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "fetch.max.bytes": 52_428_800, "queued.max.messages.kbytes": 262_144})
    consumer.subscribe([kafka.topic("predictions"), kafka.topic("labels")])
    try:
        seen, began = 0, None
        while seen < total:
            records = consumer.consume(10_000, 2.0)
            if records and began is None:
                began = time.perf_counter()  # after the group join, as for the monitor
            seen += sum(1 for m in records if m.error() is None)
        return seen / (time.perf_counter() - began)
    finally:
        consumer.close()


def monitor_rate(kafka: KafkaSettings, home: Path, n: int,
                 processes: int) -> tuple[float, float]:
    """The worker's pairs/s from the moment its source loop first took partitions (its log
    says when) to the write time of its last joined pair, and the wall time with start-up.

    Starting at the first partitions taken counts the worker's first seconds of reading
    predictions ahead of their labels, and, with several source processes, the time one reads
    alone before a rebalance gives the others their share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({
        "DRIFTLINE_HOME": str(home), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix, "DRIFTLINE_WINDOW_SIZE": "60",
        "DRIFTLINE_METRICS_PORT": "0", "DRIFTLINE_LOG_LEVEL": "INFO",
    })
    env["DRIFTLINE_SOURCE_PROCESSES"] = str(processes)
    labeled = kafka.topic("labeled")
    log_path = home / "monitor.log"
    began = time.monotonic()
    with open(log_path, "wb") as log:
        # cwd: the run's own folder. `python -m` puts its working directory first on the
        # import path, so a worker started from a checkout would run that checkout's code
        # whatever PYTHONPATH says (an A/B of two checkouts would run one code twice).
        proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "monitor"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=home)
    try:
        while sum(h for _, h in watermarks(kafka, labeled).values()) < n:
            if proc.poll() is not None:
                raise SystemExit(f"the monitor exited early; its log:\n{_tail(log_path)}")
            if time.monotonic() - began > 1800:
                raise SystemExit("the monitor did not finish in 30 minutes")
            time.sleep(1.0)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            print("the monitor did not stop within 60 s of SIGTERM; killed")
            proc.kill()
            proc.wait(10)
    last = max(m.timestamp()[1] for m in read_topic(kafka, labeled)) / 1000.0
    return n / (last - _reading_since(log_path)), time.monotonic() - began


def _reading_since(log_path: Path) -> float:
    """When the worker's source loop first took partitions (epoch seconds), from its log
    lines "partition N: resumed at ..." (the log's local-time stamp, to the millisecond);
    prints how many times partitions were taken when more than once (rebalances)."""
    stamps = []
    for line in log_path.read_text(errors="replace").splitlines():
        match = _STAMP.search(line)
        if match and "resumed at" in line:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            stamps.append(when.timestamp())  # naive: local time, as the log writes it
    if not stamps:
        raise SystemExit(f"no 'resumed at' line in the monitor's log:\n{_tail(log_path)}")
    if len(stamps) > 6:
        print(f"(source partitions taken {len(stamps)} times, over "
              f"{max(stamps) - min(stamps):.1f} s: rebalances as the source loops joined)")
    return min(stamps)


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def one_round(bootstrap: str, events: int,
              processes: int) -> tuple[float, float, float, float]:
    """Fresh topics filled, read raw by both clients, then by one monitor worker
    (``processes``: its DRIFTLINE_SOURCE_PROCESSES); returns
    the aiokafka and confluent-kafka raw rates (events/s), the monitor's pairs/s and its wall
    time with start-up. The round's topics are deleted afterwards."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap,
                          topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    try:
        create_topics(kafka)
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            from producers.bootstrap import bootstrap as register_champion

            register_champion(home, rows=4000)  # v1 @champion with its reference profile
            fill(kafka, events)
            # the raw reads with the collector the worker's processes use (tune_gc): with
            # Python's default one, aiokafka read here at well under half the rate
            tune_gc()
            raw = asyncio.run(raw_rate(kafka, 2 * events))
            confluent = confluent_rate(kafka, 2 * events)
            pairs, wall = monitor_rate(kafka, home, events, processes)
        return raw, confluent, pairs, wall
    finally:
        drop_topics(kafka)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000,
                        help="predictions (and as many labels)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds, each on fresh topics with its own anchors; the summary "
                             "gives the median (single runs vary by 20%% or more here)")
    parser.add_argument("--source-processes", type=int, nargs="+", default=[1, 2],
                        metavar="N",
                        help="the worker's DRIFTLINE_SOURCE_PROCESSES (0: the source loop in a "
                             "thread of the worker); several values: a round of each, "
                             "alternated (default: 1 2, the default and two cores' worth)")
    args = parser.parse_args()
    bootstrap, local = bench_broker("monitor", PORT)
    rows: dict[int, list[tuple[float, float, float]]] = {}
    try:
        for _, processes in itertools.product(range(args.rounds), args.source_processes):
            raw, confluent, pairs, wall = one_round(bootstrap, args.events, processes)
            rows.setdefault(processes, []).append((raw, confluent, pairs))
            shape = (f"{processes} source process{'es' if processes > 1 else ''}" if processes
                     else "source loop in a thread")
            print(f"{args.events:,} predictions + {args.events:,} labels, 6 partitions, "
                  f"one worker ({shape})")
            print(f"{'measure':48} {'events/s':>12}")
            print(f"{'aiokafka raw consume, both topics (anchor)':48} {raw:12,.0f}")
            print(f"{'confluent-kafka raw consume, both topics':48} {confluent:12,.0f}")
            print(f"{'driftline monitor: predictions + labels':48} {2 * pairs:12,.0f}")
            print(f"{'driftline monitor: prediction events':48} {pairs:12,.0f}")
            print(f"monitor / aiokafka raw = {2 * pairs / raw:.3f}; monitor / confluent-kafka "
                  f"raw = {2 * pairs / confluent:.3f}; goal 50,000 prediction events/s: "
                  f"{'met' if pairs >= 50_000 else 'NOT met'}; wall time with start-up "
                  f"{wall:.0f} s", flush=True)
        for processes, runs in rows.items():
            if len(runs) < 2:
                continue
            pairs = statistics.median(r[2] for r in runs)
            ratio = statistics.median(2 * r[2] / r[0] for r in runs)
            print(f"source processes {processes}: median of {len(runs)} rounds: "
                  f"{pairs:,.0f} prediction events/s, {ratio:.3f} of aiokafka raw; "
                  f"goal 50,000: {'met' if pairs >= 50_000 else 'NOT met'}")
    finally:
        if local is not None:
            local.stop()


if __name__ == "__main__":
    main()
