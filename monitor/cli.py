"""``driftline monitor``; heavy imports stay inside the command."""

from __future__ import annotations

import typer

__all__ = ["register"]

_MODEL = typer.Option(
    None, "--model", help="A model to show (repeatable; default: every model the file "
    "names, and the defaults as model '*').")


def register(app: typer.Typer) -> None:
    """Add the monitor's commands to the ``driftline`` CLI."""
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
