"""Where the worker runs its source loop: in a thread, or in processes of its own.

The source loop (:class:`~monitor.worker.source_loop.SourceLoop`) is pure Python per event, and a
CPython process runs one thread of Python at a time: in a thread of the worker it shares
that one core with faust's publisher agent and the consumer's callbacks. With
``DRIFTLINE_SOURCE_PROCESSES=N`` (N >= 1) the worker starts N source processes instead
(like Kafka Streams' ``num.stream.threads``: one worker, several cores). Each is an ordinary
member of the source consumer group ``<app id>-source``, so the partitions are spread over
them, and a rebalance between them is the same as one between workers (checkpoint, hand
over, resume). They send their partials to the same topic the worker's publisher reads. Each
ships its metrics to the worker once a second; the worker's ``/metrics`` serves their sum.

A source process that exits while the worker runs stops the worker (as an error in the
source thread does; a restart resumes from the checkpoints). A source process whose worker is
gone (killed) exits at once, without a last checkpoint, as the worker would have.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import mode
from prometheus_client import REGISTRY

from driftline.logs import configure_logging
from monitor.settings import MonitorSettings
from monitor.worker.metrics import ShippedMetrics, SourceMetrics, ship
from monitor.worker.source_loop import SourceLoop

__all__ = ["SourceProcesses", "SourceThread"]

log = logging.getLogger(__name__)

_SHIP_EVERY = 1.0  # seconds between a source process's metrics shipments
_READY_WITHIN = 300.0  # seconds a source process waits for its siblings to start
_LOG_FORMAT = "[%(asctime)s] [%(process)s] [%(levelname)s] [source %(source)s] %(message)s"


class SourceThread(mode.Service):
    """Runs the source loop in a thread of the worker for as long as the app runs; an error
    in it stops the worker (a restart resumes from the last checkpoint)."""

    def __init__(self, source: SourceLoop, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._source = source
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                self._source.run(self._stopping)
            except BaseException as exc:
                log.exception("the source loop failed; stopping the worker")
                asyncio.run_coroutine_threadsafe(self.crash(exc), loop)

        self._thread = threading.Thread(target=run, name="driftline-monitor-source",
                                        daemon=True)
        self._thread.start()

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 90.0)


class SourceProcesses(mode.Service):
    """Runs ``count`` source processes for as long as the app runs (see the module
    docstring); their metrics go to ``shipped``, a collector on the worker's registry."""

    def __init__(self, settings: MonitorSettings, app_id: str, count: int,
                 shipped: ShippedMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._app_id = app_id
        self._count = count
        self._shipped = shipped
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self._stopping = self._context.Event()
        # all join the group together: one that joined alone would take every partition,
        # build up their state, and hand half of it over (checkpoint, restore) moments later
        self._ready = self._context.Barrier(count)
        self._queue: Any = self._context.Queue()
        self._processes: list[Any] = []
        self._relaying = threading.Event()

    def launch(self) -> None:
        """Start the source processes (at once; again does nothing). The service's start
        launches them if this was not called before."""
        if self._processes:
            return
        for index in range(self._count):
            process = self._context.Process(
                target=_source_process, name=f"driftline-monitor-source-{index}",
                args=(self._settings, self._app_id, index, self._stopping, self._ready,
                      self._queue, os.getpid()),
                daemon=False,  # it must finish its last checkpoint after the worker's stop
            )
            process.start()
            self._processes.append(process)

    async def on_start(self) -> None:
        self.launch()
        for index, process in enumerate(self._processes):  # (logging is set up by now)
            log.info("source process %d started (pid %d)", index, process.pid)
        self._relaying.set()
        threading.Thread(target=self._relay_metrics, daemon=True,
                         name="driftline-monitor-metrics-relay").start()
        self.add_future(self._watch())

    async def _watch(self) -> None:
        """Stop the worker when a source process exits while it runs."""
        while not self._stopping.is_set():
            for index, process in enumerate(self._processes):
                if process.exitcode is not None and not self._stopping.is_set():
                    await self.crash(RuntimeError(
                        f"source process {index} (pid {process.pid}) exited with code "
                        f"{process.exitcode}; stopping the worker (a restart resumes from "
                        "the last checkpoint)"))
                    return
            await asyncio.sleep(0.5)

    def _relay_metrics(self) -> None:
        while self._relaying.is_set():
            try:
                index, families = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            self._shipped.update(index, families)

    async def on_stop(self) -> None:
        self._stopping.set()
        await asyncio.to_thread(self._join, 90.0)
        self._relaying.clear()

    def _join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(deadline - time.monotonic(), 0.0))
        for process in self._processes:
            if process.is_alive():
                log.error("source process %s did not stop within %.0f s; killing it",
                          process.pid, timeout)
                process.kill()
                process.join(10.0)


def _source_process(settings: MonitorSettings, app_id: str, index: int, stop: Any,
                    ready: Any, shipments: Any, parent: int) -> None:
    """The body of one source process (spawned: imports fresh, builds its own lookups)."""
    from driftline.model.registry import configure
    from driftline.process import tune_gc
    from monitor.worker.profiles import RegistryLookups

    configure_logging(settings.log_level, settings.log_format, service="monitor",
                      text_format=_LOG_FORMAT, defaults={"source": index})
    # A signal to the whole process group (Ctrl-C, a kill of the group) reaches this process
    # too: the worker stops its source processes itself, through ``stop``, after its publisher.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure(settings.home)
    metrics = SourceMetrics()
    source = SourceLoop(settings, app_id, RegistryLookups().profile, metrics, index,
                        settings.source_processes)
    tune_gc()
    done = threading.Event()

    def send() -> None:
        shipments.put((index, ship(REGISTRY)))

    threading.Thread(target=_ship_until, args=(done, send, parent), daemon=True).start()
    try:
        ready.wait(_READY_WITHIN)  # (broken if a sibling died first: this one stops too)
        source.run(stop)
    except BaseException:
        log.exception("the source loop failed")
        sys.exit(1)
    finally:
        done.set()
        send()  # the last counts, however it ended


def _ship_until(done: threading.Event, send: Callable[[], None], parent: int) -> None:
    """Ship metrics once a second; leave at once if the worker is gone (killed: no last
    checkpoint, exactly as if this process had been killed with it)."""
    while not done.wait(_SHIP_EVERY):
        if os.getppid() != parent:
            log.error("the worker (pid %d) is gone; exiting", parent)
            os._exit(1)
        send()
