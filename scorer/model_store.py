"""The served model: loaded from the MLflow registry by alias, swapped without a restart.

:class:`ModelStore` holds one immutable :class:`~driftline.model.served.ServedModel`. ``refresh()``
re-reads the alias; when it points at another version, that version is downloaded, checked,
warmed up and only then swapped in with a single reference assignment. A version that is
refused (untrusted types) or fails its warm-up is never served: the store keeps the version
it had, or stays empty (the scorer unready) at start, and says why in ``load_error``.
Requests hold the snapshot they were validated with, so requests in flight finish on the old
model and every prediction records the version that made it.

:class:`UpdateFollower` calls ``refresh()`` when ``model-updates`` announces a move of the
served alias (and every ``model_poll_s`` seconds as a fallback), on its own thread, so the
event loop never waits for a download.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from driftline.errors import ContractError, DriftlineError
from driftline.events import ModelUpdateEvent
from driftline.intake import decode_value
from driftline.kafka import Consumer, DeadLetterWriter
from driftline.logs import fields
from driftline.model.registry import RegistryError, get_alias, load_model, wait_for_registry
from driftline.model.served import ModelError, ServedModel
from driftline.model.serving import WarmUpError, serve_loaded
from driftline.model.trust import UntrustedTypesError
from scorer.metrics import ScorerMetrics
from scorer.settings import ScorerSettings

__all__ = ["ModelStore", "NoModelError", "UpdateFollower"]

log = logging.getLogger(__name__)


class NoModelError(DriftlineError):
    """No model version is loaded yet."""


class ModelStore:
    """The current ServedModel and how to replace it."""

    def __init__(self, settings: ScorerSettings, metrics: ScorerMetrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._current: ServedModel | None = None
        # why the newest version the alias pointed at is not served (None: it is)
        self.load_error: str | None = None
        self._lock = threading.Lock()  # one load at a time; readers never take it

    @property
    def current(self) -> ServedModel | None:
        return self._current

    def require(self) -> ServedModel:
        """The served model, or NoModelError while none is loaded."""
        served = self._current
        if served is None:
            raise NoModelError("no model version is loaded yet")
        return served

    def load_initial(self, timeout: float) -> ServedModel | None:
        """Wait for the registry (bounded), then load the version the alias points at. A
        version that is refused or fails its warm-up leaves the scorer unready (None), saying
        why in :attr:`load_error`; the follower tries again on the next update or poll."""
        wait_for_registry(timeout)
        try:
            self.refresh()
        except (UntrustedTypesError, WarmUpError, ModelError) as exc:
            log.error("not serving: %s", exc, extra=fields(model=self._settings.model_name))
        return self._current

    def refresh(self) -> bool:
        """Re-read the alias; load and swap in the version it points at if it changed.
        Returns True when a new version was swapped in."""
        name, alias = self._settings.model_name, self._settings.model_alias
        with self._lock:
            version = get_alias(name, alias)
            if version is None:
                raise RegistryError(
                    f"no version of model {name!r} has the alias @{alias}: run "
                    "`driftline bootstrap` to register the default model, or set "
                    "DRIFTLINE_MODEL_NAME / DRIFTLINE_MODEL_ALIAS"
                )
            previous = self._current
            if previous is not None and previous.version == version:
                self.load_error = None
                return False
            began = time.monotonic()
            try:
                loaded = load_model(name, version, trusted_types=self._settings.trusted_types)
                served = serve_loaded(loaded, alias, max_rows=self._settings.max_batch_rows)
            except Exception as exc:
                self._metrics.model_load_failures.labels(name, _reason(exc)).inc()
                kept = f"; still serving v{previous.version}" if previous else ""
                self.load_error = f"v{version} (@{alias}) is not served: {exc}{kept}"
                raise
            self.load_error = None
            self._current = served  # the swap: one reference assignment
            policy = served.decision or self._settings.thresholds.policy
            self._metrics.served(name, version, policy.names)
            log.info(
                "serving %s v%s (@%s, loaded in %.2fs)%s",
                name,
                version,
                alias,
                time.monotonic() - began,
                f", replacing v{previous.version}" if previous else "",
                extra=fields(model=name, version=version, alias=alias),
            )
            return True


def _reason(exc: Exception) -> str:
    """The reason label of a failed load."""
    if isinstance(exc, UntrustedTypesError):
        return "untrusted_types"
    if isinstance(exc, WarmUpError):
        return "warm_up"
    if isinstance(exc, RegistryError):
        return "registry"
    return "error"


class UpdateFollower:
    """Follows ``model-updates`` on a daemon thread and refreshes the store on relevant events.

    Each replica uses its own consumer group, reading the compacted topic from the start, so
    every replica sees every update.
    """

    def __init__(
        self,
        store: ModelStore,
        settings: ScorerSettings,
        dead_letters: DeadLetterWriter,
        metrics: ScorerMetrics,
    ) -> None:
        self._store = store
        self._settings = settings
        self._dead = dead_letters
        self._metrics = metrics
        self._topic = settings.topic("model-updates")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="driftline-model-updates", daemon=True
        )
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def alive(self) -> bool:
        """Whether the following thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def restart(self) -> None:
        """Start following again after the thread died (it reads the compacted topic from
        its start with a new consumer, then checks the alias)."""
        if self._thread is None or self.alive() or self._stop.is_set():
            return
        self.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _relevant(self, event: ModelUpdateEvent) -> bool:
        return (
            event.model_name == self._settings.model_name
            and event.alias == self._settings.model_alias
        )

    def _refresh(self, why: str) -> None:
        try:
            if self._store.refresh():
                log.info("model swapped after %s", why)
        except Exception as exc:  # keep serving the old version; the next event retries
            log.error("could not load the new model version after %s: %s", why, exc)

    def _run(self) -> None:
        consumer = Consumer(
            self._settings.kafka,
            f"driftline-scorer-updates-{uuid.uuid4().hex[:12]}",
            commit="manual",  # every replica reads the whole compacted topic from its start
            options={"logger": logging.getLogger("driftline.kafka.updates")},
        )
        consumer.subscribe([self._topic])
        poll_s = self._settings.model_poll_s
        times = self._settings.time_range()
        next_poll = time.monotonic() + poll_s if poll_s else float("inf")
        try:
            while not self._stop.is_set():
                relevant = None
                for msg in consumer.poll_batch(100, 0.5):
                    try:
                        event = decode_value(ModelUpdateEvent, msg.value(), times)
                    except ContractError as exc:
                        self._dead.send_message(exc, msg)
                        self._metrics.dead_lettered.labels(msg.topic()).inc()
                        continue
                    if self._relevant(event):
                        relevant = event
                if relevant is not None:
                    self._refresh(f"model-updates: v{relevant.version} is @{relevant.alias}")
                    next_poll = time.monotonic() + poll_s if poll_s else float("inf")
                elif time.monotonic() >= next_poll:
                    self._refresh("the periodic alias check")
                    next_poll = time.monotonic() + poll_s
        finally:
            consumer.close()
