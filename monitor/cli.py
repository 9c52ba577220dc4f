"""``driftline monitor``; heavy imports stay inside the command."""

from __future__ import annotations

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the monitor's command to the ``driftline`` CLI."""

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
