"""``driftline stack`` run for real: the stack comes up on ports of its own, the demo's
drifting traffic goes through it, and then Prometheus scrapes every service, the drift alert
fires, every Grafana panel's query returns series from the live Prometheus, the retrained
champion is in the PostgreSQL-backed registry of the MLflow server, and ``driftline stack
down`` leaves no process behind.

One stack serves the whole module (bringing it up costs most of the time); each test waits,
by polling, for what it checks, so their order does not matter, except that the last one
takes the stack down.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from driftline.deployment import SCRAPED
from driftline.stack.processes import group_members
from producers.demo import DemoPlan, loop_settings, producer_args
from tests.conftest import REPO, TEST_PORT

pytestmark = [pytest.mark.integration, pytest.mark.stack, pytest.mark.timeout(900)]

# Ports of its own, apart from the session's broker (TEST_PORT, TEST_PORT + 1): the stack's
# broker on TEST_PORT + 5 and + 6, the other parts on the twelve ports below TEST_PORT.
KAFKA_PORT = TEST_PORT + 5
PORTS = dict(zip(["postgres", "mlflow", "prometheus", "scorer", "monitor", "retrainer"],
                 range(TEST_PORT - 12, TEST_PORT - 6), strict=True))
HOME = REPO / ".driftline" / f"test-stack-{TEST_PORT}"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
MODEL = "credit-risk"

# The demo's loop, shortened: three stable windows, then the shift; 48 s of traffic.
PLAN = DemoPlan(rate=300.0, time_scale=20.0, stable=360.0, drifted=600.0, window=120.0)

T = TypeVar("T")


def _poll(what: str, probe: Callable[[], T | None], timeout: float = 300.0) -> T:
    """Call ``probe`` until it returns something other than None; fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except httpx.HTTPError:
            found = None
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen within {timeout:.0f}s (logs in {HOME}/stack/logs)")
        time.sleep(1.0)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DRIFTLINE_") and k != "MLFLOW_TRACKING_URI"}
    env.update(loop_settings(PLAN))
    env.update({
        "DRIFTLINE_HOME": str(HOME),
        "DRIFTLINE_KAFKA_LOCAL_PORT": str(KAFKA_PORT),
        "DRIFTLINE_KAFKA_LOCAL_CONTROLLER_PORT": str(KAFKA_PORT + 1),
        "DRIFTLINE_STACK_POSTGRES_PORT": str(PORTS["postgres"]),
        "DRIFTLINE_STACK_MLFLOW_PORT": str(PORTS["mlflow"]),
        "DRIFTLINE_STACK_PROMETHEUS_PORT": str(PORTS["prometheus"]),
        "DRIFTLINE_PORT": str(PORTS["scorer"]),
        "DRIFTLINE_METRICS_PORT": str(PORTS["monitor"]),
        "DRIFTLINE_RETRAIN_METRICS_PORT": str(PORTS["retrainer"]),
        "DRIFTLINE_STACK_SCRAPE_INTERVAL": "1s",
        "DRIFTLINE_STACK_EVALUATION_INTERVAL": "1s",
        "DRIFTLINE_STACK_BOOTSTRAP_ROWS": str(PLAN.train_rows),
        "DRIFTLINE_MODEL_NAME": MODEL,
    })
    return env


