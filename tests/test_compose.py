"""docker-compose.yaml, the Dockerfile and the Prometheus and Grafana files they mount.

No Docker engine is needed. ``docker compose config`` (which reads and resolves the file
without an engine) runs where the docker client and its compose plugin exist and is skipped
elsewhere; every other test reads the files directly and checks them against driftline
itself: each service's command parses with the ``driftline`` CLI, its ``DRIFTLINE_*``
variables are settings of that service and load, its hosts are compose services on the right
ports, and the dashboard's PromQL names only metrics the services export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.metrics_catalog import declared_metrics, series_names

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yaml"
PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "driftline.json"

SERVICES = {
    "kafka", "topics-init", "postgres", "mlflow", "bootstrap", "scorer", "monitor",
    "retrainer", "producer", "prometheus", "grafana",
}
# Services that run the driftline CLI (the image's entrypoint), by their first argument.
DRIFTLINE_SERVICES = {
    "topics-init": "topics", "bootstrap": "bootstrap", "scorer": "serve",
    "monitor": "monitor", "retrainer": "retrain", "producer": "produce",
}
# Where Prometheus finds each service's /metrics: the settings that give its port and its bind
# address.
METRICS_PORT_SETTING = {
    "scorer": "DRIFTLINE_PORT", "monitor": "DRIFTLINE_METRICS_PORT",
    "retrainer": "DRIFTLINE_RETRAIN_METRICS_PORT",
}
METRICS_HOST_SETTING = {
    "scorer": "DRIFTLINE_HOST", "monitor": "DRIFTLINE_METRICS_HOST",
    "retrainer": "DRIFTLINE_RETRAIN_METRICS_HOST",
}


# --- reading the files ---------------------------------------------------------------------


def _load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, dict[str, Any]]:
    return _load_compose()["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as strings (a mapping in the file, as docker compose prints)."""
    env = service.get("environment") or {}
    assert isinstance(env, dict), "write environment as a mapping"
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    assert isinstance(command, list), "write command as a list (no shell word splitting)"
    return [str(c) for c in command]


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name=value`` or ``--name value`` in args."""
    for i, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and i + 1 < len(args):
            return args[i + 1]
    return None


def _kafka_internal_listener(services: dict[str, dict[str, Any]]) -> tuple[str, int]:
    """host:port the broker advertises on the PLAINTEXT listener (the compose network)."""
    advertised = _env(services["kafka"])["KAFKA_ADVERTISED_LISTENERS"]
    for listener in advertised.split(","):
        name, _, address = listener.partition("://")
        if name == "PLAINTEXT":
            host, _, port = address.rpartition(":")
            return host, int(port)
    raise AssertionError(f"no PLAINTEXT listener in {advertised}")


def _settings_class(command: str) -> type | None:
    from driftline.settings import DriftlineSettings

    if command == "bootstrap":
        from producers.settings import BootstrapSettings

        return BootstrapSettings
    if command == "serve":
        from scorer.settings import ScorerSettings

        return ScorerSettings
    if command == "monitor":
        from monitor.settings import MonitorSettings

        return MonitorSettings
    if command == "produce":
        from producers.settings import ProducerSettings

        return ProducerSettings
    if command == "retrain":
        try:
            from retrainer.settings import RetrainerSettings  # type: ignore[import-not-found]
        except ImportError:
            return None
        return RetrainerSettings
    return DriftlineSettings


def _env_names(settings_class: type) -> set[str]:
    """Every DRIFTLINE_* variable a settings class reads (Kafka's included)."""
    from driftline.settings import KafkaSettings

    names = {f"DRIFTLINE_{f.upper()}" for f in settings_class.model_fields if f != "kafka"}
    return names | {f"DRIFTLINE_KAFKA_{f.upper()}" for f in KafkaSettings.model_fields}


def _port_of(service_name: str, services: dict[str, dict[str, Any]]) -> int:
    """The port a driftline service listens on for /metrics, from its env or its default."""
    setting = METRICS_PORT_SETTING[service_name]
    value = _env(services[service_name]).get(setting)
    if value is not None:
        return int(value)
    settings_class = _settings_class(DRIFTLINE_SERVICES[service_name])
    assert settings_class is not None, f"{service_name}: settings not written yet"
    return settings_class.model_fields[setting.removeprefix("DRIFTLINE_").lower()].default


def _exported_metrics() -> dict[str, set[str]]:
    """Series names the services export (as Prometheus sees them) -> their label names, from
    the metrics each service registers."""
    return {series: set(labels) for metric in declared_metrics()
            for series, labels in series_names(metric).items()}


def _dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return exprs


# --- docker compose config (needs the docker client and its compose plugin, no engine) -----


def _docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on PATH: docker compose config not run")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            "the docker client has no compose plugin (`docker compose version` failed): "
            "docker compose config not run"
        )
    return subprocess.run(
        [docker, "compose", "--project-directory", str(ROOT), "-f", str(COMPOSE), *args],
        capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )


