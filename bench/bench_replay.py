"""How fast ``driftline replay --speed max`` copies a topic, against confluent-kafka's own
ceiling measured in the same run on the same broker.

Anchors: a raw confluent-kafka consume loop (``consume(batch)``, touching each message's key and
value) over the source topic, and a raw confluent-kafka produce loop (prebuilt messages from
memory, same lz4/linger/batch settings) into a fresh topic. A replay does both at once on one
Python thread, so min(consume, produce) is a ceiling it cannot beat; the ratio says how close it
comes; 1/(1/consume + 1/produce), one thread doing both in turn, is printed as well.
Messages are encoded PredictionEvents of the credit-risk model (~410 bytes) with keys and
a header, over 6 partitions; each measure is the best of ``--rounds`` (the machine is shared).

The broker: ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` if set, else a local broker under
``.driftline/bench`` on 127.0.0.1:29192 (started here if it is not running, and stopped at the end
unless ``--keep-broker``).

    .venv/bin/python bench/bench_replay.py                 # 1,000,000 messages
    .venv/bin/python bench/bench_replay.py --messages 300000 --keep-broker
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from driftline.events import PredictionEvent, encode
from driftline.kafka.admin import create_topics, delete_topics
from driftline.settings import KafkaSettings
from driftline.topics import TopicSpec
from producers.replay import CONSUMER_OPTIONS, PRODUCER_OPTIONS, ReplayRequest, replay

REPO = Path(__file__).resolve().parents[1]
BENCH_PORT = 29192


def _broker(keep: bool) -> tuple[KafkaSettings, object | None]:
    """Kafka settings for the benchmark broker, and the LocalKafka to stop (None: leave it)."""
    from _broker import bench_broker

    bootstrap, local = bench_broker("replay", BENCH_PORT, keep=keep)
    return KafkaSettings(bootstrap_servers=bootstrap), local


def _topic(settings: KafkaSettings, name: str, partitions: int) -> str:
    from driftline.events import Event

    spec = TopicSpec(name, Event, "key", partitions)
    create_topics(settings, [spec])
    return name


def _payloads(n: int) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(n):
        event = PredictionEvent(
            prediction_id=f"{i:032x}", event_time=1.76e9 + i * 0.01, model_name="credit-risk",
            model_version="3",
            features={"annual_income": 612000.0 + i % 9973, "loan_amount": 250000.0 + i % 7919,
                      "employment_years": 4.5, "existing_debt_ratio": 0.31,
                      "credit_history_months": 60.0, "channel": "web", "city_tier": "tier2"},
            score=(i % 1000) / 1000, decision="MEDIUM", entity_id=f"app-{i}",
        )
        out.append((event.key, encode(event)))
    return out


def _produce_all(settings: KafkaSettings, topic: str, messages, partitions: int) -> float:
    """Raw confluent-kafka produce of prebuilt messages; returns msgs/s (flush included)."""
    conf = {**settings.confluent_config(), **PRODUCER_OPTIONS}
    producer = Producer(conf)
    headers = [("source", b"bench")]
    produce, poll = producer.produce, producer.poll
    began = time.perf_counter()
    for i, (key, value) in enumerate(messages):
        try:
            produce(topic, value, key, partition=i % partitions, headers=headers)
        except BufferError:
            poll(0.05)
            produce(topic, value, key, partition=i % partitions, headers=headers)
        if i % 10_000 == 0:
            poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - began
    if left:
        raise SystemExit(f"{left} messages not delivered to {topic}")
    return len(messages) / elapsed


def _consume_all(settings: KafkaSettings, topic: str, n: int, partitions: int) -> float:
    """Raw confluent-kafka consume(batch) of the whole topic; returns msgs/s."""
    consumer = Consumer({
        **settings.confluent_config(), **CONSUMER_OPTIONS,
        "group.id": f"bench-{uuid.uuid4().hex[:8]}",
    })
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen = 0
    nbytes = 0
    began = time.perf_counter()
    while seen < n:
        for msg in consumer.consume(50_000, 1.0):
            if msg.error() is None:
                nbytes += len(msg.value()) + len(msg.key())
                seen += 1
    elapsed = time.perf_counter() - began
    consumer.close()
    return seen / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="best of this many per measure")
    parser.add_argument("--keep-broker", action="store_true", help="leave a broker started here")
    args = parser.parse_args()
    n, parts = args.messages, args.partitions

    settings, to_stop = _broker(args.keep_broker)
    run = uuid.uuid4().hex[:8]
    source = _topic(settings, f"bench-replay-{run}-source", parts)
    made = [source]
    try:
        messages = _payloads(n)
        size = sum(len(k) + len(v) for k, v in messages) / n
        print(f"broker {settings.bootstrap}; {n:,} messages of {size:.0f} bytes "
              f"(key + value + one header), {parts} partitions, lz4; best of {args.rounds}")
        fill = _produce_all(settings, source, messages, parts)
        print(f"filled {source} at {fill:,.0f} msg/s")
        consume, produce, copy, whole = [], [], [], []
        for i in range(args.rounds):
            consume.append(_consume_all(settings, source, n, parts))
            made.append(_topic(settings, f"bench-replay-{run}-produced-{i}", parts))
            produce.append(_produce_all(settings, made[-1], messages, parts))
            made.append(f"bench-replay-{run}-target-{i}")
            began = time.perf_counter()
            manifest = replay(settings, ReplayRequest(topic=source, to_topic=made[-1]))
            whole.append(n / (time.perf_counter() - began))
            if manifest.count != n:
                raise SystemExit(f"replay copied {manifest.count} of {n} messages")
            copy.append(manifest.rate)
            print(f"round {i + 1}: consume {consume[-1]:,.0f}, produce {produce[-1]:,.0f}, "
                  f"replay {copy[-1]:,.0f} msgs/s")
        del messages
        c, p, r = max(consume), max(produce), max(copy)
        ceiling = min(c, p)
        serial = 1 / (1 / c + 1 / p)
        rows = [
            ("confluent-kafka raw consume (anchor)", c),
            ("confluent-kafka raw produce (anchor)", p),
            ("driftline replay --speed max", r),
            ("driftline replay, whole call", max(whole)),
        ]
        print(f"\n{'measure':40} {'msgs/s':>12}")
        for name, rate in rows:
            print(f"{name:40} {rate:12,.0f}")
        print(f"\nceiling = min(raw consume, raw produce) = {ceiling:,.0f} msgs/s; "
              f"replay / ceiling = {r / ceiling:.2f}")
        print(f"one thread doing both, 1/(1/consume + 1/produce) = {serial:,.0f} msgs/s; "
              f"replay / that = {r / serial:.2f}")
        print(f"replay >= 100,000 msgs/s: {'yes' if r >= 100_000 else 'NO'}")
    finally:
        delete_topics(settings, made)
        if to_stop is not None:
            to_stop.stop()  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
