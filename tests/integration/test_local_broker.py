"""The embedded broker's life cycle: start, answer, stop with no process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftline.kafka.admin import wait_for_broker
from driftline.localkafka import LocalKafka
from driftline.settings import DriftlineSettings, KafkaSettings

PORT = int(os.environ.get("DRIFTLINE_TEST_LIFECYCLE_PORT", "39192"))


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
