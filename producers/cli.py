"""``driftline bootstrap``, ``driftline demo``, ``driftline produce`` and ``driftline replay``.

Heavy imports happen inside the commands, so ``driftline --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from driftline.logs import configure_logging

if TYPE_CHECKING:
    from producers.produce import ProduceOptions, ProduceSummary
    from producers.settings import ProducerSettings

__all__ = ["register"]

_SCENARIO_HELP = (
    "Segments NAME[+NAME][:LENGTH][:SHAPE][:OPTION=VALUE] joined by commas, e.g. "
    "'stable:10m,loan-amount-shift:gradual=5m'. Names: stable, loan-amount-shift, "
    "concept-flip, channel-mix, data-quality. Shapes: sudden, gradual=W, incremental=W, "
    "recurring=P[:duty=D]. See --list-scenarios."
)


def _settings() -> ProducerSettings:
    from producers.settings import ProducerSettings

    settings = ProducerSettings()
    _log_like(settings)
    return settings


def _log_like(settings) -> None:
    configure_logging(settings.log_level, settings.log_format, service="producers")


def _list_scenarios(value: bool) -> None:
    if not value:
        return
    from producers.scenarios import DRIFTS

    for drift in DRIFTS.values():
        options = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in drift.options.items())
        scope = " (loans source only)" if drift.loans_only else ""
        typer.echo(f"{drift.name:18} {drift.description}{scope}")
        if options:
            typer.echo(f"{'':18} options: {options}")
    raise typer.Exit()


def _bad(param: str, exc: Exception) -> typer.BadParameter:
    return typer.BadParameter(str(exc), param_hint=param)


def _parse_start(text: str | None) -> float | None:
    if text is None:
        return None
    from producers.bounds import parse_bound

    try:
        bound = parse_bound(text)
    except ValueError:
        bound = None
    if bound is None or bound.time_ms is None:
        raise typer.BadParameter(
            f"{text!r} is not an ISO time such as 2026-11-27T10:00:00Z", param_hint="--start"
        )
    return bound.time_ms / 1000.0


def produce(
    to: str = typer.Option("http", "--to", help="http: the scorer's /predict; kafka: the "
                           "transactions topic (the scorer's stream mode scores it)."),
    scenario: str = typer.Option("stable", "--scenario", "-s", help=_SCENARIO_HELP),
    rate: float = typer.Option(50.0, help="Requests per wall-clock second."),
    duration: str = typer.Option("1m", help="Simulated time to cover, e.g. 90s, 10m, 1h."),
    count: int | None = typer.Option(None, help="Send exactly this many requests instead."),
    time_scale: float = typer.Option(
        1.0, "--time-scale", help="Simulated seconds per wall second: 60 runs an hour in a minute."
    ),
    seed: int = typer.Option(0, help="The same seed gives the same applications and labels."),
    source: str = typer.Option(
        "loans", help="loans, agrawal[:function=0:to=4] or sea[:variant=0:to=3] (river's "
        "benchmark streams; concept-flip switches their concept; --to kafka only)."
    ),
    label_delay: str = typer.Option(
        "exponential:5m", "--label-delay",
        help="fixed:5m, exponential:30m, lognormal:1h[:sigma=1.0] or pareto:10m[:alpha=1.5], "
        "in simulated time.",
    ),
    label_loss: float = typer.Option(
        0.05, "--label-loss", help="Share of labels that never arrive (0..1)."
    ),
    drain: bool = typer.Option(
        False, "--drain/--no-drain", help="After the last request, wait until every label that "
        "will arrive has been emitted."
    ),
    start: str | None = typer.Option(
        None, help="Simulated start as an ISO time (default: now; with --time-scale above 1, "
        "so that the simulated period ends now); Kafka mode event times."
    ),
    run_id: str | None = typer.Option(
        None, "--run-id", help="Prefix of request ids (default: random)."
    ),
    concurrency: int | None = typer.Option(
        None, help="Requests in flight at most (default: DRIFTLINE_PRODUCE_CONCURRENCY for "
        "http, unbounded for kafka)."
    ),
    scorer_url: str | None = typer.Option(
        None, "--scorer-url", help="Default: DRIFTLINE_SCORER_URL."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    list_scenarios: bool = typer.Option(
        False, "--list-scenarios", is_eager=True, callback=_list_scenarios,
        help="Describe the scenarios and their options, then exit.",
    ),
) -> None:
    """Send loan applications with scheduled drift, and their labels after a delay."""
    import asyncio

    from producers.delays import parse_delay
    from producers.durations import parse_duration
    from producers.produce import ProduceOptions
    from producers.produce import produce as run
    from producers.scenarios import parse_scenario
    from producers.sources import parse_source

    if to not in ("http", "kafka"):
        raise typer.BadParameter(f"{to!r}: choose http or kafka", param_hint="--to")
    checks: list[tuple[str, Any]] = [
        ("--scenario", lambda: parse_scenario(scenario)),
        ("--label-delay", lambda: parse_delay(label_delay)),
        ("--source", lambda: parse_source(source)),
        ("--duration", lambda: parse_duration(duration)),
    ]
    for param, check in checks:
        try:
            check()
        except ValueError as exc:
            raise _bad(param, exc) from None
    options = ProduceOptions(
        to=to,  # type: ignore[arg-type]
        scenario=scenario,
        source=source,
        rate=rate,
        duration=parse_duration(duration),
        count=count,
        time_scale=time_scale,
        seed=seed,
        run_id=run_id,
        start_time=_parse_start(start),
        label_delay=label_delay,
        label_loss=label_loss,
        drain=drain,
        concurrency=concurrency,
        scorer_url=scorer_url,
    )
    try:
        options.traffic("check")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = _settings()
    summary = options.new_summary()
    typer.echo(_plan_line(options, settings), err=True)
    with _ProgressBar(summary.planned, progress) as bar:
        try:
            asyncio.run(run(settings, options, summary=summary, on_progress=bar.update))
        except KeyboardInterrupt:
            summary.interrupted = True
    for line in summary.lines():
        typer.echo(line)
    if summary.interrupted:
        raise typer.Exit(130)
    if summary.sent and summary.failed == summary.sent:
        target = "Kafka" if to == "kafka" else (scorer_url or settings.scorer_url)
        typer.echo(f"driftline: no request reached {target}; is it running?", err=True)
        raise typer.Exit(1)


def _plan_line(options: ProduceOptions, settings: ProducerSettings) -> str:
    from producers.durations import format_duration

    where = (
        settings.topic("transactions")
        if options.to == "kafka"
        else f"{options.scorer_url or settings.scorer_url}/predict"
    )
    span = options.planned / options.rate
    return (
        f"producing {options.planned} requests to {where} at {options.rate:g}/s over "
        f"{format_duration(span)} of wall time ({format_duration(span * options.time_scale)} "
        f"simulated), scenario {options.scenario!r}, seed {options.seed}"
    )


class _ProgressBar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._total = total
        self._enabled = enabled and sys.stderr.isatty()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _ProgressBar:
        if self._enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[detail]}"),
                console=Console(stderr=True),
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("sending", total=self._total, detail="")
        return self

    def update(self, summary: ProduceSummary) -> None:
        if self._progress is None:
            return
        detail = (
            f"ok {summary.accepted} rej {summary.rejected} fail {summary.failed} "
            f"labels {summary.labels_emitted}+{summary.labels_pending}"
        )
        self._progress.update(self._task, completed=summary.sent, detail=detail)

    def set_total(self, total: int) -> None:
        self._total = total
        if self._progress is not None:
            self._progress.update(self._task, total=total)

    def advance_to(self, done: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)


def replay(
    topic: str | None = typer.Option(None, "--topic", help="Source topic (driftline names get "
                                     "the configured prefix); with --to-topic."),
    to_topic: str | None = typer.Option(None, "--to-topic", help="Target topic; created with "
                                        "the source's partition count if missing."),
    topics: str | None = typer.Option(
        None, "--topics", help="Several driftline topics, e.g. predictions,labels, copied "
        "over one range to <--to-prefix><name>; labels with predictions keep their partners."),
    to_prefix: str | None = typer.Option(
        None, "--to-prefix", help="Prefix of the targets of --topics, e.g. bt1. (a backtest "
        "reads it with --prefix or --manifest)."),
    from_: str = typer.Option(
        "earliest", "--from", help="earliest, an ISO time (2026-11-27T10:00:00Z), epoch "
        "seconds with a decimal point (1795773600.0), an offset (1200) or offsets per "
        "partition (0:100,1:250)."
    ),
    to: str = typer.Option(
        "latest", "--to", help="End of the range, exclusive; same forms as --from."
    ),
    time_basis: str = typer.Option(
        "event", "--time", help="What the times mean: event (the payload's event_time) or "
        "kafka (the messages' timestamps)."),
    partner_window: float = typer.Option(
        86_400.0, "--partner-window", help="Seconds the labels' range ends after the "
        "predictions' with --topics (default: the monitor's default join TTL)."),
    into_live: bool = typer.Option(
        False, "--into-live", help="Allow a target that is a live topic (the configured "
        "prefix's)."),
    speed: str = typer.Option("max", help="max, or a factor of real time: 1x, 10x, 0.5x."),
    partitions: str | None = typer.Option(
        None, help="Only these source partitions, e.g. 0,2 (--topic only)."
    ),
    manifest: str | None = typer.Option(
        None, help="Where to write the manifest (default: <home>/replays/<time>-<topic>.json)."
    ),
    keep_timestamps: bool = typer.Option(
        True, "--keep-timestamps/--new-timestamps",
        help="Copy each message's timestamp, or let the target stamp it now.",
    ),
    create: bool = typer.Option(True, "--create/--no-create", help="Create a missing target."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Copy a range of a topic, or of several topics under a prefix, exactly (keys, headers,
    order, timing); write a manifest."""
    from producers.bounds import parse_bound, parse_speed
    from producers.replay import PrefixReplayRequest, ReplayRequest, replay_topics
    from producers.replay import replay as run

    for param, value, parse in (
        ("--from", from_, parse_bound), ("--to", to, parse_bound), ("--speed", speed, parse_speed)
    ):
        try:
            parse(value)  # type: ignore[operator]
        except ValueError as exc:
            raise _bad(param, exc) from None
    if time_basis not in ("event", "kafka"):
        raise typer.BadParameter(f"{time_basis!r}: choose event or kafka", param_hint="--time")
    if (topics is None) == (topic is None):
        raise typer.BadParameter("give --topic with --to-topic, or --topics with --to-prefix",
                                 param_hint="--topic/--topics")
    if topic is not None and to_topic is None:
        raise typer.BadParameter("--topic needs --to-topic", param_hint="--to-topic")
    if topics is not None and (to_prefix is None or partitions or to_topic):
        raise typer.BadParameter("--topics needs --to-prefix (and takes no --to-topic or "
                                 "--partitions)", param_hint="--topics")
    chosen: tuple[int, ...] | None = None
    if partitions:
        try:
            chosen = tuple(sorted({int(p) for p in partitions.split(",") if p.strip()}))
        except ValueError:
            raise typer.BadParameter(
                f"{partitions!r}: list partition numbers, e.g. 0,2", param_hint="--partitions"
            ) from None
    settings = _settings()
    with _ProgressBar(0, progress) as bar:
        if topics is not None:
            assert to_prefix is not None
            result: Any = replay_topics(settings.kafka, PrefixReplayRequest(
                topics=tuple(t.strip() for t in topics.split(",") if t.strip()),
                to_prefix=to_prefix, start=from_, end=to, speed=speed,
                time=time_basis,  # type: ignore[arg-type]
                partner_window=partner_window, keep_timestamps=keep_timestamps,
                create_target=create, into_live=into_live,
            ), on_plan=bar.set_total, on_progress=bar.advance_to,
                accepted=settings.time_range())
        else:
            assert topic is not None and to_topic is not None
            result = run(settings.kafka, ReplayRequest(
                topic=topic, to_topic=to_topic, start=from_, end=to, speed=speed,
                partitions=chosen, keep_timestamps=keep_timestamps, create_target=create,
                time=time_basis, into_live=into_live,  # type: ignore[arg-type]
            ), on_plan=bar.set_total, on_progress=bar.advance_to,
                accepted=settings.time_range())
    stamp = result.created_at.replace(":", "").replace("+0000", "Z")
    name = result.source_topic if topics is None else result.target_prefix.rstrip(".-_")
    path = Path(manifest) if manifest else settings.replays_dir / (
        f"{stamp}-{name}-{result.replay_id}.json")
    result.write(path)
    for one in ([result] if topics is None else result.topics):
        spans = ", ".join(
            f"{r.partition}:{r.first_offset}..{r.last_offset}" for r in one.ranges if r.count
        )
        typer.echo(
            f"replayed {one.count} messages from {one.source_topic} "
            f"[{spans or 'empty range'}] to {one.target_topic} ({one.partitioning}) in "
            f"{one.elapsed_s:.2f}s ({one.rate:,.0f} msg/s)"
        )
        for note in one.notes:
            typer.echo(f"note: {note}")
    typer.echo(f"manifest: {path}")


