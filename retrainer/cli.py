"""``driftline retrain`` and ``driftline models list|promote|rollback|register|evaluate``;
heavy imports stay inside the commands so ``driftline --help`` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]


def _settings(**overrides: object):  # -> RetrainerSettings
    from driftline.logs import configure_logging
    from retrainer.settings import RetrainerSettings

    settings = RetrainerSettings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_format, service="retrainer")
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
        help="Versions of the served model in the MLflow registry: register your own, list, "
        "promote, roll back, evaluate against the champion.",
        no_args_is_help=True,
    )
    app.add_typer(models_app, name="models")

    @app.command("retrain-sandbox", hidden=True)
    def retrain_sandbox(
        run: str = typer.Option(..., help="A backtest run's folder (its events.jsonl); the "
                                "sandbox registry and retrains.jsonl are written there."),
        labeled: str = typer.Option(..., help="The backtest's joined pairs (JSON lines)."),
        live_home: str = typer.Option(..., help="The live DRIFTLINE_HOME (its registry is "
                                      "read once, to copy the backtested version)."),
        model: str = typer.Option(..., help="Registered model name."),
        version: str = typer.Option(..., help="The version the history was scored by."),
        end: float = typer.Option(..., help="End of the backtest's range (epoch seconds)."),
    ) -> None:
        """The retrainer over a backtest's drift events in a sandbox registry (run by
        ``driftline backtest --retrain``; see retrainer/sandbox.py)."""
        import json
        from pathlib import Path

        import msgspec

        from driftline.events import DriftEvent, LabeledEvent
        from retrainer.sandbox import run_sandbox, seed_sandbox

        folder = Path(run)
        sandbox = folder / "sandbox"
        settings = _settings(home=sandbox, model_name=model)
        events = [msgspec.json.decode(line, type=DriftEvent)
                  for line in (folder / "events.jsonl").read_bytes().splitlines() if line]
        pairs = msgspec.json.Decoder(LabeledEvent)
        history = [pairs.decode(line) for line in Path(labeled).read_bytes().splitlines()
                   if line]
        seed_sandbox(Path(live_home), sandbox, model, version, settings.retrain_trusted_types)
        retrains = run_sandbox(settings, [e for e in events if e.model_name == model],
                               history, end=end)
        lines = [json.dumps(r.to_dict()) for r in retrains]
        (folder / "retrains.jsonl").write_text("".join(f"{line}\n" for line in lines))
        typer.echo(json.dumps([r.to_dict() for r in retrains]))

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

    @models_app.command("register")
    def models_register(
        source: str = typer.Argument(
            ..., help="An MLflow model URI (runs:/<run>/model, models:/<name>/<version>) "
            "logged with serialization_format='skops', or a .skops file."
        ),
        reference: str = typer.Option(
            ..., help="Reference data, CSV or Parquet: the model's input columns (and the "
            "label column with --label). The monitor judges drift against it."
        ),
        label: str = typer.Option(
            None, help="The 0/1 label column of the reference data: holdout AUC, precision, "
            "recall, Brier and log loss are recorded; without it, no performance baseline."
        ),
        name: str = typer.Option(None, help="Registered model name [DRIFTLINE_MODEL_NAME]."),
        alias: str = typer.Option(
            None, help="Point this alias at the new version (default: champion when the "
            "model has none yet, else no alias)."
        ),
        trust: Annotated[list[str] | None, typer.Option(
            metavar="TYPE", help="Accept one type the model file needs beyond driftline's "
            "built-in list (repeat for each; the command lists them)."
        )] = None,
        trust_listed: bool = typer.Option(
            False, help="Accept every type the model file lists (after reading them)."
        ),
        trust_recorded: bool = typer.Option(
            False, help="Accept exactly the types whoever logged the model to MLflow "
            "recorded as trusted (skops_trusted_types; the command shows them)."
        ),
        score_name: str = typer.Option("score", help="The score's field name in answers."),
        decision_name: str = typer.Option("decision", help="The tier's field name in answers."),
        tier: Annotated[list[str] | None, typer.Option(
            metavar="NAME=THRESHOLD", help="A decision tier: scores strictly above "
            "THRESHOLD get NAME, the highest reached wins (repeat; default: positive=0.5)."
        )] = None,
        otherwise: str = typer.Option(
            None, help="The tier of scores above no threshold (default: negative; LOW with "
            "--tier)."
        ),
        features: str = typer.Option(
            None, metavar="FILE", help="A feature file (TOML) declaring each input's valid "
            "range or known categories: the scorer refuses requests outside the ranges and "
            "the retrainer can fit its default pipeline (docs/scoring.md)."
        ),
    ) -> None:
        """Register a binary classifier driftline did not train: its signature and the
        reference profile from the reference data, holdout metrics when labelled, the types
        you trust in its skops file, the decision tiers the scorer answers with and, with a
        feature file, its inputs' valid ranges."""
        from driftline.model.adopt import register_adopted
        from driftline.model.decision import DecisionPolicy

        settings = _settings()
        decision = DecisionPolicy.parse(
            tier or (), score_name=score_name, decision_name=decision_name, otherwise=otherwise
        )
        adopted = register_adopted(
            settings.home, source, reference, name=name or settings.model_name, label=label,
            alias=alias, trust=trust or (), trust_listed=trust_listed,
            trust_recorded=trust_recorded, decision=decision, features=features,
        )
        ref = adopted.ref
        where = f" as @{adopted.alias}" if adopted.alias else " (no alias)"
        typer.echo(f"registered {ref.name} version {ref.version}{where}")
        if adopted.metrics:
            typer.echo("holdout " + ", ".join(
                f"{k.removeprefix('holdout_')} {v:.4f}" for k, v in adopted.metrics.items()
                if k.startswith("holdout_")))
        if adopted.recorded is not None:
            typer.echo("recorded as trusted when logged: "
                       + (", ".join(adopted.recorded) or "none"))
        typer.echo("trusted types: " + (", ".join(adopted.trusted_types) or "none needed"))
        tiers = ", ".join(f"{n} > {t}" for n, t in reversed(decision.tiers))
        typer.echo(f"answers {decision.score_name} and {decision.decision_name} ({tiers}, "
                   f"else {decision.otherwise})")
        if adopted.features is None:
            typer.echo("requests checked against the signature's types only (no --features); "
                       "retrain it with DRIFTLINE_RETRAIN_PIPELINE=champion")
        else:
            typer.echo(f"requests checked against the ranges of "
                       f"{len(adopted.features.numeric)} numeric inputs; "
                       f"{len(adopted.features.categorical)} categorical inputs declared")

    @models_app.command("draft-features")
    def models_draft_features(
        reference: str = typer.Option(
            ..., help="Reference data, CSV or Parquet: the model's input columns (and the "
            "label column with --label, left out of the draft)."
        ),
        label: str = typer.Option(None, help="The label column, not an input."),
        output: str = typer.Option(
            None, help="Write the draft to this file (refused if it exists) instead of "
            "printing it."
        ),
    ) -> None:
        """Draft a feature file for `models register --features` from reference data: each
        number's smallest and largest value, each text input's categories. Correct it
        before use: a valid range is what a request may carry, not what a sample held."""
        from pathlib import Path

        from driftline.model.adopt import (
            AdoptionError,
            draft_feature_file,
            read_reference,
            split_reference,
        )

        text = draft_feature_file(split_reference(read_reference(reference), label=label))
        if output is None:
            typer.echo(text, nl=False)
            return
        try:
            with Path(output).open("x", encoding="utf-8") as out:
                out.write(text)
        except FileExistsError:
            raise AdoptionError(f"{output} exists; choose another --output or remove "
                                "it") from None
        typer.echo(f"wrote {output}: correct each range and category list, then register "
                   f"with --features {output}")

    @models_app.command("evaluate")
    def models_evaluate(
        candidate: str = typer.Option(..., metavar="VERSION", help="The version to evaluate "
                                      "(or an alias)."),
        against: str = typer.Option("champion", metavar="ALIAS|VERSION",
                                    help="What the candidate is compared with."),
        start: str = typer.Option(..., "--from", metavar="TIME", help="Start of the event-time "
                                  "range (ISO 8601, UTC without a zone; or epoch seconds)."),
        end: str = typer.Option(..., "--to", metavar="TIME", help="End of the range "
                                "(excluded)."),
        model: str = typer.Option(None, metavar="NAME", help="Registered model name "
                                  "[DRIFTLINE_MODEL_NAME]."),
        window: float = typer.Option(None, min=1, metavar="SECONDS", help="Also compare per "
                                     "window of SECONDS of event time, from --from."),
        must_beat: bool = typer.Option(False, "--must-beat", help="Pass only a candidate that "
                                       "beats the other by the margin (the retrainer's "
                                       "promotion rule) instead of one not worse by more."),
        bins: int = typer.Option(10, min=2, help="Score bins of the reliability tables."),
        as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    ) -> None:
        """Score a candidate version and the champion (or ALIAS|VERSION) on the same labeled
        rows of an event-time range: AUC, Brier, log loss, accuracy, calibration (ECE and a
        reliability table), overall and per window. Exit code 0: the candidate is not worse
        than the other by more than DRIFTLINE_GATE_MARGIN on DRIFTLINE_GATE_METRIC (Brier
        within DRIFTLINE_GATE_BRIER_TOLERANCE); 1: it is; 2: bad input or usage (no rows in
        range, rows failing the training data checks, an unknown version)."""
        import json

        from confluent_kafka import KafkaException

        from driftline.errors import DriftlineError
        from driftline.kafka import wait_for_broker
        from retrainer.comparison import render, to_dict
        from retrainer.evaluate import (
            EXIT_BAD_INPUT,
            EXIT_PASS,
            EXIT_WORSE,
            EvaluationRequest,
            evaluate,
            parse_time,
        )

        try:
            settings = _settings(model_name=model)
            request = EvaluationRequest(
                candidate=candidate, against=against, start=parse_time(start),
                end=parse_time(end), window=window, bins=bins,
                rule="promotion" if must_beat else "no-regression",
            )
            _registry(settings)
            wait_for_broker(settings.kafka, timeout=settings.startup_timeout_s)
            result = evaluate(settings, request)
        except (DriftlineError, KafkaException, ValueError) as exc:
            if as_json:
                typer.echo(json.dumps({"passed": None, "error": str(exc)}))
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        if as_json:
            typer.echo(json.dumps(to_dict(result), indent=2, allow_nan=False))
        else:
            c = result.context
            typer.echo(f"{c['model']}: {c['candidate_label']} against {c['against_label']}, "
                       f"event time {c['span']}")
            typer.echo(f"{c['topic']}: {c['rows_read']:,} rows read, {c['duplicates']:,} "
                       f"duplicates, {c['unusable_rows']:,} unusable")
            typer.echo(render(result, c["candidate_label"], c["against_label"]))
        raise typer.Exit(EXIT_PASS if result.passed else EXIT_WORSE)
