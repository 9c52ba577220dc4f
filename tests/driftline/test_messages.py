"""Reading one part of every message of a batch."""

from __future__ import annotations

from confluent_kafka import Message

from driftline.kafka.messages import each


class _StandIn:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def offset(self) -> int:
        return self._offset


def test_each_reads_confluent_messages_and_stand_ins_alike():
    real = [Message(topic="t", partition=2, offset=5, key=b"k", value=b"v"),
            Message(topic="u", partition=3, offset=6)]
    assert each("topic", real) == ["t", "u"]
    assert each("partition", real) == [2, 3]
    assert each("key", real) == [b"k", None]
    assert each("value", real) == [b"v", None]
    assert each("error", real) == [None, None]
    assert each("offset", [_StandIn(1), _StandIn(4)]) == [1, 4]
    assert each("offset", [real[0], _StandIn(9)]) == [5, 9]