def _driftline(env: dict[str, str], *args: str, timeout: float = 600.0
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "driftline.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _url(part: str) -> str:
    return f"http://127.0.0.1:{PORTS[part]}"


def _champion() -> str | None:
    answer = httpx.get(f"{_url('mlflow')}/api/2.0/mlflow/registered-models/alias",
                       params={"name": MODEL, "alias": "champion"}, timeout=5)
    return answer.json()["model_version"]["version"] if answer.status_code == 200 else None


@dataclass(frozen=True)
class Running:
    env: dict[str, str]
    began: float  # wall time the stack started coming up
    first_champion: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Running]:
    env = _environment()
    if _groups():
        _driftline(env, "stack", "down")  # what a killed run left running
    shutil.rmtree(HOME, ignore_errors=True)
    began = time.time()
    try:
        up = _driftline(env, "stack", "up", "--timeout", "300")
        print(up.stdout)  # when each part was up (shown with the report of a failure)
        assert up.returncode == 0, up.stdout + up.stderr
        first = _champion()
        assert first is not None, "bootstrap registered no champion"
        # the demo's drifting traffic, its simulated period ending about now
        start = time.time() - PLAN.duration
        done = _driftline(env, *producer_args(PLAN, start), timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        yield Running(env, began, first)
    finally:
        if _groups():  # the last test takes the stack down; a failure before it may not
            _driftline(env, "stack", "down")


def _new_champion(stack: Running) -> str:
    def probe() -> str | None:
        version = _champion()
        return version if version not in (None, stack.first_champion) else None

    return _poll("a retrained champion in the MLflow server", probe)


def test_prometheus_scrapes_every_service(stack: Running) -> None:
    wanted = {s.job for s in SCRAPED} | {"prometheus"}

    def probe() -> dict[str, str] | None:
        targets = httpx.get(f"{_url('prometheus')}/api/v1/targets", timeout=5).json()
        health = {t["labels"]["job"]: t["health"] for t in targets["data"]["activeTargets"]}
        return health if set(health) == wanted and set(health.values()) == {"up"} else None

    assert set(_poll("every target up", probe)) == wanted


def test_the_drift_alert_fires(stack: Running) -> None:
    def probe() -> dict[str, Any] | None:
        alerts = httpx.get(f"{_url('prometheus')}/api/v1/alerts", timeout=5).json()
        return next((a for a in alerts["data"]["alerts"]
                     if a["labels"]["alertname"] == "DriftlineDriftEvent"
                     and a["state"] == "firing"), None)

    alert = _poll("DriftlineDriftEvent firing", probe)
    assert alert["labels"]["model"] == MODEL


def test_the_retrained_champion_is_in_the_postgresql_registry_and_served(stack: Running
                                                                        ) -> None:
    import psycopg2

    version = _new_champion(stack)
    answer = httpx.get(f"{_url('mlflow')}/api/2.0/mlflow/model-versions/get",
                       params={"name": MODEL, "version": version}, timeout=5).json()
    assert "champion" in answer["model_version"]["aliases"]
    # the server's store is the stack's PostgreSQL: the alias is a row there
    with psycopg2.connect(host="127.0.0.1", port=PORTS["postgres"], user="mlflow",
                          dbname="mlflow") as conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM registered_model_aliases "
                    "WHERE name = %s AND alias = 'champion'", (MODEL,))
        assert cur.fetchall() == [(int(version),)]
    # and the scorer, a client of that server, serves it
    served = _poll(f"the scorer serving v{version}", lambda: version if httpx.get(
        f"{_url('scorer')}/model", timeout=5).json().get("version") == version else None,
        timeout=120)
    assert served == version


# --- the Grafana dashboards' queries, against the live Prometheus ---------------------------


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # panels inside a row


def _variables(dashboard: dict[str, Any], range_seconds: int) -> dict[str, str]:
    """Each template variable's value as Grafana would substitute it: the current choice,
    "All" as the variable's allValue (else .*); and Grafana's own interval variables."""
    values = {"__range": f"{range_seconds}s", "__range_s": str(range_seconds),
              "__rate_interval": "1m", "__interval": "15s", "__interval_ms": "15000"}
    for variable in dashboard.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value", "")
        if current in ("$__all", ["$__all"]):
            current = variable.get("allValue") or ".*"
        if isinstance(current, list):
            current = "|".join(current)
        values[variable["name"]] = str(current)
    return values


