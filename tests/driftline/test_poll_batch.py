"""poll_batch: a batch handed over as soon as one message is there (a fake consumer stands in
for librdkafka's: what is checked is which calls wait)."""

from __future__ import annotations

from driftline.kafka import poll_batch


class _Consumer:
    def __init__(self, queued: list[str]) -> None:
        self.queued = list(queued)
        self.calls: list[tuple] = []

    def poll(self, timeout: float):
        self.calls.append(("poll", timeout))
        return self.queued.pop(0) if self.queued else None

    def consume(self, n: int, timeout: float):
        self.calls.append(("consume", n, timeout))
        taken, self.queued = self.queued[:n], self.queued[n:]
        return taken


def test_only_the_first_message_is_waited_for_the_rest_is_what_is_queued():
    consumer = _Consumer(["a", "b", "c", "d"])
    assert poll_batch(consumer, 3, 0.5) == ["a", "b", "c"]
    assert consumer.calls == [("poll", 0.5), ("consume", 2, 0)]
    assert poll_batch(consumer, 3, 0.5) == ["d"]


def test_nothing_within_the_timeout_gives_an_empty_batch_and_one_message_asks_no_more():
    empty = _Consumer([])
    assert poll_batch(empty, 100, 0.25) == []
    assert empty.calls == [("poll", 0.25)]
    single = _Consumer(["a", "b"])
    assert poll_batch(single, 1, 0.25) == ["a"]
    assert single.calls == [("poll", 0.25)]
