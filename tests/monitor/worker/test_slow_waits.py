"""A wait on Kafka that runs long is logged while it lasts, and its result is kept."""

from __future__ import annotations

import asyncio
import logging

import pytest

from monitor.worker.slow_waits import awaited


def test_a_long_wait_is_logged_every_period_until_it_ends(caplog):
    async def slow() -> str:
        # ends only once two warnings were logged, however slow the machine
        while len(caplog.records) < 2:
            await asyncio.sleep(0.005)
        return "acked"

    with caplog.at_level(logging.WARNING, "monitor.worker.slow_waits"):
        assert asyncio.run(awaited(slow(), "the flush", warn_every=0.02)) == "acked"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 2 and all(m.startswith("still waiting for the flush after")
                                   for m in lines)


def test_a_quick_wait_says_nothing_and_an_error_comes_through(caplog):
    async def fails() -> None:
        raise RuntimeError("broker gone")

    async def quick() -> int:
        return 1

    with caplog.at_level(logging.WARNING, "monitor.worker.slow_waits"):
        assert asyncio.run(awaited(quick(), "the flush", warn_every=30.0)) == 1
        with pytest.raises(RuntimeError, match="broker gone"):
            asyncio.run(awaited(fails(), "the flush", warn_every=30.0))
    assert caplog.records == []
