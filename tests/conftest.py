"""Shared fixtures.

Integration tests run against a real Kafka broker, chosen in this order:
``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` if set; else testcontainers' Kafka where a Docker engine
answers; else the local broker (``driftline.localkafka``) started for the session on its own
ports and data folder, and stopped at the end if this session started it.
Every test gets its own topics (a uuid prefix) and consumer groups.

Tests marked ``cluster`` share one local three-broker cluster (:func:`kafka_cluster`),
started the first time one asks for it, on ports of its own, and stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings as hypothesis_settings
from hypothesis.configuration import set_hypothesis_home_dir

from driftline.kafka.admin import create_topics, delete_topics, wait_for_broker
from driftline.settings import DriftlineSettings, KafkaSettings
from driftline.topics import TOPICS, TopicSpec, topic_name

if TYPE_CHECKING:
    from driftline.localcluster import LocalCluster

REPO = Path(__file__).resolve().parents[1]
# Below Linux's ephemeral range (32768-60999 by default): a port in it can be held for a moment
# by an outgoing connection, and the broker then fails to bind it (seen once, on 39392).
TEST_PORT = int(os.environ.get("DRIFTLINE_TEST_KAFKA_PORT", "29092"))
# One data folder per port: a session on another port never meets the broker (or the lock on
# its data) of a session on the default one, even one left running by a killed session.
TEST_HOME = REPO / ".driftline" / ("test" if TEST_PORT == 29092 else f"test-{TEST_PORT}")

# The local three-broker cluster of the ``cluster`` tests: nodes on CLUSTER_PORT + 2i (clients)
# and CLUSTER_PORT + 2i + 1 (controllers), i = 0, 1, 2; a data folder of its own per port.
CLUSTER_PORT = int(os.environ.get("DRIFTLINE_TEST_CLUSTER_PORT", "29492"))
CLUSTER_HOME = REPO / ".driftline" / f"test-cluster-{CLUSTER_PORT}"
CLUSTER_HEAP = "384m"  # per node: three nodes in about 1.5 GB with the JVMs' own memory

# Hypothesis keeps what it stores (found examples, constants) under driftline's home, not in
# the working directory.
set_hypothesis_home_dir(REPO / ".driftline" / "hypothesis")
# Property tests judge behaviour, not speed: Hypothesis' default deadline (200 ms an example)
# is a timed assertion that a busy machine can fail; benchmarks measure speed.
hypothesis_settings.register_profile("driftline", deadline=None)
hypothesis_settings.load_profile("driftline")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def _answers(bootstrap: str) -> bool:
    """A broker already listens there (another checkout's test session, say): share it."""
    from driftline.errors import BrokerUnavailableError

    try:
        wait_for_broker(KafkaSettings(bootstrap_servers=bootstrap), timeout=1.5)
        return True
    except BrokerUnavailableError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a real broker for the whole test session."""
    given = os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS")
    if given:
        wait_for_broker(KafkaSettings(), timeout=30)
        yield given
        return
    if os.environ.get("DRIFTLINE_TEST_DOCKER", "1") == "1" and _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:4.0.2").with_kraft() as container:
            yield container.get_bootstrap_server()
        return

    from driftline.localkafka import LocalKafka

    settings = DriftlineSettings(
        home=TEST_HOME,
        kafka=KafkaSettings(
            bootstrap_servers=None, local_port=TEST_PORT, local_controller_port=TEST_PORT + 1
        ),
    )
    local = LocalKafka(settings)
    started_here = not local.status(probe_timeout=1).running and not _answers(local.bootstrap)
    if started_here:
        shutil.rmtree(local.root / "data", ignore_errors=True)  # fresh cluster per session
        local.start(timeout=120)
    os.environ["DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS"] = local.bootstrap  # for subprocesses
    try:
        yield local.bootstrap
    finally:
        os.environ.pop("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS", None)
        if started_here:
            local.stop()


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[LocalCluster]:
    """A fresh local KRaft cluster of three combined broker and controller nodes for the
    session (``driftline kafka start --brokers 3``), stopped at the end. Tests that kill a node
    start it again before they end (``kafka_cluster.start()`` starts only what is down)."""
    from driftline.localcluster import LocalCluster

    cluster = LocalCluster(DriftlineSettings(
        home=CLUSTER_HOME,
        kafka=KafkaSettings(bootstrap_servers=None, local_port=CLUSTER_PORT,
                            local_controller_port=CLUSTER_PORT + 1, local_heap=CLUSTER_HEAP),
    ))
    cluster.stop()  # one a killed session left behind
    shutil.rmtree(cluster.root, ignore_errors=True)
    cluster.start(timeout=240)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kafka(kafka_bootstrap: str) -> KafkaSettings:
    """KafkaSettings for the test broker with a fresh topic prefix (topics not yet created)."""
    return KafkaSettings(
        bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}."
    )


@pytest.fixture
def driftline_topics(kafka: KafkaSettings) -> Iterator[dict[str, str]]:
    """Every topic of the topic table, created under the test's own prefix.
    Yields logical name -> full name."""
    create_topics(kafka)
    names = {t.name: topic_name(t, kafka.topic_prefix) for t in TOPICS}
    yield names
    delete_topics(kafka, names.values())


@pytest.fixture
def topic_factory(kafka: KafkaSettings) -> Iterator[Callable[..., str]]:
    """Create uniquely named ad-hoc topics: ``topic_factory(partitions=3) -> name``."""
    made: list[str] = []

    def make(partitions: int = 1, name: str = "topic", config: dict[str, str] | None = None):
        from driftline.events import Event

        spec = TopicSpec(f"{name}-{uuid.uuid4().hex[:8]}", Event, "key", partitions, config or {})
        create_topics(kafka, [spec])
        full = topic_name(spec, kafka.topic_prefix)
        made.append(full)
        return full

    yield make
    delete_topics(kafka, made)


@pytest.fixture
def group_id() -> str:
    return f"test-group-{uuid.uuid4().hex[:10]}"
