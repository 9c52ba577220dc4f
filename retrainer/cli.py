"""``driftline retrain`` and ``driftline models list|promote|rollback``; heavy imports stay
inside the commands so ``driftline --help`` stays fast."""

from __future__ import annotations

import typer

__all__ = ["register"]


def _settings(**overrides: object):  # -> RetrainerSettings
    import logging

    from retrainer.settings import RetrainerSettings

    settings = RetrainerSettings(**{k: v for k, v in overrides.items() if v is not None})
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


def _registry(settings) -> None:
    from driftline.model.registry import configure, wait_for_registry

    configure(settings.home)
    wait_for_registry(settings.startup_timeout_s)


def _announce(settings, move) -> None:
    """Publish the alias move on model-updates; PublishError when Kafka did not take it (the
    alias has moved anyway: scorers follow at their next periodic alias check)."""
    from driftline.errors import BrokerUnavailableError, PublishError
    from driftline.kafka import Producer, create_topics, wait_for_broker
    from retrainer.promotion import announce

    fallback = (
        f"{move.model_name} v{move.version} is @champion in the registry, but model-updates "
        "was not acknowledged; scorers follow at their next alias check (DRIFTLINE_MODEL_POLL_S)"
    )
    try:
        wait_for_broker(settings.kafka, timeout=10)
    except BrokerUnavailableError as exc:
        raise PublishError(f"{fallback}: {exc}") from None
    create_topics(settings.kafka)
    with Producer(settings.kafka) as producer:
        if not announce(producer, settings.topic("model-updates"), move):
            raise PublishError(fallback)
    typer.echo(f"announced on {settings.topic('model-updates')}: {move.model_name} "
               f"v{move.version} @champion (reason: {move.reason})")


def register(app: typer.Typer) -> None:
    """Add the retrainer's commands to the ``driftline`` CLI."""
    models_app = typer.Typer(
        help="Versions of the served model in the MLflow registry: list, promote, roll back.",
        no_args_is_help=True,
    )
    app.add_typer(models_app, name="models")

    @app.command("retrain")
    def retrain(
        metrics_port: int = typer.Option(
            None, help="/metrics port, 0 for none [DRIFTLINE_RETRAIN_METRICS_PORT, 9103]."
        ),
        every: float = typer.Option(
            None, metavar="SECONDS", min=1,
            help="Retrain every SECONDS of wall-clock time on a fixed schedule instead of on "
            "drift events (drift-events is then not read) [DRIFTLINE_RETRAIN_EVERY, off].",
        ),
    ) -> None:
        """Answer drift: consume drift-events, retrain from `labeled`, gate the challenger
        against the champion, register it in MLflow and promote it when it wins. With
        --every, retrain on a fixed schedule instead, through the same data, gate and
        promotion."""
        from retrainer.service import Retrainer

        Retrainer(_settings(retrain_metrics_port=metrics_port, retrain_every=every)).run_forever()

    @models_app.command("list")
    def models_list(
        limit: int = typer.Option(6, min=1, help="Newest versions to show."),
    ) -> None:
        """Which version serves, since when, trained on what data, and why it was chosen
        (or why each challenger was rejected)."""
        from retrainer.catalog import collect, render

        settings = _settings()
        _registry(settings)
        typer.echo(render(settings.model_name, collect(settings.model_name, limit)))

    @models_app.command("promote")
    def models_promote(
        version: str = typer.Argument(..., help="The version to serve."),
        reason: str = typer.Option("manual promote", help="Recorded with the version and "
                                   "sent on model-updates."),
    ) -> None:
        """Make VERSION the champion (the former champion becomes @previous) and tell the
        scorers on model-updates."""
        import mlflow

        from retrainer.lineage import TAGS
        from retrainer.promotion import promote

        settings = _settings()
        _registry(settings)
        move = promote(settings.model_name, version, reason=reason)
        was = f"v{move.previous}" if move.previous else "none"
        typer.echo(f"{move.model_name}: @champion v{move.version} (was {was}); "
                   f"@previous {was}")
        tags = mlflow.MlflowClient().get_model_version(move.model_name, move.version).tags
        if (tags or {}).get(TAGS.decision) == "rejected":
            typer.echo(f"note: the gate had rejected v{move.version} "
                       f"({tags.get(TAGS.reason, '')}); promoted as asked")
        _announce(settings, move)

    @models_app.command("rollback")
    def models_rollback(
        reason: str = typer.Option("manual rollback", help="Recorded and sent on "
                                   "model-updates."),
    ) -> None:
        """Serve @previous again. @previous is then cleared (a second rollback refuses rather
        than serve the version just rolled back from); promote any version on purpose."""
        from retrainer.promotion import rollback

        settings = _settings()
        _registry(settings)
        move = rollback(settings.model_name, reason=reason)
        typer.echo(f"{move.model_name}: @champion v{move.version} (rolled back from "
                   f"v{move.previous}); @previous cleared")
        _announce(settings, move)