def bootstrap(
    seed: int = typer.Option(7, help="Seed of the synthetic training history."),
    rows: int = typer.Option(50_000, help="Applications to draw (80% train, 20% holdout)."),
    force: bool = typer.Option(False, help="Register a new version even if @champion exists."),
) -> None:
    """Train the default credit-risk model and register it in MLflow as @champion."""
    from producers.bootstrap import announce
    from producers.bootstrap import bootstrap as run
    from producers.settings import BootstrapSettings

    settings = BootstrapSettings()
    _log_like(settings)
    ref, message = run(
        settings.home,
        name=settings.model_name,
        alias=settings.model_alias,
        seed=seed,
        rows=rows,
        force=force,
    )
    typer.echo(message)
    if ref is not None:
        typer.echo(announce(settings, ref.version))


def demo(
    rate: float = typer.Option(200.0, help="Transactions per wall-clock second."),
    time_scale: float = typer.Option(10.0, help="Simulated seconds per wall second."),
) -> None:
    """Run the whole loop on this machine: broker, MLflow, scorer, monitor, retrainer and a
    drifting producer; print live progress and a summary; stop everything it started."""
    from driftline.settings import DriftlineSettings
    from producers.demo import DemoPlan, run_demo

    _log_like(DriftlineSettings())
    run_demo(DemoPlan(rate=rate, time_scale=time_scale))


def register(app: typer.Typer) -> None:
    """Add ``bootstrap``, ``demo``, ``produce`` and ``replay`` to the ``driftline`` command
    line."""
    app.command("bootstrap")(bootstrap)
    app.command("demo")(demo)
    app.command("produce")(produce)
    app.command("replay")(replay)
