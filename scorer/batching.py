"""Micro-batching: concurrent single predictions coalesced into one model call.

A scikit-learn model call costs little more for a hundred rows than for one (the per-call
overhead of validation and pandas dominates), so the scorer queues each request's row and a
single task scores whatever has queued up in one call. Before scoring, the batcher gives the
event loop two turns (enough for requests already in socket buffers to be parsed and queued)
and keeps collecting while rows keep arriving, for at most ``max_wait_s``: alone, a request
waits two loop turns; under load, batches grow by themselves up to ``max_size``.

>>> import asyncio
>>> async def demo():
...     batcher = MicroBatcher(lambda rows: [r * 10 for r in rows], max_size=8, max_wait_s=0.01)
...     batcher.start()
...     results = await asyncio.gather(*(batcher.submit(i) for i in range(5)))
...     await batcher.stop()
...     return results, batcher.batches
>>> asyncio.run(demo())
([0, 10, 20, 30, 40], 1)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["MicroBatcher"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Queue items from many coroutines; ``process`` handles a list of them in one call.

    ``process`` returns one result per item, in order (an exception instance as a result is
    raised to that item's submitter), or raises: the exception then goes to every submitter
    of the batch. It runs on the event loop (it must be quick:
    a model call on a few hundred rows); ``on_batch`` observes each batch size.
    """

    def __init__(
        self,
        process: Callable[[list[T]], Sequence[R]],
        *,
        max_size: int,
        max_wait_s: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if max_wait_s < 0:
            raise ValueError("max_wait_s must be >= 0")
        self._process = process
        self.max_size = max_size
        self.max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    def start(self) -> None:
        """Start the batching task on the running loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="micro-batcher")

    async def stop(self) -> None:
        """Score what is queued, then stop."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        assert self._queue is not None
        rest = []
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        if rest:
            self._handle(rest)
        self._task = None

    async def submit(self, item: T) -> R:
        """Queue one item and wait for its result."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_size:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                if loop.time() >= deadline:
                    break
                # Turn one reads ready sockets and schedules their requests, turn two runs
                # them up to submit(); nothing new after that means nobody else is waiting.
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                if queue.empty():
                    break
            self._handle(batch)

    def _handle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        if self._on_batch is not None:
            self._on_batch(len(batch))
        try:
            results = self._process([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # the client went away
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
