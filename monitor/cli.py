"""``driftline monitor``, ``driftline report`` and ``driftline policy``; heavy imports stay
inside the commands."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]

_MODEL = typer.Option(
    None, "--model", help="A model to show (repeatable; default: every model the file "
    "names, and the defaults as model '*').")

_OUT = typer.Option(Path("drift-report.html"), "--out", help="The HTML file to write.")


def _when(value: str) -> float:
    from driftline.report.times import parse_time

    try:
        return parse_time(value)
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
        out: Path = _OUT,
    ) -> None:
        """Write the drift report of a time range: one self-contained HTML page built from
        the monitor's judged windows and drift events, and the registry's versions."""
        import logging

        from driftline.errors import DriftlineError
        from driftline.model.registry import configure
        from driftline.report import build_report
        from driftline.report.live import collect
        from monitor.settings import MonitorSettings

        start, end = _when(since), _when(until)
        if end <= start:
            raise typer.BadParameter(f"--to ({until}) is not after --from ({since})")
        settings = MonitorSettings()
        logging.basicConfig(level=settings.log_level,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        configure(settings.home)
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
        """Print the effective policy, the defaults merged with the file, as JSON; an
        invalid file stops with the key at fault."""
        import msgspec

        from monitor.settings import MonitorSettings

        policy = MonitorSettings().monitoring_policy()
        names = model or ["*", *policy.file.models]
        shown = [policy.describe(name) for name in names]
        typer.echo(msgspec.json.format(msgspec.json.encode(shown), indent=2))

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
