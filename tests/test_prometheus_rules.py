"""driftline's Prometheus alert rules are valid (``promtool check rules``) and each fires on
the series that should raise it and not on quiet ones (``promtool test rules``), and the
Prometheus configuration loads them. promtool comes with Debian's ``prometheus`` package,
which ``make test`` installs (scripts/system-packages)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.metrics_catalog import ALERT_RULES as RULES
from tests.metrics_catalog import alert_rules, declared_metrics, series_names

ROOT = Path(__file__).resolve().parents[1]
RULE_TESTS = ROOT / "tests" / "prometheus" / "alerts.test.yml"


def _promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (make test does it)"
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_alert_rules_are_valid():
    done = _promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_each_alert_fires_on_its_series_and_not_on_quiet_ones():
    done = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_test():
    alerts = {r["alert"] for r in alert_rules()}
    tested = {t["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    assert alerts == tested


def test_prometheus_loads_the_rules_and_the_config_is_valid():
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts


def test_the_rules_and_their_tests_name_only_metrics_the_services_export():
    exported = {series: set(labels) for metric in declared_metrics()
                for series, labels in series_names(metric).items()}
    rules = [r["expr"] for r in alert_rules()]
    series = [s["series"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
              for s in case["input_series"]]
    for text in [*rules, *series]:
        for name, matchers in re.findall(r"\b(driftline_[a-z0-9_]+)(?:\{([^}]*)\})?", text):
            assert name in exported, f"{name} is not exported by any service"
            labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers)) - {"job", "instance"}
            assert labels <= exported[name], f"{name} has no label {labels - exported[name]}"
