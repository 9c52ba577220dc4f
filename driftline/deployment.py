"""The one table of driftline's deployed parts: which services Prometheus scrapes, on which
ports, with which alert rules, and the ports of the parts around them (Kafka, PostgreSQL,
MLflow, Prometheus, Grafana).

``docker-compose.yaml``, ``deploy/prometheus/prometheus.yml`` (rendered from this table by
``python -m driftline.deployment --write deploy/prometheus/prometheus.yml``) and
``driftline stack`` all follow it; a test fails when the compose file or the committed
Prometheus configuration disagrees with it.

>>> [s.job for s in SCRAPED]
['scorer', 'monitor', 'retrainer']
>>> print(prometheus_config({"scorer": "scorer:8000"}, ["/etc/alerts.yml"],
...                         scrape_interval="5s", evaluation_interval="15s",
...                         self_target="localhost:9090").splitlines()[-3])
  - job_name: prometheus
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "COMPOSE_EVALUATION_INTERVAL",
    "COMPOSE_SCRAPE_INTERVAL",
    "PORTS",
    "RULE_FILES",
    "SCRAPED",
    "SERVICE_ENVIRONMENT",
    "TRAFFIC_COMMAND",
    "ScrapedService",
    "compose_prometheus_config",
    "prometheus_config",
]


@dataclass(frozen=True)
class ScrapedService:
    """A driftline service Prometheus scrapes: its compose service name (also the Prometheus
    job), the ``driftline`` command that runs it, the port of its ``/metrics`` and the
    settings that set that port and the address it binds."""

    job: str
    command: tuple[str, ...]
    port: int
    port_setting: str
    host_setting: str
    metrics_path: str = "/metrics"
    ready_path: str = "/ready"


SCRAPED: tuple[ScrapedService, ...] = (
    ScrapedService("scorer", ("serve",), 8000, "DRIFTLINE_PORT", "DRIFTLINE_HOST"),
    ScrapedService("monitor", ("monitor",), 9102, "DRIFTLINE_METRICS_PORT",
                   "DRIFTLINE_METRICS_HOST"),
    ScrapedService("retrainer", ("retrain",), 9103, "DRIFTLINE_RETRAIN_METRICS_PORT",
                   "DRIFTLINE_RETRAIN_METRICS_HOST"),
)

# The ports of the other parts, as compose publishes them on 127.0.0.1 (and the defaults of
# `driftline stack`, whose Kafka port is DRIFTLINE_KAFKA_LOCAL_PORT).
PORTS: dict[str, int] = {
    "kafka": 9092,
    "postgres": 5432,
    "mlflow": 5000,
    "prometheus": 9090,
    "grafana": 3000,
}

# Alert rule files, in deploy/prometheus/; Prometheus loads every one.
RULE_FILES: tuple[str, ...] = ("alerts.yml",)

COMPOSE_SCRAPE_INTERVAL = "5s"
COMPOSE_EVALUATION_INTERVAL = "15s"

# Settings each service gets besides its connections: one-minute windows so that the dashboard
# moves within minutes of start (the defaults, 5-minute windows judged 10 minutes later, suit
# real traffic).
SERVICE_ENVIRONMENT: dict[str, dict[str, str]] = {
    "monitor": {
        "DRIFTLINE_WINDOW_SIZE": "60",
        "DRIFTLINE_GRACE": "10",
        "DRIFTLINE_LABEL_WAIT": "120",
    },
}

# The drifting producer (compose's `producer`, `driftline stack up --traffic`): 10 minutes as
# trained, then the loan amounts shift and the relation to default changes, ramping in over 2
# minutes; labels arrive ~20 s after each prediction.
TRAFFIC_COMMAND: tuple[str, ...] = (
    "produce",
    "--to=http",
    "--scenario=stable:10m,loan-amount-shift+concept-flip:gradual=2m",
    "--rate=50",
    "--duration=40m",
    "--label-delay=exponential:20s",
    "--drain",
    "--no-progress",
)


def prometheus_config(
    targets: Mapping[str, str],
    rule_files: Sequence[str],
    *,
    scrape_interval: str,
    evaluation_interval: str,
    self_target: str,
    header: str = "",
) -> str:
    """Prometheus's configuration (YAML) scraping each job's ``host:port`` in ``targets``
    (at the job's metrics path) and itself, with ``rule_files`` loaded."""
    paths = {s.job: s.metrics_path for s in SCRAPED}
    lines = [header.rstrip("\n")] if header else []
    lines += [
        "global:",
        f"  scrape_interval: {scrape_interval}",
        f"  scrape_timeout: {_timeout(scrape_interval)}",
        f"  evaluation_interval: {evaluation_interval}",
        "",
        "rule_files:",
        *(f"  - {path}" for path in rule_files),
        "",
        "scrape_configs:",
    ]
    for job, target in targets.items():
        lines += [
            f"  - job_name: {job}",
            f"    metrics_path: {paths.get(job, '/metrics')}",
            "    static_configs:",
            f'      - targets: ["{target}"]',
            "",
        ]
    lines += [
        "  - job_name: prometheus",
        "    static_configs:",
        f'      - targets: ["{self_target}"]',
    ]
    return "\n".join(lines) + "\n"


def _timeout(interval: str) -> str:
    """A scrape timeout just under the interval (Prometheus requires timeout <= interval).

    >>> _timeout("5s"), _timeout("1s"), _timeout("1m")
    ('4s', '1s', '50s')
    """
    seconds = int(interval[:-1]) * (60 if interval.endswith("m") else 1)
    return f"{max(1, seconds - max(1, seconds // 6))}s"


_COMPOSE_HEADER = """\
# Prometheus for docker-compose.yaml: scrapes every driftline service on the compose network
# by its compose service name, with driftline's alert rules (mounted at /etc/prometheus).
# Written by `python -m driftline.deployment --write deploy/prometheus/prometheus.yml` from
# the table in driftline/deployment.py, which docker-compose.yaml and `driftline stack`
# follow too; do not edit by hand (a test compares them).
"""


def compose_prometheus_config() -> str:
    """deploy/prometheus/prometheus.yml: the configuration docker-compose.yaml mounts."""
    return prometheus_config(
        {s.job: f"{s.job}:{s.port}" for s in SCRAPED},
        [f"/etc/prometheus/{name}" for name in RULE_FILES],
        scrape_interval=COMPOSE_SCRAPE_INTERVAL,
        evaluation_interval=COMPOSE_EVALUATION_INTERVAL,
        self_target=f"localhost:{PORTS['prometheus']}",
        header=_COMPOSE_HEADER,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render compose's Prometheus configuration.")
    parser.add_argument("--write", type=Path, help="Write it to this file (else print it).")
    args = parser.parse_args(argv)
    text = compose_prometheus_config()
    if args.write:
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
