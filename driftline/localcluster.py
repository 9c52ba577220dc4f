"""The local cluster: three Apache Kafka nodes in KRaft mode on 127.0.0.1, each a broker and
a controller in one process, the three controllers one quorum (static voters), data under
``<home>/kafka-cluster/node-<id>``. ``driftline kafka start --brokers 3`` runs it.

Three combined nodes rather than three brokers and a dedicated controller: three JVMs instead
of four on a small machine, and losing any one node (the active controller included) leaves
a majority of the quorum and two replicas of every partition, so a crash of any node is a
fault the cluster rides out. Internal topics are replicated three times with
``min.insync.replicas=2``; so are driftline's topics (see
:func:`driftline.kafka.admin.replication`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import KafkaException

from driftline.errors import LocalKafkaError
from driftline.kafka.admin import cluster_metadata
from driftline.localkafka import LocalKafka, NodeSpec, alive, new_cluster_id
from driftline.settings import DriftlineSettings

__all__ = ["LocalCluster", "LocalClusterStatus"]


@dataclass(frozen=True)
class LocalClusterStatus:
    """Which nodes run (node id -> pid), which brokers the cluster lists, where it listens."""

    pids: dict[int, int | None]
    brokers: frozenset[int]
    bootstrap: str
    version: str
    data_dir: Path

    @property
    def running(self) -> bool:
        """True while any node's process runs."""
        return any(pid is not None for pid in self.pids.values())

    @property
    def answering(self) -> bool:
        """True when every node runs and is a registered broker of the cluster."""
        return all(self.pids.values()) and self.brokers == frozenset(self.pids)

    def describe(self) -> str:
        if not self.running:
            return f"local Kafka {self.version} cluster: stopped (data in {self.data_dir})"
        nodes = ", ".join(
            f"node {node} " + (f"pid {pid}" if pid else "stopped")
            + ("" if node in self.brokers or not pid else " (not registered)")
            for node, pid in sorted(self.pids.items())
        )
        state = "answering" if self.answering else "not answering"
        return (
            f"local Kafka {self.version} cluster: {nodes}; {state} on {self.bootstrap} "
            f"(data in {self.data_dir})"
        )


class LocalCluster:
    """Fetch, format, start, stop, kill and inspect the three nodes of the local cluster."""

    size = 3

    def __init__(self, settings: DriftlineSettings) -> None:
        self._settings = settings.model_copy(
            update={"kafka": settings.kafka.model_copy(update={"local_brokers": self.size})}
        )
        k = self._settings.kafka
        self.root = settings.home.resolve() / "kafka-cluster"
        ports = [k.local_node_ports(i) for i in range(self.size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{ctl}" for i, (_, ctl) in enumerate(ports))
        self.nodes = {
            i + 1: LocalKafka(self._settings, NodeSpec(
                i + 1, port, ctl, voters, self.root / f"node-{i + 1}", cluster_size=self.size))
            for i, (port, ctl) in enumerate(ports)
        }
        self.bootstrap = k.bootstrap
        self._kafka = k

    @property
    def version(self) -> str:
        return self.nodes[1].version

    @property
    def data_dir(self) -> Path:
        return self.root

    def fetch(self) -> list[Path]:
        """Resolve the broker jars (shared with the single broker's cache)."""
        return self.nodes[1].fetch()

    def _cluster_id(self) -> str:
        """The id all nodes are formatted with, kept in ``<root>/cluster.id``."""
        path = self.root / "cluster.id"
        if path.is_file():
            return path.read_text().strip()
        self.root.mkdir(parents=True, exist_ok=True)
        cluster_id = new_cluster_id()
        path.write_text(cluster_id)
        return cluster_id

    def brokers(self, timeout: float = 2.0) -> frozenset[int]:
        """Ids of the brokers the cluster lists now (empty when none answers)."""
        try:
            return frozenset(cluster_metadata(self._kafka, timeout).brokers)
        except KafkaException:
            return frozenset()

    def every_node_lists(self, ids: frozenset[int], timeout: float = 2.0) -> bool:
        """True when each node, asked on its own, lists every broker of ``ids``. A node's
        metadata follows the controller's a moment later, so right after a start one node
        can still list fewer brokers than another, and a topic created through it would get
        a replication factor for fewer brokers (:func:`driftline.kafka.admin.replication`)."""
        for node in self.nodes.values():
            one = self._kafka.model_copy(
                update={"bootstrap_servers": f"127.0.0.1:{node.node.port}"})
            try:
                if not ids <= frozenset(cluster_metadata(one, timeout).brokers):
                    return False
            except KafkaException:
                return False
        return True

    def status(self, probe_timeout: float = 2.0) -> LocalClusterStatus:
        pids = {node_id: node.pid() for node_id, node in self.nodes.items()}
        brokers = self.brokers(probe_timeout) if any(pids.values()) else frozenset()
        return LocalClusterStatus(pids, brokers, self.bootstrap, self.version, self.root)

    def start(self, timeout: float = 120.0) -> LocalClusterStatus:
        """Start every node that does not run (idempotent) and return once all three are
        registered brokers of the cluster, as each node answers. A node that exits while
        starting stops the start with its log's last lines; the other nodes are left as
        they are."""
        stopped = [node for node in self.nodes.values() if node.pid() is None]
        launched = []
        if stopped:
            jars = self.fetch()
            cluster_id = self._cluster_id()
            with ThreadPoolExecutor(len(stopped)) as pool:  # a JVM each: format side by side
                list(pool.map(lambda node: node.prepare(jars, cluster_id), stopped))
            launched = [(node, *node.launch(jars, cluster_id)) for node in stopped]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node, proc, began in launched:
                node.check_started(proc, began)
            status = self.status(probe_timeout=1.0)
            if status.answering and self.every_node_lists(status.brokers, timeout=1.0):
                return status
            time.sleep(0.2)
        tails = "\n".join(f"-- {node.name}:\n{node._log_tail(10)}" for node, _, _ in launched)
        raise LocalKafkaError(
            f"the cluster did not list all {self.size} brokers within {timeout:.0f}s "
            f"(it lists {sorted(self.brokers())}); last log lines:\n{tails}"
        )

    def kill(self, node_id: int) -> bool:
        """SIGKILL one node (a crash). False if it was not running."""
        return self.nodes[node_id].kill()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop every node: SIGTERM to all at once (each shuts down while the quorum still
        has a majority), SIGKILL to those left after ``timeout``. False if none ran."""
        pids = {node_id: node.pid() for node_id, node in self.nodes.items()}
        running = {node_id: pid for node_id, pid in pids.items() if pid is not None}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(alive(pid) for pid in running.values()):
            time.sleep(0.1)
        for node_id in running:
            self.nodes[node_id].stop(timeout=0)  # SIGKILL if still there; clears its pid file
        for node in self.nodes.values():
            node.pid_file.unlink(missing_ok=True)
        return bool(running)
