"""One retrain, start to finish: data, its checks, challenger, gate, one MLflow run,
registration, promotion and the ``model-updates`` announcement.

The rows in range are checked (:mod:`retrainer.data_checks`) against the champion's inputs,
ranges and reference profile before anything is trained: a set that fails is not trained on,
its MLflow run records why (``driftline.decision=refused``, the reasons, every check's value)
and no version is registered. Either way the verdict goes out as a
:class:`~driftline.events.DataValidationEvent` on ``data-validation``.

:class:`RetrainJob` is what the worker runs on its thread for a triggering drift event or a
tick of its fixed schedule; it can also be called directly
(``RetrainJob(settings, ...).run(event)``) to retrain on demand. It never raises: every ending
is a :class:`RetrainResult` with a reason.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace

from driftline.events import DataValidationEvent, DriftEvent, new_id, now
from driftline.kafka import Producer
from driftline.logs import fields
from driftline.model.decision import DecisionPolicy
from driftline.model.registry import (
    LoadedModel,
    ModelVersionRef,
    RegistryError,
    get_alias,
    load_model,
    load_profile,
    register_version,
)
from driftline.model.trust import tagged_types
from driftline.profile import ReferenceProfile
from retrainer.data_checks import DataReport, check_rows
from retrainer.dataset import (
    Dataset,
    InsufficientDataError,
    RangePolicy,
    build_dataset,
    offset_ranges,
)
from retrainer.gate import Verdict
from retrainer.lineage import (
    TAGS,
    Lineage,
    Refusal,
    Trigger,
    check_metrics,
    data_checks,
    describe_trigger,
)
from retrainer.metrics import RetrainerMetrics
from retrainer.promotion import CHAMPION, ModelsError, announce, promote
from retrainer.settings import RetrainerSettings
from retrainer.source import LabeledRead, LabeledSource
from retrainer.train import Challenger, feature_schema, train_and_evaluate, training_columns

__all__ = ["REPORT_ARTIFACT", "RetrainJob", "RetrainResult"]

log = logging.getLogger(__name__)

REPORT_ARTIFACT = "drift_report.html"


@dataclass(frozen=True)
class RetrainResult:
    """How a retrain ended.

    ``result`` is ``promoted``, ``rejected``, ``refused`` (the training data failed its
    checks), ``insufficient_data``, ``failed`` or ``cancelled``; ``version`` is the
    registered challenger (None when none was registered); ``announced`` tells whether the
    ModelUpdateEvent was acknowledged by the broker.
    """

    event_id: str
    model_name: str
    result: str
    reason: str
    seconds: float
    version: str | None = None
    champion_before: str | None = None
    run_id: str | None = None
    announced: bool = False
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.result == "promoted"


class _Cancelled(Exception):
    pass


class RetrainJob:
    """Runs retrains for one model with shared clients (producer, labeled source)."""

    def __init__(
        self,
        settings: RetrainerSettings,
        *,
        producer: Producer,
        source: LabeledSource,
        experiment_id: str,
        metrics: RetrainerMetrics | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._settings = settings
        self._producer = producer
        self._source = source
        self._experiment_id = experiment_id
        self._metrics = metrics or RetrainerMetrics()
        self._stop = stop or threading.Event()

    def run(self, event: Trigger) -> RetrainResult:
        """Retrain in answer to ``event`` (a drift event or a scheduled tick); never raises."""
        began = time.monotonic()
        name = self._settings.model_name
        label = _label(event)

        def ended(result: str, reason: str) -> RetrainResult:
            return RetrainResult(event.event_id, name, result, reason, 0.0)

        try:
            outcome = self._run(event)
        except _Cancelled:
            outcome = ended("cancelled", "the retrainer stopped before the retrain was done")
        except InsufficientDataError as exc:
            outcome = ended("insufficient_data", str(exc))
        except Exception as exc:  # a failed retrain is an outcome, logged and counted
            log.exception("retrain of %s for %s failed", name, label)
            outcome = ended("failed", f"{type(exc).__name__}: {exc}")
        outcome = replace(outcome, seconds=time.monotonic() - began)
        log.info("retrain of %s for %s finished in %.1fs: %s (%s)", name, label,
                 outcome.seconds, outcome.result, outcome.reason,
                 extra=fields(model=name, event_id=event.event_id, result=outcome.result))
        return outcome

    def _run(self, event: Trigger) -> RetrainResult:
        s = self._settings
        name = s.model_name
        if isinstance(event, DriftEvent):
            done = self._already_registered(event)
            if done is not None:
                return done
        champion_version = get_alias(name, CHAMPION)
        champion: LoadedModel | None = None
        if champion_version is not None:
            champion = load_model(name, champion_version, trusted_types=s.retrain_trusted_types)
        columns = training_columns(champion, s.retrain_pipeline)
        policy = s.range_policy(
            # A scheduled retrain has no drift window to start from.
            not_before=event.window_start if isinstance(event, DriftEvent) else None
        )
        window, read = self._window(policy)
        rows = [*window.train, *window.holdout]
        report = check_rows(
            [r.event.prediction.features for r in rows], [r.event.label for r in rows],
            columns, features=feature_schema(champion),
            profile=self._profile(name, champion_version), thresholds=s.data_thresholds(),
        )
        if not report.passed:
            return self._refuse(Refusal(name, event, window, report, s.data_thresholds(),
                                        champion_version, rows_read=len(read.rows)))
        usable = [r for r, ok in zip(rows, report.usable, strict=True) if ok]
        dataset = build_dataset(usable, policy)
        incomplete = len(rows) - len(usable)
        self._check_stop()
        evaluation = train_and_evaluate(dataset, champion, name=name, pipeline=s.retrain_pipeline)
        verdict = s.gate().judge(evaluation.labels, evaluation.champion_scores,
                                 evaluation.challenger_scores)
        lineage = Lineage(
            model_name=name, event=event, dataset=dataset, verdict=verdict, gate=s.gate(),
            pipeline=s.retrain_pipeline, champion_version=champion_version,
            rows_read=len(read.rows), incomplete_rows=incomplete,
            dead_lettered=read.dead_lettered, checks=report,
        )
        self._observe(dataset, verdict)
        # a challenger may hold what was trusted for its champion or by this retrainer's
        # setting (a cloned champion, a configured factory): the new version records it
        accepted = [*(tagged_types(champion.tags) if champion else ()),
                    *s.retrain_trusted_types]
        ref = self._register(lineage, evaluation.challenger, champion, accepted)
        self._send_checks(event, window, report, champion_version, ref.run_id)
        result, reason, announced = lineage.decision, verdict.reason, False
        if verdict.promote:
            try:
                move = promote(name, ref.version, reason=verdict.reason,
                               expect_champion=champion_version)
            except ModelsError as exc:
                result, reason = "rejected", f"rejected: {exc}"
                self._mark_rejected(name, ref.version, reason)
            else:
                announced = announce(self._producer, s.topic("model-updates"), move)
                if not announced:
                    self._metrics.updates_unacknowledged.inc()
                self._metrics.champion.labels(name).set(float(ref.version))
        return RetrainResult(
            event.event_id, name, result, reason, 0.0, version=ref.version,
            champion_before=champion_version, run_id=ref.run_id, announced=announced,
            challenger=verdict.challenger, champion=verdict.champion,
        )

    def _already_registered(self, event: DriftEvent) -> RetrainResult | None:
        """The ending of a retrain for ``event`` that registered its version before the
        retrainer stopped (killed between registering and committing the event, which is
        then delivered again): no second version. A version that passed its gate and was
        not promoted yet is promoted now, if the champion is still the one it was judged
        against. None when no version answers ``event``."""
        import mlflow

        name = self._settings.model_name
        client = mlflow.MlflowClient()
        found = [mv for mv in client.search_model_versions(f"name = '{name}'")
                 if (mv.tags or {}).get(TAGS.trigger_event) == event.event_id]
        if not found:
            return None
        mv = min(found, key=lambda v: int(v.version))
        tags = mv.tags or {}
        version, decision = str(mv.version), tags.get(TAGS.decision, "")
        judged_against = tags.get(TAGS.champion_version) or None
        champion = get_alias(name, CHAMPION)
        log.warning("drift event %s was answered by v%s (%s) before a restart; not "
                    "retraining again", event.event_id, version, decision)

        def ended(result: str, reason: str, announced: bool = False) -> RetrainResult:
            return RetrainResult(event.event_id, name, result, reason, 0.0, version=version,
                                 champion_before=judged_against, run_id=mv.run_id,
                                 announced=announced)

        if decision != "promoted" or champion == version:
            return ended(decision or "rejected",
                         f"already answered by v{version} before a restart: {decision}")
        try:
            move = promote(name, version, reason=tags.get(TAGS.reason, "promoted"),
                           expect_champion=judged_against)
        except ModelsError as exc:
            self._mark_rejected(name, version, f"rejected: {exc}")
            return ended("rejected", f"rejected: {exc}")
        announced = announce(self._producer, self._settings.topic("model-updates"), move)
        return ended("promoted", f"promoted v{version}, registered before a restart",
                     announced)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Cancelled

    def _window(self, policy: RangePolicy) -> tuple[Dataset, LabeledRead]:
        """Read the rows in range, waiting (bounded) for enough labeled rows."""
        s = self._settings
        deadline = time.monotonic() + s.retrain_data_wait
        while True:
            self._check_stop()
            read = self._source.read(s.retrain_window, s.retrain_max_rows)
            if read.dead_lettered:
                self._metrics.dead_lettered.labels(self._source.topic).inc(read.dead_lettered)
            try:
                return build_dataset(read.rows, policy), read
            except InsufficientDataError as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                log.info("waiting for labeled rows (%s); %.0fs left", exc, left)
                self._stop.wait(min(s.retrain_data_poll, left))

    @staticmethod
    def _profile(name: str, version: str | None) -> ReferenceProfile | None:
        """The champion's reference profile; None without a champion or a profile."""
        if version is None:
            return None
        try:
            return load_profile(name, version)
        except RegistryError as exc:
            log.warning("training data of %s not compared with a reference: %s", name, exc)
            return None

    def _refuse(self, refusal: Refusal) -> RetrainResult:
        """Record a refused set on its own MLflow run, send its checks, register nothing."""
        import mlflow

        with mlflow.start_run(experiment_id=self._experiment_id,
                              run_name=refusal.run_name) as run:
            mlflow.set_tags(refusal.tags())
            mlflow.log_params(refusal.params())
            mlflow.log_metrics(check_metrics(refusal.report))
            mlflow.log_text(refusal.to_json().decode(), "data_checks.json")
            run_id = run.info.run_id
        self._send_checks(refusal.event, refusal.window, refusal.report,
                          refusal.champion_version, run_id)
        log.warning("training data of %s refused: %s", refusal.model_name,
                    "; ".join(refusal.report.reasons))
        return RetrainResult(
            refusal.event.event_id, refusal.model_name, "refused", refusal.reason, 0.0,
            champion_before=refusal.champion_version, run_id=run_id,
        )

    def _send_checks(self, trigger: Trigger, window: Dataset, report: DataReport,
                     version: str | None, run_id: str | None) -> None:
        """The checks' verdict on ``data-validation``; logged, not raised, when the broker
        does not take it (the run has the same record)."""
        event = DataValidationEvent(
            event_time=now(), event_id=new_id(), model_name=self._settings.model_name,
            model_version=version, passed=report.passed, rows=report.rows,
            usable_rows=report.usable_rows, window_start=window.window_start,
            window_end=window.window_end, reasons=report.reasons, checks=data_checks(report),
            evidence=offset_ranges([*window.train, *window.holdout]),
            trigger_event_id=trigger.event_id, run_id=run_id,
        )
        topic = self._settings.topic("data-validation")
        failed_before = self._producer.failed
        self._producer.send(topic, event)
        left = self._producer.flush(10.0)
        if left or self._producer.failed > failed_before:
            log.error("%s: the data checks of %s were not acknowledged (%s)", topic,
                      trigger.event_id, self._producer.last_error or f"{left} queued")

    def _observe(self, dataset: Dataset, verdict: Verdict) -> None:
        m = self._metrics
        m.rows.labels("train").set(len(dataset.train))
        m.rows.labels("holdout").set(len(dataset.holdout))
        for role, values in (("challenger", verdict.challenger), ("champion", verdict.champion)):
            for metric, value in values.items():
                m.holdout.labels(role, metric).set(value)

    def _register(self, lineage: Lineage, challenger: Challenger,
                  champion: LoadedModel | None, trusted_types: list[str]) -> ModelVersionRef:
        """One MLflow run: params, metrics, trigger tags, lineage.json and the new version
        (never aliased here: promotion is a separate, checked step). The version keeps the
        champion's decision policy and the skops types a person trusted for it."""
        import mlflow

        description = (
            f"retrained for {_label(lineage.event)} ({describe_trigger(lineage.event)}) with "
            f"{len(lineage.dataset.train)} labeled rows: {lineage.verdict.reason}"
        )
        with mlflow.start_run(experiment_id=self._experiment_id, run_name=lineage.run_name):
            mlflow.set_tags(lineage.run_tags())
            mlflow.log_params(lineage.params())
            mlflow.log_metrics(lineage.metrics())
            mlflow.log_text(lineage.to_json().decode(), "lineage.json")
            inherited = champion.tags if champion else {}
            ref = register_version(
                lineage.model_name, challenger.model, signature=challenger.signature,
                profile=challenger.profile, features=challenger.features,
                description=description, tags=lineage.version_tags(),
                trusted_types=trusted_types,
                decision=DecisionPolicy.from_tags(inherited),
            )
            if isinstance(lineage.event, DriftEvent) and self._settings.retrain_report_span:
                self._log_report(lineage.event, ref)
            return ref

    def _log_report(self, event: DriftEvent, ref: ModelVersionRef) -> None:
        """Log the drift report of the triggering drift (``drift_report.html``) in the
        active run and link it from the version's tag ``driftline.drift_report``; a report
        that cannot be built is logged and skipped, never failing the retrain."""
        import mlflow

        from driftline.report import build_report
        from driftline.report.live import collect

        s = self._settings
        try:
            data = collect(s.kafka, s.kafka.service_topic(s.monitor_app_id, "reports"),
                           event.window_start - s.retrain_report_span, None, ref.name,
                           title=f"Drift report: {ref.name}, retrained as v{ref.version}")
            if all(e.event_id != event.event_id for e in data.events):
                data = replace(data, events=[*data.events, event])
            mlflow.log_text(build_report(data), REPORT_ARTIFACT)
            mlflow.MlflowClient().set_model_version_tag(
                ref.name, ref.version, TAGS.drift_report,
                f"runs:/{ref.run_id}/{REPORT_ARTIFACT}")
        except Exception as exc:  # the report is a courtesy: the retrain goes on without it
            log.warning("no drift report for %s v%s: %s", ref.name, ref.version, exc)

    @staticmethod
    def _mark_rejected(name: str, version: str, reason: str) -> None:
        import mlflow

        client = mlflow.MlflowClient()
        client.set_model_version_tag(name, version, TAGS.decision, "rejected")
        client.set_model_version_tag(name, version, TAGS.reason, reason)


def _label(trigger: Trigger) -> str:
    """``drift event <id>`` or the scheduled retrain's id (``schedule-<due time>``)."""
    if isinstance(trigger, DriftEvent):
        return f"drift event {trigger.event_id}"
    return trigger.event_id
