"""Waits that say when they run long: an await on Kafka that never ends must not be silent.

>>> import asyncio
>>> async def slow():
...     await asyncio.sleep(0.05)
...     return "acked"
>>> asyncio.run(awaited(slow(), "the producer's flush", warn_every=0.01))
'acked'
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["awaited"]

log = logging.getLogger(__name__)

T = TypeVar("T")


async def awaited(awaitable: Awaitable[T], what: str, *, warn_every: float = 30.0) -> T:
    """Await ``awaitable`` as is (no timeout, nothing cancelled), logging a warning naming
    ``what`` and how long it has waited every ``warn_every`` seconds until it ends."""
    task = asyncio.ensure_future(awaitable)
    began = time.monotonic()
    while True:
        done, _ = await asyncio.wait({task}, timeout=warn_every)
        if done:
            return task.result()
        log.warning("still waiting for %s after %.0f s", what, time.monotonic() - began)
