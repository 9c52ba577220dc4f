"""The broker a benchmark runs against: ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` if set, else a
local broker of its own (data under ``.driftline/bench/<name>``) started on ``port`` unless one
already answers there. Returns the bootstrap string and the LocalKafka to stop afterwards
(None when the benchmark did not start it)."""

from __future__ import annotations

import os
from pathlib import Path

from driftline.kafka.admin import delete_topics, wait_for_broker
from driftline.settings import DriftlineSettings, KafkaSettings

__all__ = ["bench_broker", "drop_topics"]

REPO = Path(__file__).resolve().parents[1]


def bench_broker(name: str, port: int, *, keep: bool = False):  # -> tuple[str, LocalKafka | None]
    given = os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS")
    if given:
        wait_for_broker(KafkaSettings(bootstrap_servers=given), timeout=30)
        return given, None
    from driftline.localkafka import LocalKafka

    local = LocalKafka(DriftlineSettings(
        home=REPO / ".driftline" / "bench" / name,
        kafka=KafkaSettings(bootstrap_servers=None, local_port=port,
                            local_controller_port=port + 1, local_heap="1g"),
    ))
    if local.status(probe_timeout=1).answering:
        return local.bootstrap, None
    print(f"starting a local broker on {local.bootstrap} (data in {local.data_dir})")
    try:
        local.start(timeout=120)
    except BaseException:  # Ctrl-C or a failed start: leave no broker behind
        local.stop()
        raise
    return local.bootstrap, (None if keep else local)


def drop_topics(kafka: KafkaSettings) -> None:
    """Delete every topic named with ``kafka``'s prefix (a run's topics and the internal ones
    of the services it ran): a warm broker kept for many runs would otherwise gather
    hundreds of partitions, and slow down with them."""
    from confluent_kafka.admin import AdminClient

    present = AdminClient(kafka.confluent_config()).list_topics(timeout=10).topics
    delete_topics(kafka, [t for t in present if t.startswith(kafka.topic_prefix)])
