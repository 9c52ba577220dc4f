"""``driftline serve``; heavy imports stay inside the command."""

from __future__ import annotations

import typer

__all__ = ["register"]


def _settings(**overrides: object):  # -> ScorerSettings
    from driftline.logs import configure_logging
    from scorer.settings import ScorerSettings

    settings = ScorerSettings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_format, service="scorer")
    return settings


def register(app: typer.Typer) -> None:
    """Add the scorer's commands to the ``driftline`` CLI."""

    @app.command("serve")
    def serve(
        host: str = typer.Option(None, help="Bind address [DRIFTLINE_HOST, 127.0.0.1]."),
        port: int = typer.Option(None, help="Port [DRIFTLINE_PORT, 8000]."),
        stream: bool = typer.Option(
            None, "--stream/--no-stream", help="Also score `transactions` [DRIFTLINE_STREAM]."
        ),
        http: bool = typer.Option(
            True,
            "--http/--no-http",
            help="Serve HTTP; --no-http with --stream scores the topic only.",
        ),
    ) -> None:
        """Serve the champion over HTTP (and/or from `transactions`), publishing every
        prediction to `predictions` and following `model-updates` for hot swaps."""
        settings = _settings(host=host, port=port, stream=stream)
        _preflight(settings)
        if not http:
            _serve_stream_only(settings)
            return
        import uvicorn

        from scorer.app import create_app

        uvicorn.run(
            create_app(settings, tune_gc=True),
            host=settings.host,
            port=settings.port,
            loop="auto",  # uvloop when installed
            http="auto",  # httptools when installed
            access_log=settings.access_log,
            log_level=settings.log_level.lower(),
            # JSON: uvicorn's loggers hand their records to the root logger's JSON handler
            log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        )


def _preflight(settings) -> None:
    """Check Kafka, MLflow and the served alias before starting, so a missing piece is one
    clear line (DriftlineError) rather than a failed-startup traceback."""
    from driftline.kafka import wait_for_broker
    from driftline.model.registry import RegistryError, configure, get_alias, wait_for_registry

    wait_for_broker(settings.kafka, timeout=settings.startup_timeout_s)
    configure(settings.home)
    wait_for_registry(settings.startup_timeout_s)
    if get_alias(settings.model_name, settings.model_alias) is None:
        raise RegistryError(
            f"no version of {settings.model_name!r} has the alias @{settings.model_alias}: run "
            "`driftline bootstrap` first"
        )


def _serve_stream_only(settings) -> None:
    import signal
    import threading

    from scorer.service import Scorer

    if not settings.stream:
        raise typer.BadParameter("--no-http needs --stream (or DRIFTLINE_STREAM=true)")
    scorer = Scorer(settings, tune_gc=True)
    scorer.start_blocking()
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    typer.echo(
        f"scoring {settings.topic('transactions')} as group {settings.stream_group}; Ctrl-C stops"
    )
    stopping.wait()
    scorer.stop_blocking()
