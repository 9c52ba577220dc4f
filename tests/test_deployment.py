"""docker-compose.yaml, deploy/prometheus/prometheus.yml and ``driftline stack`` follow the
one table of ports, scrape targets and rules in :mod:`driftline.deployment`."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftline.deployment import (
    PORTS,
    RULE_FILES,
    SCRAPED,
    SERVICE_ENVIRONMENT,
    TRAFFIC_COMMAND,
    compose_prometheus_config,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "scorer": "scorer.settings:ScorerSettings",
    "monitor": "monitor.settings:MonitorSettings",
    "retrainer": "retrainer.settings:RetrainerSettings",
}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["services"]


def _published(service: dict[str, Any]) -> set[int]:
    """Host ports a compose service publishes (all on 127.0.0.1)."""
    ports = set()
    for mapping in service.get("ports", []):
        host, port, _inside = str(mapping).split(":")
        assert host == "127.0.0.1", mapping
        ports.add(int(port))
    return ports


def test_the_committed_prometheus_config_is_rendered_from_the_table():
    committed = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    assert committed == compose_prometheus_config(), (
        "deploy/prometheus/prometheus.yml is stale: run "
        "python -m driftline.deployment --write deploy/prometheus/prometheus.yml"
    )


@pytest.mark.parametrize("spec", SCRAPED, ids=lambda s: s.job)
def test_compose_runs_each_scraped_service_on_the_tables_port(spec):
    service = _compose()[spec.job]
    assert service["command"][: len(spec.command)] == list(spec.command)
    env = {k: str(v) for k, v in service["environment"].items()}
    assert int(env[spec.port_setting]) == spec.port
    assert env[spec.host_setting] == "0.0.0.0"
    assert f"//127.0.0.1:{spec.port}{spec.ready_path}" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("spec", SCRAPED, ids=lambda s: s.job)
def test_the_tables_port_is_the_services_default(spec):
    """The stack listens where the service would by default when no variable is set."""
    module, name = SETTINGS[spec.job].split(":")
    settings_class = getattr(importlib.import_module(module), name)
    field = spec.port_setting.removeprefix("DRIFTLINE_").lower()
    assert settings_class.model_fields[field].default == spec.port


def test_compose_publishes_the_tables_ports():
    services = _compose()
    for name in ("kafka", "mlflow", "prometheus", "grafana"):
        assert _published(services[name]) == {PORTS[name]}, name
    mlflow = services["mlflow"]["command"]
    assert f"--port={PORTS['mlflow']}" in mlflow
    assert any(f"@postgres:{PORTS['postgres']}/" in arg for arg in mlflow)


def test_compose_gives_the_services_the_tables_environment():
    services = _compose()
    for name, values in SERVICE_ENVIRONMENT.items():
        env = {k: str(v) for k, v in services[name]["environment"].items()}
        assert {k: env.get(k) for k in values} == values, name
    assert tuple(services["producer"]["command"]) == TRAFFIC_COMMAND


def test_compose_mounts_every_rule_file_the_config_loads():
    mounts = _compose()["prometheus"]["volumes"]
    config = yaml.safe_load(compose_prometheus_config())
    for name in RULE_FILES:
        assert f"./deploy/prometheus/{name}:/etc/prometheus/{name}:ro" in mounts
        assert f"/etc/prometheus/{name}" in config["rule_files"]
        assert (ROOT / "deploy" / "prometheus" / name).is_file()
