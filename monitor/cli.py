"""``driftline monitor``, ``driftline report`` and ``driftline policy``; heavy imports stay
inside the commands."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]

_MODEL = typer.Option(
    None, "--model", help="A model to show (repeatable; default: every model the file "
    "names, and the defaults as model '*').")

_POLICY = typer.Option(
    [], "--policy", help="A policy file to judge with (repeatable, side by side; default: "
    "the live policy, DRIFTLINE_POLICY_FILE or the settings).")
_OUT = typer.Option(None, help="Results folder (default: <home>/backtests/<time>).")
_MANIFEST = typer.Option(
    None, "--manifest", help="A manifest of `driftline replay --topics`: the backtest reads "
    "its prefix over its range (--prefix, --from and --to override it).")
_BACKTEST = typer.Option(None, "--backtest", help="A backtest's results folder: report one "
                         "of its runs instead of a live range.")
_REPORT_OUT = typer.Option(Path("drift-report.html"), "--out", help="The HTML file to write.")


def _when(value: str) -> float:
    from driftline.instants import parse_instant

    try:
        return parse_instant(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add the monitor's commands to the ``driftline`` CLI."""

    @app.command("report")
    def report(
        since: str = typer.Option("-24h", "--from", help="Start of the range: ISO 8601 (UTC "
                                  "unless it says), epoch seconds, or back from now (-6h)."),
        until: str = typer.Option("now", "--to", help="End of the range (same forms)."),
        model: str = typer.Option(None, "--model", help="One model (default: every model "
                                  "in the range)."),
        out: Path = _REPORT_OUT,
        backtest: Path = _BACKTEST,
        run: str = typer.Option(None, "--run", help="With --backtest: which run (a policy "
                                "file's name; default: the first)."),
    ) -> None:
        """Write the drift report of a time range: one self-contained HTML page built from
        the monitor's judged windows and drift events, and the registry's versions; or of
        one run of a backtest (--backtest)."""
        from driftline.errors import DriftlineError
        from driftline.logs import configure_logging
        from driftline.model.registry import configure
        from driftline.report import build_report
        from driftline.report.live import collect
        from monitor.settings import MonitorSettings

        settings = MonitorSettings()
        configure_logging(settings.log_level, settings.log_format, service="monitor")
        configure(settings.home)
        if backtest is not None:
            from monitor.backtest.report import backtest_input

            if not (backtest / "backtest.json").is_file():
                raise typer.BadParameter(f"{backtest} holds no backtest.json",
                                         param_hint="--backtest")
            try:
                data = backtest_input(backtest, run)
            except ValueError as exc:
                raise typer.BadParameter(str(exc), param_hint="--run") from None
        else:
            start, end = _when(since), _when(until)
            if end <= start:
                raise typer.BadParameter(f"--to ({until}) is not after --from ({since})")
            topic = settings.kafka.service_topic(settings.monitor_app_id, "reports")
            try:
                data = collect(settings.kafka, topic, start, end, model)
            except Exception as exc:  # the broker does not answer, a read times out
                raise DriftlineError(
                    f"cannot read {topic} at {settings.kafka.bootstrap}: {exc}") from None
        page = build_report(data)
        out.write_text(page, encoding="utf-8")
        typer.echo(f"{out}: {len(page.encode()) / 1e6:.2f} MB, {len(data.windows)} windows, "
                   f"{len(data.events)} drift events"
                   + (f", {len(data.unreadable)} records left out" if data.unreadable else ""))
    policy_app = typer.Typer(help="The monitoring policy (DRIFTLINE_POLICY_FILE).")
    app.add_typer(policy_app, name="policy")

    @policy_app.command("show")
    def policy_show(
        model: list[str] = _MODEL,
    ) -> None:
        """Print the effective policy, the defaults merged with the file, as JSON (with the
        drift kinds that trigger a retrain: the file's, else DRIFTLINE_RETRAIN_KINDS); an
        invalid file stops with the key at fault."""
        import os

        import msgspec

        from driftline.errors import ConfigurationError
        from driftline.policy_file import DEFAULT_RETRAIN_KINDS, parse_kinds
        from monitor.settings import MonitorSettings

        policy = MonitorSettings().monitoring_policy()
        # the retrainer's setting, read as the retrainer reads it
        env_kinds = next((v for k, v in os.environ.items()
                          if k.upper() == "DRIFTLINE_RETRAIN_KINDS"), None)
        try:
            default = DEFAULT_RETRAIN_KINDS if env_kinds is None else parse_kinds(env_kinds)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        names = model or ["*", *policy.file.models]
        shown = [policy.describe(name, retrain_default=default) for name in names]
        typer.echo(msgspec.json.format(msgspec.json.encode(shown), indent=2))

    @app.command("backtest")
    def backtest(
        start: str = typer.Option(None, "--from", help="Start of the range, by event time "
                                  "(ISO time, UTC without a zone, or epoch seconds); "
                                  "required without --manifest."),
        end: str = typer.Option(None, "--to", help="End of the range, by event time; "
                                "required without --manifest."),
        manifest: Path = _MANIFEST,
        model: str = typer.Option(None, help="Only this model's predictions (default: all)."),
        version: str = typer.Option(
            None, help="Only this version of --model: a version number or an alias "
            "(champion, challenger), resolved in the registry now."),
        policy: list[Path] = _POLICY,
        prefix: str = typer.Option(
            None, help="Topic prefix to read (a replay's --to-prefix; default: the live "
            "topics, DRIFTLINE_KAFKA_TOPIC_PREFIX)."),
        onset: str = typer.Option(
            None, help="A known drift onset (time): alarms before it count as false, and "
            "each run's delay is set beside its periodic baseline's."),
        out: Path = _OUT,
        retrain: bool = typer.Option(
            False, help="Also run the retrainer on each policy's drift events, in a sandbox "
            "registry: when it would have retrained and promoted, and how the new versions "
            "scored on the labels that followed (needs --model and --version)."),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    ) -> None:
        """Run the monitor over a range of history to its end, once per policy, and compare:
        judged windows and drift events per policy, beside a periodic alarm with the same
        alarm count and the live run's own events. Nothing is written to Kafka or the
        registry."""
        from monitor.backtest.cli_run import run_command

        run_command(start=start, end=end, model=model, version=version, policies=policy,
                    prefix=prefix, onset=onset, out=out, retrain=retrain, as_json=as_json,
                    manifest=manifest)

    @app.command("monitor")
    def monitor(
        window: float = typer.Option(None, help="Window size in seconds [DRIFTLINE_WINDOW_SIZE]."),
        metrics_port: int = typer.Option(None, help="/metrics port [DRIFTLINE_METRICS_PORT]."),
    ) -> None:
        """Join predictions with late labels, judge drift and accuracy per window, and raise
        drift events (a faust-streaming worker; run more to scale out)."""
        from monitor.settings import MonitorSettings
        from monitor.worker.app import run

        overrides = {"window_size": window, "metrics_port": metrics_port}
        settings = MonitorSettings(**{k: v for k, v in overrides.items() if v is not None})
        run(settings)
