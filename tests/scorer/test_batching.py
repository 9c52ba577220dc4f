"""The micro-batcher: coalescing, order, and errors per item or per batch."""

from __future__ import annotations

import asyncio

import pytest

from scorer.batching import MicroBatcher


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_concurrent_submits_are_scored_in_one_call_in_order():
    calls: list[list[int]] = []

    def process(items: list[int]) -> list[int]:
        calls.append(items)
        return [i * 2 for i in items]

    async def scenario():
        batcher = MicroBatcher(process, max_size=64, max_wait_s=0.05)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
        await batcher.stop()
        return results

    assert run(scenario()) == [i * 2 for i in range(20)]
    assert calls == [list(range(20))]


def test_batches_never_exceed_max_size():
    sizes: list[int] = []

    async def scenario():
        batcher = MicroBatcher(lambda xs: xs, max_size=4, max_wait_s=0.05, on_batch=sizes.append)
        batcher.start()
        await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.stop()

    run(scenario())
    assert sizes == [4, 4, 2]


def test_an_exception_result_fails_only_its_item():
    async def scenario():
        batcher = MicroBatcher(
            lambda xs: [ValueError(x) if x == 1 else x for x in xs], max_size=8, max_wait_s=0.01
        )
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(i) for i in range(3)),
                                       return_exceptions=True)
        await batcher.stop()
        return results

    first, second, third = run(scenario())
    assert (first, third) == (0, 2)
    assert isinstance(second, ValueError)


def test_a_raising_process_fails_every_item_of_the_batch_and_the_batcher_goes_on():
    def process(xs: list[int]) -> list[int]:
        if 0 in xs:
            raise RuntimeError("model exploded")
        return xs

    async def scenario():
        batcher = MicroBatcher(process, max_size=8, max_wait_s=0.0)
        batcher.start()
        failed = await asyncio.gather(batcher.submit(0), return_exceptions=True)
        after = await batcher.submit(5)
        await batcher.stop()
        return failed, after

    failed, after = run(scenario())
    assert isinstance(failed[0], RuntimeError)
    assert after == 5


def test_arguments_are_checked_early():
    with pytest.raises(ValueError, match="max_size"):
        MicroBatcher(lambda xs: xs, max_size=0, max_wait_s=0.0)