def _substitute(expr: str, values: dict[str, str]) -> str:
    """Replace $name, ${name} and [[name]] by their values (longest names first)."""
    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\[\[(\w+)\]\]|\$(\w+)", value, expr)


def _dashboard_queries(range_seconds: int) -> list[tuple[str, str]]:
    """(dashboard / panel / refId, PromQL) of every panel target of every dashboard."""
    queries = []
    for path in sorted(DASHBOARDS.glob("**/*.json")):
        dashboard = json.loads(path.read_text())
        values = _variables(dashboard, range_seconds)
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    name = f"{path.name} / {panel.get('title')!r} / {target.get('refId', '?')}"
                    queries.append((name, _substitute(target["expr"], values)))
    return queries


def _exercise_the_api(stack: Running) -> None:
    """What the drifting stream does not do: requests to /predict over HTTP, one invalid
    request, one message the monitor cannot read."""
    from driftline.kafka import Producer
    from driftline.settings import KafkaSettings

    done = _driftline(stack.env, "produce", "--to", "http", "--scorer-url", _url("scorer"),
                      "--count", "200", "--rate", "100", "--no-progress", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = httpx.post(f"{_url('scorer')}/predict", json={"features": {"nope": 1}}, timeout=10)
    assert bad.status_code == 422
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}")
    with Producer(kafka) as producer:
        producer.produce(kafka.topic("predictions"), b"not an event", b"stack-test")
        producer.flush()


@pytest.fixture(scope="module")
def panel_series(stack: Running) -> dict[str, int]:
    """Series each panel query returns over the run, once the loop has closed and the API
    has been exercised (polled until every query returns series, or
    for 30 s more)."""
    _new_champion(stack)  # the whole loop has run: drift, retrain, promotion
    _exercise_the_api(stack)
    deadline = time.monotonic() + 30
    while True:
        end = time.time()
        counts = {}
        for name, expr in _dashboard_queries(int(end - stack.began)):
            answer = httpx.get(f"{_url('prometheus')}/api/v1/query_range", timeout=10, params={
                "query": expr, "start": stack.began, "end": end, "step": "2s"}).json()
            assert answer["status"] == "success", f"{name}: {expr}: {answer}"
            counts[name] = len(answer["data"]["result"])
        if all(counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(2.0)


def _query_ids() -> list[Any]:
    return [pytest.param(name, id=name) for name, _expr in _dashboard_queries(60)]


def test_the_dashboards_have_panel_queries() -> None:
    assert len(_dashboard_queries(60)) >= 10


@pytest.mark.parametrize("panel", _query_ids())
def test_dashboard_panel_query_returns_series(panel: str, panel_series: dict[str, int]
                                              ) -> None:
    query = dict(_dashboard_queries(60))[panel]
    assert panel_series[panel] > 0, f"the panel query {panel} returns no series: {query}"


# --- down ----------------------------------------------------------------------------------


def _groups() -> dict[str, int]:
    """Process group of each part, from the stack's pid files."""
    groups = {}
    for pid_file in [*(HOME / "stack" / "run").glob("*.pid"), HOME / "stack" / "kafka" /
                     "broker.pid"]:
        if pid_file.is_file():
            groups[pid_file.stem] = int(pid_file.read_text().split()[0])
    return groups


def _processes_under(path: Path) -> list[str]:
    """Command lines of live processes that name ``path``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            if str(path) in cmdline:
                found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_stack_down_leaves_no_process(stack: Running) -> None:
    groups = _groups()
    assert {"postgres", "mlflow", "prometheus", "scorer", "monitor", "retrainer",
            "broker"} <= set(groups)
    down = _driftline(stack.env, "stack", "down", timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    left = {name: group_members(pgid) for name, pgid in groups.items()}
    assert not any(left.values()), left
    assert _processes_under(HOME) == []
    status = _driftline(stack.env, "stack", "status")
    assert status.returncode == 1
    assert all(" down " in line for line in status.stdout.splitlines()), status.stdout
