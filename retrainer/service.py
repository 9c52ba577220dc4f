"""The retrainer worker: ``drift-events`` in, gated model versions out.

:class:`Retrainer` consumes ``drift-events`` in a consumer group and asks
:class:`~retrainer.trigger.TriggerPolicy` about each event; every decision is logged and
counted (``driftline_retrainer_decisions_total{outcome}``). A triggered retrain runs on a
worker thread (:class:`~retrainer.job.RetrainJob`), one at a time, while consumption goes on:
events that arrive meanwhile are skipped as ``in_flight``. Offsets are committed only once a
decision is final, the triggering event's when its retrain has ended (at-least-once; a
re-delivered duplicate is recognised by its event id). What the trigger policy remembers (the
event ids decided, the retrain in flight and its tries, where the cooldown runs from) is
written to the compacted ``retrainer-state`` topic before each commit and read back at start
(:mod:`retrainer.state_store`), so a restart forgets none of it: the retrain in flight goes on
when its drift event comes again, a duplicate or an event in the cooldown is still skipped.

With ``retrain_every`` set (``driftline retrain --every``) it reads no drift events and
retrains on a fixed wall-clock schedule instead (:class:`~retrainer.schedule.RetrainSchedule`),
through the same job, one at a time, each tick's decision logged and counted the same way.

In-process use (the demo, tests)::

    retrainer = Retrainer(RetrainerSettings(home=home, kafka=kafka), on_result=print)
    retrainer.start()          # returns once Kafka and MLflow answer; consumes on a thread
    ...
    retrainer.stop()

Each finished retrain is logged as ``retrain of <model> for drift event <id> finished in
<s>s: <result> (<reason>)`` (``for schedule-<due time>`` on the schedule), appended to
``retrainer.results`` and passed to ``on_result``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from confluent_kafka import KafkaException, Message, TopicPartition

from driftline.errors import ContractError
from driftline.events import DriftEvent, RetrainerState
from driftline.intake import decode_value
from driftline.kafka import (
    Consumer,
    DeadLetterWriter,
    Producer,
    create_topics,
    wait_for_broker,
)
from driftline.model.registry import configure, get_alias, wait_for_registry
from retrainer.job import RetrainJob, RetrainResult
from retrainer.lineage import Trigger
from retrainer.metrics import RetrainerMetrics
from retrainer.offsets import CommitTracker
from retrainer.promotion import CHAMPION
from retrainer.schedule import RetrainSchedule
from retrainer.settings import RetrainerSettings
from retrainer.source import LabeledSource
from retrainer.state_store import StateStore
from retrainer.trigger import Decision

__all__ = ["Retrainer"]

log = logging.getLogger(__name__)


class Retrainer:
    """The ``driftline retrain`` worker; see the module text for how to run it in-process."""

    def __init__(
        self,
        settings: RetrainerSettings,
        *,
        on_result: Callable[[RetrainResult], None] | None = None,
        metrics: RetrainerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or RetrainerMetrics()
        self.metrics.start_topics(settings.topic(t) for t in ("drift-events", "labeled"))
        self.policy = settings.trigger_policy()  # reads and validates the policy file
        self._kinds_from = settings.trigger_kinds()[1]
        self.results: list[RetrainResult] = []
        self.decisions: deque[Decision] = deque(maxlen=1000)  # the most recent, for callers
        self._on_result = on_result
        self._stop = threading.Event()
        self._stop_timeout = 120.0
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftline-retrain")
        # The running retrain, its trigger and (for a drift event) where that was read.
        self._job: tuple[Future[RetrainResult], Trigger, int | None, int | None] | None = None
        self.schedule: RetrainSchedule | None = None  # set by start() with retrain_every
        self._tracker = CommitTracker()
        self._latest_event_time = 0.0
        self._producer = Producer(settings.kafka)
        self._dead = DeadLetterWriter(self._producer, settings.topic("dead-letter"), "retrainer",
                                      prefix=settings.kafka.topic_prefix)
        self._times = settings.time_range()
        self._http: Any = None
        self._runner: RetrainJob | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        # A drift-triggered retrain that failed for an outside reason and waits to be tried
        # again: (its trigger, partition, offset, tries so far, when the next is due)
        self._retry: tuple[DriftEvent, int | None, int | None, int, float] | None = None
        self._tries = 1  # of the retrain running now
        self._clock: Callable[[], float] = time.monotonic
        self._store = StateStore(settings.kafka, settings.topic("retrainer-state"),
                                 self._producer, self._dead)
        self._written: tuple[object, ...] | None = None  # the state last acknowledged

    # lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Wait (bounded) for Kafka and MLflow, then consume (or follow the schedule) on a
        daemon thread."""
        s = self.settings
        wait_for_broker(s.kafka, timeout=s.startup_timeout_s)
        experiment_id = configure(s.home)
        wait_for_registry(s.startup_timeout_s)
        create_topics(s.kafka)  # idempotent: the topics the worker reads and writes exist
        if s.retrain_every is None:
            self._remember()
        self._runner = RetrainJob(
            s,
            producer=self._producer,
            source=LabeledSource(s.kafka, s.topic("labeled"), self._dead,
                                 margin=s.retrain_read_margin, times=self._times),
            experiment_id=experiment_id,
            metrics=self.metrics,
            stop=self._stop,
        )
        if s.retrain_metrics_port:
            from driftline.ops_http import serve

            self._http = serve(s.retrain_metrics_port, s.retrain_metrics_host,
                               registry=self.metrics.registry, ready=self.readiness,
                               alive=self.liveness)
        self.schedule = s.schedule(start=time.time())
        loop = self._consume if self.schedule is None else self._follow_schedule
        self._thread = threading.Thread(target=loop, name="driftline-retrainer", daemon=True)
        self._thread.start()
        if not self._ready.wait(s.startup_timeout_s) and self._failure is None:
            log.warning("the drift-events consumer did not start within %.0fs",
                        s.startup_timeout_s)
        if self._failure is not None:
            raise self._failure
        if self.schedule is None:
            log.info("retrainer for %s consuming %s as group %s; %s drift trigger a retrain "
                     "(from %s)", s.model_name, s.topic("drift-events"), s.retrain_group,
                     ", ".join(self.policy.kinds), self._kinds_from)
        else:
            log.info("retrainer for %s on a fixed schedule: every %gs of wall-clock time, the "
                     "first at %s UTC; drift events are not read", s.model_name,
                     self.schedule.every,
                     time.strftime("%H:%M:%S", time.gmtime(self.schedule.next_at)))

    def _remember(self) -> None:
        """Take back the state the last run wrote for this model."""
        state = self._store.read(self.settings.model_name)
        if state is None:
            return
        self.policy.restore(state)
        self._written = _content(state)
        running = state.in_flight
        log.info("remembered %d drift events of %s; %s; %s", len(state.handled),
                 state.model_name,
                 "no cooldown" if state.finished_at is None
                 else f"the cooldown runs from {state.finished_at:.0f}",
                 "no retrain in flight" if running is None
                 else f"the retrain for {running.event_id} was in flight ({running.tries} "
                 "tries), to resume when its event comes again")

    def stop(self, timeout: float = 120.0) -> None:
        """Stop consuming; a retrain in progress stops at its next checkpoint (waiting for
        data, before training) or finishes; its event stays uncommitted if it did not.
        Calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self._stop_timeout = timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + 10.0)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._producer.close(10.0)
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        log.info("retrainer for %s stopped after %d retrains", self.settings.model_name,
                 len(self.results))

    def run_forever(self) -> None:
        """Start, then block until SIGINT or SIGTERM (the CLI's entry point)."""
        import signal

        self.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        while not self._stop.wait(1.0):
            if self._thread is not None and not self._thread.is_alive():
                break
        self.stop()
        if self._failure is not None:
            raise self._failure

    def alive(self) -> bool:
        """Whether the consumer loop is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def busy(self) -> bool:
        """True while a retrain runs or waits to be tried again."""
        return self._job is not None or self._retry is not None

    def liveness(self) -> tuple[bool, dict[str, object]]:
        """Alive while its consumer (or schedule) thread runs: that thread ending with an
        error stops the retrainer's work, and only a restart mends it (``/health``)."""
        running = self._thread is not None and self._thread.is_alive()
        facts: dict[str, object] = {"thread": running}
        if self._failure is not None:
            facts["error"] = f"{type(self._failure).__name__}: {self._failure}"
        return running or (self._thread is None and self._failure is None), facts

    def readiness(self) -> tuple[bool, dict[str, object]]:
        """Ready while it consumes ``drift-events`` (or follows its schedule): alive, and
        started (``/ready``), with whether a retrain runs now."""
        alive, facts = self.liveness()
        started = self._ready.is_set() and self._failure is None
        return alive and started, {**facts, "consuming": started, "retraining": self.busy}

    # the consumer thread -----------------------------------------------------------------

    def _consume(self) -> None:
        s = self.settings
        try:
            static = {"group.instance.id": s.retrain_instance_id} if s.retrain_instance_id else {}
            consumer = Consumer(s.kafka, s.retrain_group, commit="manual",
                                offset_reset=s.retrain_offset_reset, options=static)
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            raise
        consumer.subscribe([s.topic("drift-events")], on_revoke=self._revoked)
        self._ready.set()
        try:
            while not self._stop.is_set():
                for msg in consumer.poll_batch(50, 0.5):
                    self._handle(msg)
                self._reap()
                self._retry_if_due()
                self._commit(consumer)
            self._let_finish()
            self._commit(consumer)
        except BaseException as exc:
            self._failure = exc
            log.exception("the retrainer's consumer loop stopped")
            raise
        finally:
            consumer.close()

    def _let_finish(self) -> None:
        """On stop: the job sees the stop flag at its checkpoints; one past them (training,
        registering) is let finish so its drift event is committed, not retrained again."""
        if self._job is None:
            return
        try:
            self._job[0].exception(timeout=self._stop_timeout)
        except TimeoutError:
            log.warning("stopping with a retrain still running; a drift event that triggered "
                        "it stays uncommitted and is retrained after a restart")
        else:
            self._reap()

    # the schedule thread (retrain_every) ---------------------------------------------------

    def _follow_schedule(self) -> None:
        assert self.schedule is not None and self._runner is not None
        self._ready.set()
        try:
            while not self._stop.is_set():
                self._reap()
                due = self.schedule.decide(time.time(), busy=self.busy)
                if due is not None:
                    decision, run = due
                    self._decided(decision, run)
                    if decision.trigger:
                        self.metrics.in_flight.set(1)
                        self._job = (self._pool.submit(self._runner.run, run), run, None, None)
                self._stop.wait(min(0.5, max(0.0, self.schedule.next_at - time.time())))
            self._let_finish()
        except BaseException as exc:
            self._failure = exc
            log.exception("the retrainer's schedule loop stopped")
            raise

    def _revoked(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._tracker.forget(tp.partition)

    def _handle(self, msg: Message) -> None:
        partition, offset = msg.partition(), msg.offset()
        try:
            event = decode_value(DriftEvent, msg.value(), self._times)
        except ContractError as exc:
            self._dead.send_message(exc, msg)
            self.metrics.dead_lettered.labels(msg.topic()).inc()
            self._decided(Decision.skip("invalid", str(exc), "", ""), None)
            self._tracker.seen(partition, offset)
            return
        self._latest_event_time = max(self._latest_event_time, event.event_time)
        decision = self._decide(event)
        self._decided(decision, event)
        if not decision.trigger:
            self._tracker.seen(partition, offset)
            return
        assert self._runner is not None
        self._tracker.seen(partition, offset, final=False)
        self.metrics.in_flight.set(1)
        if decision.outcome == "resumed":  # the tries before the restart count
            self._tries = self.policy.in_flight_tries(event.model_name) + 1
        self.policy.tried(event.model_name, self._tries)
        self._job = (self._pool.submit(self._runner.run, event), event, partition, offset)

    def _decide(self, event: DriftEvent) -> Decision:
        name = self.settings.model_name
        if event.model_name != name:
            return Decision.skip(
                "other_model",
                f"drift in {event.model_name}, this retrainer serves {name} "
                "(DRIFTLINE_MODEL_NAME)",
                event.model_name, event.event_id,
            )
        try:
            champion = get_alias(name, CHAMPION)
        except Exception as exc:  # the registry is down: decide without the version check
            log.warning("could not read %s@%s (%s)", name, CHAMPION, exc)
            champion = None
        return self.policy.decide(event, champion_version=champion)

    def _decided(self, decision: Decision, event: Trigger | None) -> None:
        self.decisions.append(decision)
        self.metrics.decisions.labels(decision.outcome).inc()
        if event is None:
            log.warning("drift-events: invalid record dead-lettered: %s", decision.reason)
            return
        if not isinstance(event, DriftEvent):
            log.info("%s: %s", event.event_id, decision.reason)
            return
        log.info("drift event %s (%s, %s, %s v%s): %s", event.event_id, event.kind,
                 event.severity, event.model_name, event.model_version, decision.reason)

    def _reap(self) -> None:
        """Finish the bookkeeping of a retrain that ended."""
        if self._job is None or not self._job[0].done():
            return
        future, event, partition, offset = self._job
        self._job = None
        result = future.result()  # RetrainJob.run never raises
        self.metrics.retrains.labels(result.result).inc()
        self.results.append(result)
        if self._should_retry(event, result):
            assert isinstance(event, DriftEvent)
            delay = min(self.settings.retrain_retry_s * 2 ** (self._tries - 1), 600.0)
            attempts = self.settings.retrain_attempts
            log.warning("retrain of %s for drift event %s ended %s (%s); try %d%s in "
                        "%.0f s, the event kept", event.model_name, event.event_id,
                        result.result, result.reason, self._tries + 1,
                        f" of {attempts}" if attempts else "", delay)
            self._retry = (event, partition, offset, self._tries, self._clock() + delay)
            return
        self.metrics.retrain_seconds.observe(result.seconds)
        # A cancelled retrain's drift event is re-delivered after a restart.
        self._end(event, partition, offset, commit=result.result != "cancelled")
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception:
                log.exception("the on_result callback failed")

    def _end(self, event: Trigger, partition: int | None, offset: int | None,
             commit: bool = True) -> None:
        """A retrain is done with: the cooldown starts, its drift event may be committed."""
        self._tries = 1
        if isinstance(event, DriftEvent) and commit:
            self.policy.finished(event.model_name,
                                 at=max(self._latest_event_time, event.event_time))
        self.metrics.in_flight.set(0)
        if partition is not None and offset is not None and commit:
            self._tracker.finish(partition, offset)

    def _should_retry(self, event: Trigger, result: RetrainResult) -> bool:
        """A drift-triggered retrain that failed for an outside reason (an error, too few
        labeled rows yet) is tried again, without end or up to ``retrain_attempts`` tries
        when that is set, unless the retrainer is stopping."""
        attempts = self.settings.retrain_attempts
        return (isinstance(event, DriftEvent) and result.result in ("failed", "insufficient_data")
                and (not attempts or self._tries < attempts) and not self._stop.is_set())

    def _retry_if_due(self) -> None:
        """Start the waiting retry once its time has come (the trigger stayed in flight),
        unless the drift is no longer worth a retrain: the version it was found in no longer
        serves (another version was promoted or rolled back to meanwhile)."""
        if self._retry is None or self._job is not None or self._clock() < self._retry[4]:
            return
        event, partition, offset, tries, _ = self._retry
        champion = self._champion()
        if champion is not None and champion != event.model_version:
            self._retry = None
            log.warning("retrain of %s for drift event %s given up after %d tries: v%s no "
                        "longer serves (the champion is v%s)", event.model_name,
                        event.event_id, tries, event.model_version, champion)
            self.metrics.decisions.labels("stale_version").inc()
            self._end(event, partition, offset)
            return
        self._retry = None
        self._tries = tries + 1
        self.policy.tried(event.model_name, self._tries)
        assert self._runner is not None
        self._job = (self._pool.submit(self._runner.run, event), event, partition, offset)

    def _champion(self) -> str | None:
        """The version serving now; None when there is none or the registry does not
        answer."""
        try:
            return get_alias(self.settings.model_name, CHAMPION)
        except Exception as exc:
            log.warning("could not read %s@%s (%s)", self.settings.model_name, CHAMPION, exc)
            return None

    def _commit(self, consumer: Consumer) -> None:
        """Write what the policy remembers when it changed, then (only once the broker has
        it) commit the offsets whose decisions are final."""
        state = self.policy.state(self.settings.model_name, now=time.time())
        if _content(state) != self._written:
            if not self._store.write(state):
                return  # tried again with the next commit
            self._written = _content(state)
        offsets = self._tracker.to_commit()
        if not offsets:
            return
        topic = self.settings.topic("drift-events")
        try:
            consumer.commit(TopicPartition(topic, p, o) for p, o in offsets.items())
        except KafkaException as exc:  # retried with the next commit
            log.warning("committing drift-events offsets %s failed: %s", offsets, exc)
            return
        self._tracker.committed(offsets)


def _content(state: RetrainerState) -> tuple[object, ...]:
    """What a state says, but when it was written."""
    return (state.handled, state.in_flight, state.finished_at)
