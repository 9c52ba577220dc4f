"""``driftline stack up|down|status``: the parts docker-compose.yaml runs, without Docker.

``up`` starts, each in a process group of its own with its data, pid and log under
``<home>/stack``: the local Kafka broker (:mod:`driftline.localkafka`; none when
DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS names a cluster), PostgreSQL
(:mod:`driftline.stack.postgres`), MLflow's tracking server on it with a local artifact store
it serves, Prometheus scraping every service of :data:`driftline.deployment.SCRAPED` with the
alert rules of deploy/prometheus loaded, then driftline's topics and first model
(``driftline bootstrap``), the scorer (HTTP and the transactions topic), the monitor and the
retrainer, and optionally a drifting producer (the compose file's). It returns once every
service answers ready. Every ``DRIFTLINE_*`` variable of the caller reaches the services;
the stack sets their connections, ports and ``DRIFTLINE_HOME`` (``<home>/stack/home``).
``down`` stops them all in reverse order and waits until no process of any group is left.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from driftline.deployment import (
    RULE_FILES,
    SCRAPED,
    SERVICE_ENVIRONMENT,
    TRAFFIC_COMMAND,
    prometheus_config,
)
from driftline.stack.postgres import Postgres, StackError
from driftline.stack.processes import ProcessTable, group_members
from driftline.stack.settings import StackSettings

__all__ = ["PartStatus", "Stack"]

_RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
SERVICES = tuple(s.job for s in SCRAPED)

Say = Callable[[str], None]


@dataclass(frozen=True)
class PartStatus:
    """One part as ``status`` shows it: up (answering), starting (running, not answering yet)
    or down, where it answers, its pid."""

    name: str
    state: str
    url: str
    pid: int | None

    def line(self) -> str:
        pid = f"pid {self.pid}" if self.pid else ""
        return f"{self.name:11} {self.state:9} {self.url:52} {pid}".rstrip()


class Stack:
    """The stack of ``settings`` (its root is ``<home>/stack``)."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.root = settings.root.resolve()
        self.table = ProcessTable(self.root)
        self.postgres = Postgres(self.root, settings.stack_postgres_port,
                                 settings.stack_postgres_user, self.table)
        self.kafka_settings = settings.kafka
        self._local = None
        if settings.kafka.uses_local_broker:
            from driftline.localkafka import LocalKafka

            self._local = LocalKafka(settings.model_copy(update={"home": self.root}))
            self.kafka_settings = settings.kafka.model_copy(
                update={"bootstrap_servers": self._local.bootstrap})

    # -- where things are -------------------------------------------------------------------

    def port(self, service: str) -> int:
        """The port ``service`` listens on: its own setting in the environment, else the
        table's default."""
        spec = next(s for s in SCRAPED if s.job == service)
        return int(os.environ.get(spec.port_setting, spec.port))

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.stack_mlflow_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.stack_prometheus_port}"

    def service_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def service_env(self) -> dict[str, str]:
        """The services' environment: the caller's, the table's defaults under it, the
        stack's connections, ports and home over it."""
        env: dict[str, str] = {}
        for values in SERVICE_ENVIRONMENT.values():
            env.update(values)
        env.update(os.environ)
        env.update({
            "DRIFTLINE_HOME": str(self.root / "home"),
            "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": self.kafka_settings.bootstrap,
            "MLFLOW_TRACKING_URI": self.mlflow_url,
            "DRIFTLINE_SCORER_URL": self.service_url("scorer"),
            "PYTHONUNBUFFERED": "1",
        })
        for spec in SCRAPED:
            env[spec.port_setting] = str(self.port(spec.job))
            env[spec.host_setting] = "127.0.0.1"
        return env

    # -- up ---------------------------------------------------------------------------------

    def up(self, *, traffic: bool = False, say: Say = print, timeout: float = 180.0) -> None:
        """Start every part that does not run yet and return once the services answer ready;
        raise StackError naming the part that failed (what started keeps running: ``down``
        stops it)."""
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(3) as pool:
            kafka = pool.submit(self._start_kafka, say)
            mlflow = pool.submit(self._start_mlflow, say)
            prometheus = pool.submit(self._start_prometheus, say)
            for future in (kafka, mlflow, prometheus):
                future.result()
        env = self.service_env()
        self._run_once("topics", ["topics", "create", "--wait", "30"], env, say)
        # the monitor and the retrainer start while bootstrap trains; the scorer needs its model
        for service in ("monitor", "retrainer"):
            self._start_service(service, env)
        self._run_once("bootstrap", ["bootstrap", "--rows",
                                     str(self.settings.stack_bootstrap_rows)], env, say)
        self._start_service("scorer", env)
        for service in SERVICES:
            self._wait_http(service, self.service_url(service) + "/ready", timeout)
            say(f"{service} ready on {self.service_url(service)}")
        if traffic and self.table.pid("traffic") is None:
            self._driftline("traffic", list(TRAFFIC_COMMAND), env)
            say("traffic: a drifting producer sends to the scorer (logs/traffic.log)")

    def _start_service(self, service: str, env: dict[str, str]) -> None:
        """The scorer serves HTTP and the transactions topic (``serve --stream``)."""
        if self.table.pid(service) is None:
            args = ["serve", "--stream"] if service == "scorer" else list(
                next(s for s in SCRAPED if s.job == service).command)
            self._driftline(service, args, env)

    def _start_kafka(self, say: Say) -> None:
        if self._local is None:
            from driftline.kafka.admin import wait_for_broker

            wait_for_broker(self.kafka_settings, timeout=30)
            say(f"kafka      uses the cluster at {self.kafka_settings.bootstrap}")
            return
        self._local.start(timeout=120)
        say(f"kafka      up on {self._local.bootstrap}")

    def _start_mlflow(self, say: Say) -> None:
        self.postgres.start()
        say(f"postgres   up on {self.postgres.url}")
        if self.table.pid("mlflow") is None:
            _require_free(self.settings.stack_mlflow_port, "DRIFTLINE_STACK_MLFLOW_PORT")
            artifacts = self.root / "mlflow-artifacts"
            artifacts.mkdir(parents=True, exist_ok=True)
            mlflow = Path(sys.executable).parent / "mlflow"
            self.table.start("mlflow", [
                str(mlflow if mlflow.is_file() else "mlflow"), "server",
                "--host", "127.0.0.1", "--port", str(self.settings.stack_mlflow_port),
                "--workers", "1", "--backend-store-uri", self.postgres.url,
                "--serve-artifacts", "--artifacts-destination", str(artifacts),
                "--default-artifact-root", "mlflow-artifacts:/",
            ], {**_without_driftline(os.environ), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
                cwd=self.root)
        self._wait_http("mlflow", self.mlflow_url + "/health", 120)
        say(f"mlflow     up on {self.mlflow_url} (registry on PostgreSQL)")

    def prometheus_config(self) -> str:
        """The stack's Prometheus configuration: every service on 127.0.0.1 at its port,
        the alert rules of deploy/prometheus, the stack's intervals."""
        return prometheus_config(
            {s.job: f"127.0.0.1:{self.port(s.job)}" for s in SCRAPED},
            [str(_RULES_DIR / name) for name in RULE_FILES],
            scrape_interval=self.settings.stack_scrape_interval,
            evaluation_interval=self.settings.stack_evaluation_interval,
            self_target=f"127.0.0.1:{self.settings.stack_prometheus_port}",
            header="# written by `driftline stack up` from driftline/deployment.py\n",
        )

    def _start_prometheus(self, say: Say) -> None:
        if self.table.pid("prometheus") is None:
            binary = shutil.which("prometheus")
            if binary is None:
                raise StackError("Prometheus is not installed: install it once with "
                                 "`apt-get install -y prometheus`")
            _require_free(self.settings.stack_prometheus_port, "DRIFTLINE_STACK_PROMETHEUS_PORT")
            config = self.root / "prometheus.yml"
            self.root.mkdir(parents=True, exist_ok=True)
            config.write_text(self.prometheus_config())
            self.table.start("prometheus", [
                binary, f"--config.file={config}",
                f"--storage.tsdb.path={self.root / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{self.settings.stack_prometheus_port}",
            ], _without_driftline(os.environ), cwd=self.root)
        self._wait_http("prometheus", self.prometheus_url + "/-/ready", 60)
        say(f"prometheus up on {self.prometheus_url}")

    def _driftline(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.table.start(name, [sys.executable, "-m", "driftline.cli", *args], env,
                         cwd=self.root / "home")

    def _run_once(self, name: str, args: list[str], env: dict[str, str], say: Say) -> None:
        """A one-shot ``driftline`` command (topics, bootstrap): waits for it to end."""
        self._driftline(name, args, env)
        while (code := self.table.exited(name)) is None:
            time.sleep(0.2)
        self.table.stop(name)  # nothing is left; forgets its pid
        log = self.table.log(name).read_text(errors="replace")
        if code != 0:
            raise StackError(f"`driftline {' '.join(args)}` failed ({code}):\n{log[-2000:]}")
        say(f"{name:10} done")

    def _wait_http(self, name: str, url: str, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            code = self.table.exited(name)
            if code is not None or time.monotonic() > deadline:
                tail = self.table.log(name).read_text(errors="replace")[-3000:]
                why = f"exited with code {code}" if code is not None else (
                    f"did not answer {url} within {timeout:.0f}s")
                raise StackError(f"{name} {why}; the end of {self.table.log(name)}:\n{tail}")
            time.sleep(0.3)

    # -- down -------------------------------------------------------------------------------

    def down(self, say: Say = print) -> None:
        """Stop every part (services first, the broker last) and check no process of any
        part is left; raise StackError naming those that are."""
        groups = {name: self.table.pid(name) for name in self._names()}
        if self._local is not None:
            groups["kafka"] = self._local.status(probe_timeout=0.5).pid

        def stop(name: str) -> None:
            began = time.monotonic()
            if name == "postgres":
                was = self.postgres.stop()
            elif name == "kafka":
                was = self._local is not None and self._local.stop()
            elif name == "mlflow":  # stateless (its state is in PostgreSQL): no long wait
                was = self.table.stop(name, timeout=10)
            else:
                was = self.table.stop(name, timeout=45)
            took = f" in {time.monotonic() - began:.1f}s" if was else ""
            say(f"{name:10} {'stopped' if was else 'was not running'}{took}")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(stop, ["traffic", *SERVICES]))
        for name in ("prometheus", "mlflow", "postgres", "kafka"):
            stop(name)
        left = {name: group_members(pid) for name, pid in groups.items() if pid}
        left = {name: pids for name, pids in left.items() if pids}
        if left:
            raise StackError(f"processes left after stopping: {left}")

    def _names(self) -> list[str]:
        return ["traffic", *SERVICES, "prometheus", "mlflow", "postgres"]

    # -- status -----------------------------------------------------------------------------

    def status(self) -> list[PartStatus]:
        """Each part: up, starting or down, with its URL and pid."""
        import httpx

        def http(name: str, url: str, probe: str) -> PartStatus:
            pid = self.table.pid(name)
            state = "down"
            if pid is not None:
                state = "starting"
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + probe, timeout=2).status_code == 200:
                        state = "up"
            return PartStatus(name, state, url, pid)

        parts = []
        if self._local is not None:
            kafka = self._local.status(probe_timeout=1)
            state = "up" if kafka.answering else ("starting" if kafka.running else "down")
            parts.append(PartStatus("kafka", state, kafka.bootstrap, kafka.pid))
        else:
            parts.append(PartStatus("kafka", "external", self.kafka_settings.bootstrap, None))
        pid = self.table.pid("postgres")
        state = "down" if pid is None else ("up" if self.postgres.answers() else "starting")
        parts.append(PartStatus("postgres", state, self.postgres.url, pid))
        parts.append(http("mlflow", self.mlflow_url, "/health"))
        parts.append(http("prometheus", self.prometheus_url, "/-/ready"))
        parts += [http(s, self.service_url(s), "/ready") for s in SERVICES]
        pid = self.table.pid("traffic")
        parts.append(PartStatus("traffic", "up" if pid else "down", "logs/traffic.log", pid))
        return parts


def _without_driftline(environ: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    """The environment of a non-driftline part (MLflow, Prometheus): no DRIFTLINE_* and no
    MLFLOW_TRACKING_URI of the caller."""
    return {k: v for k, v in environ.items()
            if not k.startswith("DRIFTLINE_") and k != "MLFLOW_TRACKING_URI"}


def _require_free(port: int, setting: str) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            raise StackError(f"port {port} on 127.0.0.1 is in use: stop what listens there "
                             f"or set {setting}")
