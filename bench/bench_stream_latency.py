"""Streaming scoring latency: from a transaction written to ``transactions`` to its prediction
written to ``predictions`` by ``driftline serve --stream --no-http``, against a raw relay in the
same run as the anchor.

Transactions go out one at a time at ``--rate`` per second (a producer with ``linger.ms`` 0).
The scorer runs as its own process. The anchor is a confluent-kafka consumer in a group of
its own on the same topic that writes each message straight back to a topic of its own
(``poll`` and ``produce``, ``linger.ms`` 0): what Kafka and its client cost on this machine with
no decoding, scoring or batching. Each latency is the difference between the two messages'
create timestamps (both set by clients on this machine, in milliseconds). The ratio is the
scorer's median over the relay's.

The broker: ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` if set, else a local broker under
``.driftline/bench/stream`` on 127.0.0.1:29792 (started here unless one answers there).

    .venv/bin/python bench/bench_stream_latency.py [--rate 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from _broker import bench_broker, drop_topics
from confluent_kafka import Consumer, Producer

from driftline.events import PredictionEvent, TransactionEvent, decode, encode
from driftline.kafka import create_topics, iter_range
from driftline.kafka.admin import create_internal_topics, watermarks
from driftline.settings import KafkaSettings
from producers.generator import LoanGenerator

PORT = int(os.environ.get("DRIFTLINE_BENCH_STREAM_KAFKA_PORT", "29792"))


def _relay(kafka: KafkaSettings, source: str, target: str, stop: threading.Event) -> None:
    consumer = Consumer({**kafka.confluent_config(), "group.id": f"relay-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    producer = Producer({**kafka.confluent_config(), "linger.ms": 0})
    consumer.subscribe([source])
    try:
        while not stop.is_set():
            msg = consumer.poll(0.1)
            if msg is None or msg.error():
                continue
            producer.produce(target, msg.value(), msg.key())
            producer.poll(0)
    finally:
        producer.flush(10)
        consumer.close()


def _stamps(kafka: KafkaSettings, topic: str, key_of) -> dict[str, int]:
    """key -> create timestamp (ms) of every message on ``topic``."""
    return {key_of(m): m.timestamp()[1]
            for m in iter_range(kafka, topic, watermarks(kafka, topic))}


def _on_topic(kafka: KafkaSettings, topic: str) -> int:
    return sum(high - low for low, high in watermarks(kafka, topic).values())


def _wait_for(kafka: KafkaSettings, topic: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _on_topic(kafka, topic) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"{topic}: fewer than {n} messages after {timeout:.0f} s")
        time.sleep(0.5)


def _percentiles(values: list[int]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[94], cuts[98]


def one_round(bootstrap: str, rate: float, seconds: float) -> tuple[list[int], list[int]]:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=f"lat{uuid.uuid4().hex[:6]}.")
    transactions, predictions = (kafka.topic("transactions"),
                                 kafka.topic("predictions"))
    relayed = f"{kafka.topic_prefix}relayed"
    try:
        create_topics(kafka)
        create_internal_topics(kafka, {relayed: (6, {})})
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            from producers.bootstrap import bootstrap as register_champion

            register_champion(home, rows=4000)
            env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
            env.update({"DRIFTLINE_HOME": str(home),
                        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
                        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
                        "DRIFTLINE_STREAM_GROUP": f"lat-{uuid.uuid4().hex[:8]}",
                        "DRIFTLINE_METRICS_PORT": "0"})
            log = open(home / "scorer.log", "wb")  # noqa: SIM115 - the child's stdout
            scorer = subprocess.Popen(
                [sys.executable, "-m", "driftline.cli", "serve", "--stream", "--no-http"],
                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
            stop = threading.Event()
            relay = threading.Thread(target=_relay, args=(kafka, transactions, relayed, stop))
            relay.start()
            try:
                n = _send(kafka, transactions, rate, seconds, scorer, home)
                _wait_for(kafka, predictions, n, 120)
                _wait_for(kafka, relayed, n, 120)
            finally:
                stop.set()
                relay.join(30)
                scorer.terminate()
                scorer.wait(60)
                log.close()
        sent = _stamps(kafka, transactions, lambda m: m.key().decode())
        scored = _stamps(kafka, predictions,
                         lambda m: decode(PredictionEvent, m.value()).entity_id)
        raw = _stamps(kafka, relayed, lambda m: m.key().decode())
        return ([scored[k] - t for k, t in sent.items() if not k.startswith("warm")],
                [raw[k] - t for k, t in sent.items() if not k.startswith("warm")])
    finally:
        drop_topics(kafka)


def _send(kafka: KafkaSettings, topic: str, rate: float, seconds: float,
          scorer: subprocess.Popen, home: Path) -> int:
    """Warm-up transactions until the scorer answers, then ``rate`` per second for
    ``seconds``, one at a time; returns how many were sent (warm-up included)."""
    rows = LoanGenerator(11).sample(int(rate * seconds) + 200).rows()
    producer = Producer({**kafka.confluent_config(), "linger.ms": 0})

    def send(key: str, row: dict) -> None:
        event = TransactionEvent(entity_id=key, event_time=time.time(), features=row)
        producer.produce(topic, encode(event), key.encode())
        producer.poll(0)

    predictions = kafka.topic("predictions")
    warm = 0
    deadline = time.monotonic() + 180
    while not _on_topic(kafka, predictions):
        if scorer.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the scorer did not start; its log:\n"
                             f"{(home / 'scorer.log').read_text(errors='replace')[-3000:]}")
        send(f"warm{warm}", rows[warm % 200])
        warm += 1
        producer.flush(10)
        time.sleep(1.0)
    time.sleep(2.0)  # the relay's group settled too
    interval, began = 1.0 / rate, time.monotonic()
    count = int(rate * seconds)
    for i in range(count):
        pause = began + i * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        send(f"tx{i}", rows[200 + i])
    producer.flush(30)
    return warm + count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="transactions per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to send")
    args = parser.parse_args()
    bootstrap, local = bench_broker("stream", PORT)
    try:
        scorer, relay = one_round(bootstrap, args.rate, args.seconds)
    finally:
        if local is not None:
            local.stop()
    print(f"{len(scorer):,} transactions at {args.rate:g}/s, one at a time; latency in ms from "
          "the transaction written to its output written")
    print(f"{'':40} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}")
    for name, values in (("driftline serve --stream --no-http", scorer),
                         ("raw relay, confluent-kafka (anchor)", relay)):
        p50, p95, p99 = _percentiles(values)
        print(f"{name:40} {p50:8.0f} {p95:8.0f} {p99:8.0f} {max(values):8.0f}")
    (s50, _, s99), (r50, _, r99) = _percentiles(scorer), _percentiles(relay)
    print(f"scorer / relay: p50 {s50 / max(r50, 1):.1f}x, p99 {s99 / max(r99, 1):.1f}x "
          "(timestamps in whole ms)")


if __name__ == "__main__":
    main()
