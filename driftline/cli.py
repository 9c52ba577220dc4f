"""The ``driftline`` command line.

Each service registers its own subcommands here; heavy imports happen inside the commands so
``driftline --help`` stays fast.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer

from driftline.errors import DriftlineError
from driftline.logs import configure_logging
from driftline.settings import DriftlineSettings

__all__ = ["app", "main"]

app = typer.Typer(
    name="driftline",
    help="Streaming model monitor: score, publish, join late labels, judge drift, retrain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(help="The local Apache Kafka broker (KRaft, from the official jars).")
topics_app = typer.Typer(help="driftline's Kafka topics.")
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")
schema_app = typer.Typer(help="JSON Schema of driftline's events (the contract for any client).")
app.add_typer(schema_app, name="schema")
stack_app = typer.Typer(
    help="The whole stack without Docker: Kafka, MLflow on PostgreSQL, Prometheus with the "
    "alert rules, the scorer, monitor and retrainer; data, pids and logs in <home>/stack."
)
app.add_typer(stack_app, name="stack")


def _settings() -> DriftlineSettings:
    settings = DriftlineSettings()
    configure_logging(settings.log_level, settings.log_format, service="driftline")
    return settings


@kafka_app.command("fetch")
def kafka_fetch() -> None:
    """Resolve the broker jars with Maven (cached) without starting anything."""
    from driftline.localkafka import LocalKafka

    local = LocalKafka(_settings())
    jars = local.fetch()
    typer.echo(f"Kafka {local.version}: {len(jars)} jars resolved from the Maven cache")


_BROKERS = typer.Option(
    None, "--brokers", min=1, max=3,
    help="1 (one broker) or 3 (a local KRaft cluster); default DRIFTLINE_KAFKA_LOCAL_BROKERS.",
)


def _local(settings: DriftlineSettings, brokers: int | None) -> Any:
    """The local broker or cluster that ``settings`` (and ``--brokers``) name."""
    from driftline.localcluster import LocalCluster
    from driftline.localkafka import LocalKafka

    count = settings.kafka.local_brokers if brokers is None else brokers
    if count not in (1, 3):
        raise typer.BadParameter("--brokers is 1 or 3")
    return LocalKafka(settings) if count == 1 else LocalCluster(settings)


@kafka_app.command("start")
def kafka_start(
    timeout: float = typer.Option(90.0, help="Seconds to wait for the broker to answer."),
    brokers: int | None = _BROKERS,
) -> None:
    """Start the local broker, or the three nodes of the local cluster, and wait until it
    answers a metadata request (the cluster: until it lists all three brokers)."""
    import time

    settings = _settings()
    if not settings.kafka.uses_local_broker:
        typer.echo(
            f"DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS={settings.kafka.bootstrap} is set: driftline "
            "uses that cluster and does not start a local broker."
        )
        return
    began = time.monotonic()
    status = _local(settings, brokers).start(timeout=timeout)
    typer.echo(f"{status.describe()} [ready in {time.monotonic() - began:.1f}s]")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the local broker and every node of the local cluster (SIGTERM, then SIGKILL
    after 30 s)."""
    settings = _settings()
    stopped = {what: _local(settings, count).stop() for what, count in
               (("local Kafka", 1), ("local Kafka cluster", 3))}
    for what, was in stopped.items():
        if was:
            typer.echo(f"{what} stopped")
    if not any(stopped.values()):
        typer.echo("local Kafka was not running")


@kafka_app.command("status")
def kafka_status(brokers: int | None = _BROKERS) -> None:
    """Show whether the local broker (or cluster) runs and answers. Exit code 1 when it does
    not."""
    status = _local(_settings(), brokers).status()
    typer.echo(status.describe())
    raise typer.Exit(0 if status.answering else 1)


_WAIT = typer.Option(15.0, "--wait", help="Seconds to wait for the cluster to answer.")


@topics_app.command("create")
def topics_create(wait: float = _WAIT) -> None:
    """Create every topic of the topic table that does not exist yet (idempotent)."""
    from driftline.kafka.admin import create_topics, wait_for_broker

    settings = _settings()
    wait_for_broker(settings.kafka, timeout=wait)
    for name, outcome in create_topics(settings.kafka).items():
        typer.echo(f"{outcome:8} {name}")


@topics_app.command("list")
def topics_list(wait: float = _WAIT) -> None:
    """Show driftline's topics with partition counts and end offsets."""
    from driftline.kafka.admin import describe_topics, wait_for_broker

    settings = _settings()
    wait_for_broker(settings.kafka, timeout=wait)
    infos = describe_topics(settings.kafka)
    if not infos:
        typer.echo("no driftline topics yet: run `driftline topics create`")
        return
    typer.echo(f"{'topic':24} {'partitions':>10} {'messages':>10}  end offsets")
    for info in infos:
        offsets = " ".join(f"{p}:{o}" for p, o in sorted(info.end_offsets.items()))
        typer.echo(f"{info.name:24} {info.partitions:>10} {info.messages:>10}  {offsets}")


@schema_app.command("export")
def schema_export(
    out: str = typer.Option("docs/schemas", "--out", help="Directory to write the files to."),
) -> None:
    """Write one JSON Schema and one example message per event into --out."""
    from pathlib import Path

    from driftline.schemas import export

    for path in export(Path(out)):
        typer.echo(str(path))


def _stack():  # -> driftline.stack.control.Stack
    from driftline.stack.control import Stack
    from driftline.stack.settings import StackSettings

    settings = StackSettings()
    configure_logging(settings.log_level, settings.log_format, service="driftline")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line a probe otherwise
    return Stack(settings)


@stack_app.command("up")
def stack_up(
    traffic: bool = typer.Option(
        False, "--traffic/--no-traffic", help="Also run a drifting producer against the scorer "
        "(docker-compose.yaml's `producer`)."
    ),
    timeout: float = typer.Option(180.0, help="Seconds to wait for the services to be ready."),
) -> None:
    """Start every part not yet running; return once each service answers ready."""
    import time

    began = time.monotonic()
    stack = _stack()
    stack.up(traffic=traffic, timeout=timeout,
             say=lambda text: typer.echo(f"[{time.monotonic() - began:4.0f}s] {text}"))
    typer.echo(f"stack up in {time.monotonic() - began:.0f}s; data, pids and logs in "
               f"{stack.root}; stop it with `driftline stack down`")


@stack_app.command("down")
def stack_down() -> None:
    """Stop every part (process groups, SIGKILL after a timeout); exit code 2 if any process
    is left."""
    _stack().down(say=typer.echo)


@stack_app.command("status")
def stack_status() -> None:
    """Each part up, starting or down, with its URL. Exit code 1 unless every part is up
    (the optional traffic aside)."""
    parts = _stack().status()
    for part in parts:
        typer.echo(part.line())
    needed = [p for p in parts if p.name != "traffic"]
    raise typer.Exit(0 if all(p.state in ("up", "external") for p in needed) else 1)


def _register_services() -> None:
    """Each service adds its commands from ``<service>/cli.py`` (a ``register(app)`` function
    that keeps heavy imports inside the commands)."""
    import importlib

    for module in ("scorer.cli", "producers.cli", "monitor.cli", "retrainer.cli"):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app)


_register_services()


def main() -> None:
    """Console-script entry point: DriftlineError becomes one clear line and exit code 2."""
    try:
        app()
    except DriftlineError as exc:
        typer.echo(f"driftline: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
