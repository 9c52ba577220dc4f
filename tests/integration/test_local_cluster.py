"""The local three-broker cluster through the CLI: `kafka status --brokers 3` and a second
`kafka start --brokers 3` see the session's cluster (tests/conftest.py) and start nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from driftline.localcluster import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]


def _cli(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    port = cluster.nodes[1].node.port
    env.update({
        "DRIFTLINE_HOME": str(cluster.root.parent),
        "DRIFTLINE_KAFKA_LOCAL_PORT": str(port),
        "DRIFTLINE_KAFKA_LOCAL_CONTROLLER_PORT": str(port + 1),
    })
    return subprocess.run([sys.executable, "-m", "driftline.cli", "kafka", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_sees_all_three_nodes_and_a_second_start_starts_nothing(
    kafka_cluster: LocalCluster,
):
    pids = kafka_cluster.status().pids
    assert all(pids.values())
    status = _cli(kafka_cluster, "status", "--brokers", "3")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "answering on " + kafka_cluster.bootstrap in status.stdout
    again = _cli(kafka_cluster, "start", "--brokers", "3")
    assert again.returncode == 0, again.stderr
    for node, pid in pids.items():
        assert f"node {node} pid {pid}" in again.stdout
    assert kafka_cluster.status().pids == pids

