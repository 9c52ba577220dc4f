"""The pieces of ``driftline stack`` that run without starting it: its Prometheus
configuration (checked by promtool, rules included) and its process groups."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from driftline.deployment import SCRAPED
from driftline.stack.control import Stack
from driftline.stack.processes import ProcessTable, group_members
from driftline.stack.settings import StackSettings
from tests.metrics_catalog import alert_rules


def _stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("DRIFTLINE_METRICS_PORT", "29999")
    return Stack(StackSettings(home=tmp_path, stack_prometheus_port=29998,
                               stack_evaluation_interval="1s", stack_scrape_interval="2s"))


def test_the_stacks_prometheus_scrapes_every_service_with_the_rules(tmp_path, monkeypatch):
    stack = _stack(tmp_path, monkeypatch)
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(stack.prometheus_config())
    config = yaml.safe_load(config_file.read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"][0]
               for job in config["scrape_configs"]}
    assert targets == {
        **{s.job: f"127.0.0.1:{s.port}" for s in SCRAPED}, "monitor": "127.0.0.1:29999",
        "prometheus": "127.0.0.1:29998",
    }
    assert config["global"]["evaluation_interval"] == "1s"
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (make test does it)"
    done = subprocess.run([promtool, "check", "config", str(config_file)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f" {len(alert_rules())} rules found" in done.stdout + done.stderr


def test_the_services_get_the_stacks_connections_over_the_callers(tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFTLINE_WINDOW_SIZE", "120")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    stack = _stack(tmp_path, monkeypatch)
    env = stack.service_env()
    assert env["DRIFTLINE_WINDOW_SIZE"] == "120"  # the caller's setting over the table's
    assert env["DRIFTLINE_GRACE"] == "10"  # the table's default
    assert env["MLFLOW_TRACKING_URI"] == stack.mlflow_url
    assert env["DRIFTLINE_METRICS_PORT"] == "29999"
    assert env["DRIFTLINE_METRICS_HOST"] == "127.0.0.1"
    assert env["DRIFTLINE_HOME"] == str(tmp_path.resolve() / "stack" / "home")


def test_stopping_a_part_ends_its_whole_process_group(tmp_path):
    table = ProcessTable(tmp_path)
    # a leader that starts a child which ignores SIGTERM: only SIGKILL ends it
    script = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
              "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
              "time.sleep(600)']); time.sleep(600)")
    launched = table.start("sleeper", [sys.executable, "-c", script], {}, cwd=tmp_path)
    while len(group_members(launched.pid)) < 2:
        time.sleep(0.05)
    assert table.pid("sleeper") == launched.pid
    assert table.stop("sleeper", timeout=1.0)
    assert group_members(launched.pid) == []
    assert table.pid("sleeper") is None
    assert not table.stop("sleeper")
