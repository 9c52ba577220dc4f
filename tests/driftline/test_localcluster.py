from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftline.localcluster import LocalCluster
from driftline.localkafka import LocalKafka
from driftline.settings import DriftlineSettings, KafkaSettings


def _properties(local: LocalKafka) -> dict[str, str]:
    local._write_config()
    lines = local.properties.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_each_cluster_node_is_a_voter_on_its_own_ports_with_replicated_internal_topics(
    tmp_path,
):
    cluster = LocalCluster(DriftlineSettings(
        home=tmp_path, kafka=KafkaSettings(bootstrap_servers=None, local_port=29500,
                                           local_controller_port=29501)))
    conf = _properties(cluster.nodes[2])
    assert conf["node.id"] == "2"
    assert conf["controller.quorum.voters"] == (
        "1@127.0.0.1:29501,2@127.0.0.1:29503,3@127.0.0.1:29505")
    assert conf["listeners"] == "PLAINTEXT://127.0.0.1:29502,CONTROLLER://127.0.0.1:29503"
    assert conf["log.dirs"] == str(tmp_path / "kafka-cluster" / "node-2" / "data")
    assert conf["offsets.topic.replication.factor"] == "3"
    assert conf["transaction.state.log.min.isr"] == "2"
    assert conf["min.insync.replicas"] == "2"
    assert cluster.bootstrap == "127.0.0.1:29500,127.0.0.1:29502,127.0.0.1:29504"


def test_the_single_broker_keeps_one_replica(tmp_path):
    conf = _properties(LocalKafka(DriftlineSettings(home=tmp_path)))
    assert conf["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert conf["offsets.topic.replication.factor"] == "1"
    assert conf["min.insync.replicas"] == "1"
    assert conf["log.dirs"] == str(tmp_path / "kafka" / "data")


def test_a_cluster_whose_node_ports_collide_is_refused():
    with pytest.raises(ValidationError, match="local_controller_port \\+ 2i"):
        KafkaSettings(local_brokers=3, local_port=9092, local_controller_port=9094)


def test_two_local_brokers_is_refused():
    with pytest.raises(ValidationError, match="1 \\(one broker\\) or 3"):
        KafkaSettings(local_brokers=2)


def test_the_cluster_is_started_only_once_each_node_lists_every_broker(tmp_path, monkeypatch):
    # right after a start, one node's metadata can still lack a broker the others list:
    # a topic created through it would get one replica
    from types import SimpleNamespace

    import driftline.localcluster as localcluster

    cluster = LocalCluster(DriftlineSettings(
        home=tmp_path, kafka=KafkaSettings(bootstrap_servers=None, local_port=29500,
                                           local_controller_port=29501)))
    seen = {"127.0.0.1:29500": {1: 0, 2: 0, 3: 0}, "127.0.0.1:29502": {1: 0, 2: 0, 3: 0},
            "127.0.0.1:29504": {3: 0}}
    asked = []

    def metadata(kafka, timeout):
        asked.append(kafka.bootstrap)
        return SimpleNamespace(brokers=seen[kafka.bootstrap])

    monkeypatch.setattr(localcluster, "cluster_metadata", metadata)
    assert not cluster.every_node_lists(frozenset({1, 2, 3}))
    assert asked == list(seen)  # each node on its own
    seen["127.0.0.1:29504"] = {1: 0, 2: 0, 3: 0}
    assert cluster.every_node_lists(frozenset({1, 2, 3}))
