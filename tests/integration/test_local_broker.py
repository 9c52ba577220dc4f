"""The embedded broker's life cycle: start, answer, stop with no process left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from driftline.errors import LocalKafkaError
from driftline.kafka.admin import wait_for_broker
from driftline.localkafka import LocalKafka
from driftline.settings import DriftlineSettings, KafkaSettings

PORT = int(os.environ.get("DRIFTLINE_TEST_LIFECYCLE_PORT", "29192"))


def _java_processes_for(properties: Path) -> list[int]:
    """Pids of live (non-zombie) processes whose command line names ``properties``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(properties).encode() in cmdline and state != "Z":
            pids.append(int(proc.name))
    return pids


@pytest.mark.skipif(
    bool(os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS_EXTERNAL")),
    reason="an external cluster was given; the local broker is not used",
)
def test_local_broker_starts_answers_and_stops_without_orphans(tmp_path: Path):
    env = {
        **os.environ,
        "DRIFTLINE_HOME": str(tmp_path),
        "DRIFTLINE_KAFKA_LOCAL_PORT": str(PORT),
        "DRIFTLINE_KAFKA_LOCAL_CONTROLLER_PORT": str(PORT + 1),
    }
    env.pop("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS", None)
    cli = [sys.executable, "-m", "driftline.cli", "kafka"]
    local = LocalKafka(DriftlineSettings(home=tmp_path))
    try:
        started = subprocess.run([*cli, "start"], env=env, capture_output=True, text=True,
                                 timeout=180)
        assert started.returncode == 0, started.stderr
        assert f"answering on 127.0.0.1:{PORT}" in started.stdout

        # An independent client sees it, and starting again is a no-op.
        wait_for_broker(KafkaSettings(bootstrap_servers=f"127.0.0.1:{PORT}"), timeout=10)
        again = subprocess.run([*cli, "start"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert again.returncode == 0 and "running" in again.stdout
        assert len(_java_processes_for(local.properties)) == 1
        status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True)
        assert status.returncode == 0 and "answering" in status.stdout
    finally:
        stopped = subprocess.run([*cli, "stop"], env=env, capture_output=True, text=True,
                                 timeout=60)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _java_processes_for(local.properties) == []
    status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True)
    assert status.returncode == 1 and "stopped" in status.stdout
    assert (tmp_path / "kafka" / "data" / "meta.properties").is_file()  # formatted once, kept


@pytest.mark.skipif(
    bool(os.environ.get("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS_EXTERNAL")),
    reason="an external cluster was given; the local broker is not used",
)
def test_a_listener_port_bound_elsewhere_fails_the_start_naming_why(tmp_path: Path):
    """A socket bound to the port without listening (as an outgoing connection's is) passes
    the answering probe; the broker then cannot bind it, and the error says so."""
    port = PORT + 10
    local = LocalKafka(DriftlineSettings(home=tmp_path, kafka=KafkaSettings(
        bootstrap_servers=None, local_port=port, local_controller_port=port + 1)))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        with pytest.raises(LocalKafkaError, match="a listener port was taken"):
            local.start(timeout=120)
    assert _java_processes_for(local.properties) == []
    assert not local.pid_file.exists()
