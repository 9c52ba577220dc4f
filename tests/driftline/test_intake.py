"""Every message is read alone: a value that is not exactly one valid event is refused with a
reason, whether it is decoded one at a time or in a run, and a run decodes to the same
events as its messages one at a time."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftline.errors import ContractError
from driftline.events import DEAD_LETTER_PREFIX, DeadLetter, LabelEvent, decode, encode
from driftline.intake import MAX_EVENT_BYTES, TimeRange, decode_run, decode_value
from driftline.kafka.deadletter import dead_letter_for

NOW = 1_700_000_000.0
TIMES = TimeRange(floor=946_684_800.0, max_lead=600.0, clock=lambda: NOW)


def _label(i: int, t: float = NOW) -> bytes:
    return encode(LabelEvent(prediction_id=f"p{i}", event_time=t, label=i % 2))


HOSTILE = {
    "tombstone": None,
    "empty": b"",
    "two events": _label(1) + b"," + _label(2),
    "bad utf-8": b'{"prediction_id":"\xff","label":1,"event_time":1700000000.0}',
    "wrong types": b'{"prediction_id":7,"label":"yes","event_time":"now"}',
    "deeply nested": _label(3)[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "over 1 MB": _label(4)[:-1] + b',"pad":"' + b"x" * MAX_EVENT_BYTES + b'"}',
    "not an object": b"[]",
    "milliseconds": _label(5, NOW * 1000),
    "before the floor": _label(6, 3.0),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_value_is_refused_with_a_reason_alone_and_in_a_run(kind):
    raw = HOSTILE[kind]
    with pytest.raises(ContractError) as refused:
        decode_value(LabelEvent, raw, TIMES)
    assert str(refused.value)
    run = [_label(10), raw, _label(11)]
    decoded = decode_run(LabelEvent, run, TIMES)
    assert decoded.bad == 1
    assert isinstance(decoded.items[1], ContractError)
    assert decoded.items[0] == decode(LabelEvent, run[0])
    assert decoded.items[2] == decode(LabelEvent, run[2])


def test_two_halves_that_make_events_only_when_joined_are_both_refused():
    # alone each is malformed; joined with a comma they are two well-formed objects
    first = _label(1) + b',{"prediction_id":"p2","label":1,"event_time":1700000000.0,"x":"}'
    second = b'{"}'
    joined = msgspec.json.decode(b"[" + first + b"," + second + b"]")
    assert len(joined) == 2
    decoded = decode_run(LabelEvent, [first, second], TIMES)
    assert decoded.bad == 2


def test_a_time_in_milliseconds_is_named_as_such():
    with pytest.raises(ContractError, match="looks like milliseconds") as refused:
        decode_value(LabelEvent, _label(1, NOW * 1000), TIMES)
    assert refused.value.field == "event_time"
    with pytest.raises(ContractError, match="looks like microseconds"):
        decode_value(LabelEvent, _label(1, NOW * 1e6), TIMES)


def test_times_within_the_lead_and_after_the_floor_are_accepted():
    assert decode_value(LabelEvent, _label(1, NOW + 599), TIMES).event_time == NOW + 599
    assert decode_value(LabelEvent, _label(1, 946_684_800.0), TIMES).label == 1
    with pytest.raises(ContractError, match="after the latest"):
        decode_value(LabelEvent, _label(1, NOW + 601), TIMES)


@given(st.lists(st.sampled_from(list(HOSTILE)) | st.integers(0, 50), max_size=30))
def test_a_run_decodes_to_its_messages_one_at_a_time(picks):
    raws = [HOSTILE[p] if isinstance(p, str) else _label(p) for p in picks]
    decoded = decode_run(LabelEvent, raws, TIMES)
    alone = []
    for raw in raws:
        try:
            alone.append(decode_value(LabelEvent, raw, TIMES))
        except ContractError as exc:
            alone.append(type(exc))
    assert [type(x) if isinstance(x, ContractError) else x for x in decoded.items] == alone
    assert decoded.bad == sum(x is ContractError for x in alone)


def test_a_dead_letter_keeps_a_bounded_prefix_with_the_length_and_hash():
    value = b"y" * (3 * DEAD_LETTER_PREFIX)
    letter = dead_letter_for(ContractError("LabelEvent", "", "too big"), source_topic="labels",
                             key=b"k" * (2 * DEAD_LETTER_PREFIX), value=value)
    assert letter.value == value[:DEAD_LETTER_PREFIX] and letter.value_truncated
    assert letter.value_size == len(value)
    assert len(letter.value_sha256) == 64
    assert len(letter.raw_key) == DEAD_LETTER_PREFIX
    assert len(encode(letter)) < 4 * DEAD_LETTER_PREFIX
    assert decode(DeadLetter, encode(letter)).schema_version == 2


def test_a_dead_letter_of_a_tombstone_has_no_value_and_no_size():
    letter = dead_letter_for("tombstone", source_topic="model-updates", value=None)
    assert letter.value is None and letter.value_size is None and not letter.value_truncated
