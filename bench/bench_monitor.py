"""Monitor throughput: prediction events processed per second by one ``driftline monitor``
worker, against raw consume rates of the same topics measured in the same run: aiokafka's
(the anchor the issue names: faust's client) and confluent-kafka's (the client the monitor's
source loop reads with, so its true ceiling).

The topics are filled first (predictions and their labels, 6 partitions each); the raw
consumers then read them all; then one monitor worker (a subprocess) joins, counts windows
and judges them. Its rate comes from the write times of its output on ``labeled``: pairs
joined per second between the first and the last joined pair. Each prediction event is
counted with its label processed too (a prediction event/s is a pair/s).

    .venv/bin/python bench/bench_monitor.py [--events 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _broker import bench_broker, drop_topics

from driftline.events import LabelEvent, PredictionEvent
from driftline.kafka import Producer, create_topics, read_topic
from driftline.kafka.admin import watermarks
from driftline.settings import KafkaSettings
from producers.generator import LoanGenerator

PORT = int(os.environ.get("DRIFTLINE_BENCH_MONITOR_KAFKA_PORT", "39392"))


def fill(kafka: KafkaSettings, n: int) -> None:
    batch = LoanGenerator(3).sample(n)
    t0 = 1_700_000_000.0
    with Producer(kafka) as producer:
        for i, (row, label, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                                batch.probabilities.tolist(), strict=True)):
            pid = f"b{i:08d}"
            t = t0 + i / 50.0
            producer.send(f"{kafka.topic_prefix}predictions", PredictionEvent(
                prediction_id=pid, event_time=t, model_name="credit-risk", model_version="1",
                features=row, score=p, decision="LOW"))
            producer.send(f"{kafka.topic_prefix}labels",
                          LabelEvent(prediction_id=pid, event_time=t + 60.0, label=label))


async def raw_rate(kafka: KafkaSettings, total: int) -> float:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        f"{kafka.topic_prefix}predictions", f"{kafka.topic_prefix}labels",
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
    consumer.subscribe([f"{kafka.topic_prefix}predictions", f"{kafka.topic_prefix}labels"])
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


def monitor_rate(kafka: KafkaSettings, home: Path, n: int) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({
        "DRIFTLINE_HOME": str(home), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix, "DRIFTLINE_WINDOW_SIZE": "60",
        "DRIFTLINE_METRICS_PORT": "0", "DRIFTLINE_LOG_LEVEL": "WARNING",
    })
    labeled = f"{kafka.topic_prefix}labeled"
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "driftline.cli", "monitor"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while sum(h for _, h in watermarks(kafka, labeled).values()) < n:
            if proc.poll() is not None:
                raise SystemExit("the monitor exited early")
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
    stamps = sorted(m.timestamp()[1] for m in read_topic(kafka, labeled))
    span = (stamps[-1] - stamps[0]) / 1000.0
    return n / span, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000,
                        help="predictions (and as many labels)")
    args = parser.parse_args()
    bootstrap, local = bench_broker("monitor", PORT)
    kafka = KafkaSettings(bootstrap_servers=bootstrap,
                          topic_prefix=f"bench{uuid.uuid4().hex[:6]}.")
    try:
        create_topics(kafka)
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            from scorer.training import bootstrap

            bootstrap(home, rows=4000)  # v1 @champion with its reference profile
            fill(kafka, args.events)
            raw = asyncio.run(raw_rate(kafka, 2 * args.events))
            confluent = confluent_rate(kafka, 2 * args.events)
            pairs, wall = monitor_rate(kafka, home, args.events)
        print(f"{args.events:,} predictions + {args.events:,} labels, 6 partitions, one worker")
        print(f"{'measure':48} {'events/s':>12}")
        print(f"{'aiokafka raw consume, both topics (anchor)':48} {raw:12,.0f}")
        print(f"{'confluent-kafka raw consume, both topics':48} {confluent:12,.0f}")
        print(f"{'driftline monitor: predictions + labels':48} {2 * pairs:12,.0f}")
        print(f"{'driftline monitor: prediction events':48} {pairs:12,.0f}")
        print(f"monitor / aiokafka raw = {2 * pairs / raw:.3f}; monitor / confluent-kafka raw = "
              f"{2 * pairs / confluent:.3f}; goal 50,000 prediction events/s: "
              f"{'met' if pairs >= 50_000 else 'NOT met'}; wall time with start-up {wall:.0f} s")
    finally:
        drop_topics(kafka)
        if local is not None:
            local.stop()


if __name__ == "__main__":
    main()