def test_docker_compose_config_is_valid() -> None:
    result = _docker_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_has_every_service_on_compose_hosts() -> None:
    result = _docker_compose("config", "--format", "json")
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    services = resolved["services"]
    assert set(services) == SERVICES
    _check_endpoints(services)
    for name in DRIFTLINE_SERVICES:
        assert services[name]["image"] == "driftline:local"
    assert services["scorer"]["depends_on"]["bootstrap"]["condition"] == (
        "service_completed_successfully"
    )


# --- the compose file, read directly --------------------------------------------------------


def test_compose_defines_every_service() -> None:
    services = _services()
    assert set(services) == SERVICES
    # The same Kafka release as the local broker of `driftline kafka start`.
    local = re.search(r"<kafka.version>([^<]+)<", (ROOT / "deploy/kafka/pom.xml").read_text())
    assert local is not None
    assert services["kafka"]["image"] == f"apache/kafka:{local.group(1)}"
    for name in DRIFTLINE_SERVICES:
        assert services[name]["image"] == "driftline:local", name
        assert services[name]["build"]["context"] == "."
    for name in ("kafka", "postgres", "mlflow", "scorer", "monitor", "retrainer"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def _check_endpoints(services: dict[str, dict[str, Any]]) -> None:
    """Every driftline service reaches Kafka, MLflow and the scorer by compose service name
    on the port that service listens on."""
    kafka = _kafka_internal_listener(services)
    assert kafka[0] in services
    mlflow_port = int(_option(_command(services["mlflow"]), "--port") or 0)
    assert _option(_command(services["mlflow"]), "--host") == "0.0.0.0"
    for name in DRIFTLINE_SERVICES:
        env = _env(services[name])
        assert env["DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS"] == f"{kafka[0]}:{kafka[1]}", name
        uri = urlsplit(env["MLFLOW_TRACKING_URI"])
        assert (uri.scheme, uri.hostname, uri.port) == ("http", "mlflow", mlflow_port), name
    scorer_env = _env(services["scorer"])
    assert scorer_env["DRIFTLINE_HOST"] == "0.0.0.0"
    scorer_url = urlsplit(_env(services["producer"])["DRIFTLINE_SCORER_URL"])
    assert (scorer_url.hostname, scorer_url.port) == ("scorer", int(scorer_env["DRIFTLINE_PORT"]))
    backend = urlsplit(_option(_command(services["mlflow"]), "--backend-store-uri") or "")
    assert backend.scheme.startswith("postgresql") and backend.hostname == "postgres"
    assert backend.path.lstrip("/") == _env(services["postgres"])["POSTGRES_DB"]


def test_services_reach_each_other_by_compose_name() -> None:
    _check_endpoints(_services())


@pytest.mark.parametrize("name", sorted(DRIFTLINE_SERVICES))
def test_driftline_command_parses(name: str) -> None:
    """The service's arguments are a real ``driftline`` subcommand with valid options."""
    import typer.main

    from driftline.cli import app

    args = _command(_services()[name])
    assert args[0] == DRIFTLINE_SERVICES[name]
    command: Any = typer.main.get_command(app)
    words = list(args)
    while hasattr(command, "get_command"):  # a group: descend by the next word
        word = words.pop(0)
        found = command.get_command(command.context_class(command), word)
        if found is None and word == "retrain":
            pytest.skip("`driftline retrain` is not registered yet (retrainer/cli.py)")
        assert found is not None, f"{name}: no `driftline {word}` command"
        command = found
    params = command.make_context(word, words).params  # raises on an unknown or bad option
    if name == "producer":
        from producers.delays import parse_delay
        from producers.durations import parse_duration
        from producers.scenarios import parse_scenario

        assert params["to"] == "http"
        parse_scenario(params["scenario"])
        parse_delay(params["label_delay"])
        parse_duration(params["duration"])


def test_mlflow_server_options_exist() -> None:
    """The MLflow server's flags are options of the ``mlflow server`` installed here (the
    image installs MLflow from the same requirements)."""
    from mlflow.cli import cli

    service = _services()["mlflow"]
    assert service["entrypoint"] == ["mlflow", "server"]
    args = _command(service)
    assert "--serve-artifacts" in args
    cli.commands["server"].make_context("server", list(args))  # parsing consumes the list
    volume_targets = {v.split(":")[1] for v in service["volumes"]}
    assert _option(args, "--artifacts-destination") in volume_targets


@pytest.mark.parametrize("name", sorted(DRIFTLINE_SERVICES))
def test_driftline_env_is_settings_that_load(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each DRIFTLINE_* variable is a setting of that service, and the settings object loads
    from the service's environment (values in range, windows consistent)."""
    env = _env(_services()[name])
    settings_class = _settings_class(DRIFTLINE_SERVICES[name])
    unknown = {
        k for k in env
        if k.startswith("DRIFTLINE_") and k not in _env_names(settings_class)
    }
    assert not unknown, f"{name}: {sorted(unknown)} are not settings of {settings_class.__name__}"
    for key in list(os.environ):
        if key.startswith("DRIFTLINE_") or key.startswith("MLFLOW_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = settings_class()
    assert settings.kafka.bootstrap == env["DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS"]


@pytest.mark.parametrize("name", sorted(METRICS_HOST_SETTING))
def test_metrics_listen_beyond_loopback(name: str) -> None:
    """Prometheus scrapes from its own container, so each /metrics binds 0.0.0.0."""
    setting = METRICS_HOST_SETTING[name]
    assert _env(_services()[name]).get(setting) == "0.0.0.0", f"{name}: set {setting}=0.0.0.0"
    settings_class = _settings_class(DRIFTLINE_SERVICES[name])
    assert setting in _env_names(settings_class), f"{name} does not read {setting}"


def test_bind_mounts_exist() -> None:
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


# --- Prometheus and Grafana -----------------------------------------------------------------


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    services = _services()
    config = yaml.safe_load(PROMETHEUS.read_text())
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, _, port = target.rpartition(":")
                if host == "localhost":  # Prometheus itself
                    continue
                assert host in services, f"{job['job_name']}: {host} is not a compose service"
                assert job.get("metrics_path", "/metrics") == "/metrics"
                scraped[host] = int(port)
    assert set(scraped) == set(METRICS_PORT_SETTING)
    for name, port in scraped.items():
        assert port == _port_of(name, services), f"{name} listens on another port"
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert f"//127.0.0.1:{port}/" in probe, f"{name}'s healthcheck asks another port"
    prometheus = services["prometheus"]
    assert any(v.endswith(":/etc/prometheus/prometheus.yml:ro") for v in prometheus["volumes"])


def test_grafana_provisioning_matches_compose() -> None:
    services = _services()
    grafana = services["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    url = urlsplit(source["url"])
    assert url.hostname in services and url.port == 9090
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/driftline.yml").read_text())
    (provider,) = providers["providers"]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    home = _env(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"
    dashboard = json.loads(DASHBOARD.read_text())
    uids = {p["datasource"]["uid"] for p in dashboard["panels"]}
    assert uids == {source["uid"]}


def test_dashboard_queries_name_exported_metrics() -> None:
    """Every driftline_* series and label the dashboard queries is one a service exports."""
    dashboard = json.loads(DASHBOARD.read_text())
    exported = _exported_metrics()
    exprs = _dashboard_exprs(dashboard)
    used = {m for e in exprs for m in re.findall(r"\bdriftline_[a-z0-9_]+", e)}
    assert used, "no driftline metric in the dashboard"
    assert not used - set(exported), f"not exported by any service: {sorted(used - set(exported))}"
    for expr in exprs:
        for metric, matchers in re.findall(r"\b(driftline_[a-z0-9_]+)\{([^}]*)\}", expr):
            if metric not in used:
                continue
            labels = set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))
            assert labels <= exported[metric], f"{metric} has no label {labels - exported[metric]}"


def test_dashboard_has_the_required_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = " ".join(_dashboard_exprs(dashboard))
    for needed in (
        "driftline_monitor_drift_statistic",
        'driftline_monitor_performance{model=~"$model", metric="roc_auc"}',
        "driftline_scorer_model_info",
        "driftline_monitor_label_coverage_ratio",
        "driftline_monitor_label_delay_seconds_bucket",
        "rate(driftline_scorer_request_duration_seconds_count",
        "histogram_quantile(0.95",
        "driftline_monitor_drift_events_total",
    ):
        assert needed in exprs, needed
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "driftline"


# --- the image ------------------------------------------------------------------------------


def test_image_holds_every_package_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", dockerfile, re.M), package
        assert f"!{package}/" in ignore, package
    # the dependencies at the lock's versions
    assert re.search(r"^COPY pyproject\.toml requirements\.lock \./$", dockerfile, re.M)
    assert "pip install -c requirements.lock ." in dockerfile and "!requirements.lock" in ignore
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["driftline"\]', dockerfile, re.M)


@pytest.mark.parametrize(("service", "variable", "secret"), [
    ("scorer", "DRIFTLINE_API_KEY", "DRIFTLINE_API_KEY"),
    ("producer", "DRIFTLINE_API_KEY", "DRIFTLINE_API_KEY"),
    ("postgres", "POSTGRES_PASSWORD", "POSTGRES_PASSWORD"),
    ("grafana", "GF_SECURITY_ADMIN_PASSWORD", "GRAFANA_ADMIN_PASSWORD"),
])
def test_secrets_come_from_env_and_are_required(service: str, variable: str, secret: str):
    """No default password or open API: compose refuses to start without each secret
    (``${NAME:?...}``), which ``make compose-env`` writes to .env."""
    value = str(_services()[service]["environment"][variable])
    assert value.startswith("${" + secret + ":?"), f"{service}: {variable}={value}"


@pytest.mark.parametrize("service", ["scorer", "monitor", "retrainer"])
def test_services_get_longer_to_stop_than_the_scorers_flush(service: str):
    grace = str(_services()[service].get("stop_grace_period", "10s"))
    assert grace.endswith("s") and int(grace[:-1]) > 30, f"{service}: {grace}"


def test_compose_env_writes_each_missing_secret_once_and_keeps_the_others(tmp_path):
    import subprocess

    env_file = tmp_path / ".env"
    env_file.write_text("POSTGRES_PASSWORD=mine\n")
    script = ROOT / "scripts" / "compose-env"
    subprocess.run([str(script), str(env_file)], check=True, capture_output=True)
    first = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert first["POSTGRES_PASSWORD"] == "mine"
    assert len(first["DRIFTLINE_API_KEY"]) >= 24 and len(first["GRAFANA_ADMIN_PASSWORD"]) >= 24
    subprocess.run([str(script), str(env_file)], check=True, capture_output=True)
    assert dict(line.split("=", 1) for line in env_file.read_text().splitlines()) == first
    assert env_file.stat().st_mode & 0o777 == 0o600
