"""Event contracts: round trips for every type and clear rejection of malformed input."""

from __future__ import annotations

import math
import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftline.errors import ContractError
from driftline.events import (
    EVENT_TYPES,
    DeadLetter,
    DriftEvent,
    FeatureStatistic,
    LabeledEvent,
    LabelEvent,
    ModelUpdateEvent,
    OffsetRange,
    PredictionEvent,
    TransactionEvent,
    decode,
    decode_many,
    encode,
    encode_labeled,
    encode_predictions,
    from_mapping,
)

times = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
ids = st.text(min_size=1, max_size=40)
finite = st.floats(allow_nan=False, allow_infinity=False)
feature_values = st.one_of(finite, st.text(max_size=20), st.none())
features = st.dictionaries(st.text(min_size=1, max_size=30), feature_values, max_size=12)
probabilities = st.floats(min_value=0, max_value=1)

predictions = st.builds(
    PredictionEvent,
    prediction_id=ids,
    event_time=times,
    model_name=ids,
    model_version=ids,
    features=features,
    score=probabilities,
    decision=st.sampled_from(["LOW", "MEDIUM", "HIGH"]),
    entity_id=st.none() | ids,
)
labels = st.builds(LabelEvent, prediction_id=ids, event_time=times, label=st.integers(0, 1))
statistics = st.builds(
    FeatureStatistic,
    feature=ids,
    statistic=st.sampled_from(["psi", "ks", "wasserstein", "chi2", "js"]),
    value=finite,
    threshold=finite,
    drifted=st.booleans(),
)
offset_ranges = st.builds(
    OffsetRange,
    topic=ids,
    partition=st.integers(0, 100),
    first_offset=st.integers(0, 2**40),
    last_offset=st.integers(0, 2**40),
)
any_event = st.one_of(
    st.builds(TransactionEvent, entity_id=ids, event_time=times, features=features),
    predictions,
    labels,
    st.builds(LabeledEvent.join, predictions, labels),
    st.builds(
        DriftEvent,
        event_id=ids,
        event_time=times,
        model_name=ids,
        model_version=ids,
        kind=st.sampled_from(["covariate", "prediction", "performance", "concept", "dataset"]),
        severity=st.sampled_from(["low", "medium", "high"]),
        window_start=times,
        window_end=times,
        statistics=st.lists(statistics, max_size=5),
        evidence=st.lists(offset_ranges, max_size=3),
    ),
    st.builds(ModelUpdateEvent, model_name=ids, version=ids, event_time=times),
    st.builds(
        DeadLetter,
        event_time=times,
        source_topic=ids,
        value=st.none() | st.binary(max_size=64),
        raw_key=st.none() | st.binary(max_size=16),
        error=st.text(max_size=50),
    ),
)


@given(any_event)
def test_every_event_round_trips(event):
    data = encode(event)
    assert decode(type(event), data) == event
    assert event.schema_version == (2 if isinstance(event, DeadLetter) else 1)
    assert isinstance(event.key, bytes) and event.key


@given(st.lists(predictions, max_size=20))
def test_batches_decode_in_one_call(batch):
    assert decode_many(PredictionEvent, msgspec.json.encode(batch)) == batch


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_escape_as_anything_but_contract_error(data):
    for cls in EVENT_TYPES.values():
        try:
            decode(cls, data)
        except ContractError as exc:
            assert exc.event_type == cls.__name__
            assert exc.reason


@given(predictions, st.sampled_from(["score", "event_time", "model_version", "features"]))
def test_a_wrong_type_is_named(prediction, field):
    raw = msgspec.to_builtins(prediction)
    raw[field] = [1, 2]
    with pytest.raises(ContractError) as info:
        decode(PredictionEvent, msgspec.json.encode(raw))
    assert info.value.field == field


@given(predictions, st.sampled_from(["prediction_id", "model_name", "score", "event_time"]))
def test_a_missing_field_is_named(prediction, field):
    raw = msgspec.to_builtins(prediction)
    del raw[field]
    with pytest.raises(ContractError) as info:
        decode(PredictionEvent, msgspec.json.encode(raw))
    assert info.value.field == field
    assert "missing" in info.value.reason


def test_a_bad_feature_value_names_the_feature():
    raw = {
        "prediction_id": "p", "event_time": 1.0, "model_name": "m", "model_version": "1",
        "features": {"loan_amount": 1.0, "channel": {"nested": True}}, "score": 0.5,
        "decision": "LOW",
    }
    with pytest.raises(ContractError) as info:
        from_mapping(PredictionEvent, raw)
    assert info.value.field == "features.channel"


@pytest.mark.parametrize("score", [-0.1, 1.5])
def test_score_outside_unit_interval_is_rejected(score):
    raw = {"prediction_id": "p", "event_time": 1.0, "model_name": "m", "model_version": "1",
           "features": {}, "score": score, "decision": "LOW"}
    with pytest.raises(ContractError) as info:
        from_mapping(PredictionEvent, raw)
    assert info.value.field == "score"


def test_nan_cannot_be_encoded_as_a_number():
    # JSON has no NaN: msgspec writes null, which the float field then rejects on decode,
    # so a NaN score can never travel silently.
    event = PredictionEvent(prediction_id="p", event_time=1.0, model_name="m", model_version="1",
                            features={}, score=math.nan, decision="LOW")
    with pytest.raises(ContractError) as info:
        decode(PredictionEvent, encode(event))
    assert info.value.field == "score"


def test_truncated_json_is_a_contract_error_without_field():
    with pytest.raises(ContractError) as info:
        decode(LabelEvent, b'{"prediction_id": "p"')
    assert info.value.field == ""
    assert "truncated" in info.value.reason


def test_labeled_event_joins_prediction_and_label():
    prediction = PredictionEvent(prediction_id="p", event_time=100.0, model_name="m",
                                 model_version="2", features={"x": 1.0}, score=0.3, decision="LOW")
    joined = LabeledEvent.join(prediction, LabelEvent(prediction_id="p", event_time=160.0, label=1))
    assert (joined.event_time, joined.label, joined.label_time, joined.delay_seconds) == (
        100.0, 1, 160.0, 60.0)
    assert joined.key == b"p"


def test_event_types_map_to_their_topics():
    assert sorted(EVENT_TYPES) == sorted(
        ["transactions", "predictions", "labels", "labeled", "drift-events", "model-updates",
         "data-validation", "retrainer-state", "dead-letter"]
    )


def _one_by_one(name, version, ids, at, rows, scores, decisions, entities):
    """Keys and values as encode() gives them, one PredictionEvent per row."""
    times = at if isinstance(at, list) else [at] * len(ids)
    events = [
        PredictionEvent(prediction_id=i, event_time=t, model_name=name, model_version=version,
                        features=f, score=p, decision=d, entity_id=e)
        for i, t, f, p, d, e in zip(ids, times, rows, scores, decisions, entities, strict=True)
    ]
    return [e.key for e in events], [encode(e) for e in events]


def _batch(name, version, ids, at, rows, scores, decisions, entities):
    return encode_predictions(
        model_name=name, model_version=version, prediction_ids=ids, event_times=at,
        features=rows, scores=scores, decisions=decisions, entity_ids=entities,
    )


# Strings a hand-made JSON envelope could get wrong: quotes, backslashes, control characters,
# the separators of the encoded envelope, non-ASCII, astral and line-separator characters.
AWKWARD = ['a"b', "back\\slash", "tab\tnew\nline\r", "\x00\x1f\x7f", '","', "},{", "]",
           "é", "日本語", "emoji \U0001F600", "\u2028\u2029", "</script>", "", " "]

EDGE_FLOATS = [0.0, -0.0, 1.0, 1e-7, 1e22, 123456789.125, 5e-324, 1.7976931348623157e308]


def _awkward_rows(count: int, rng: random.Random) -> list:
    def value():
        kind = rng.randrange(4)
        if kind == 0:
            return None
        if kind == 1:
            return rng.choice(AWKWARD)
        if kind == 2:
            return rng.choice(EDGE_FLOATS)
        return rng.uniform(-1e9, 1e9)

    return [{rng.choice(AWKWARD) + str(j): value() for j in range(rng.randrange(9))}
            for _ in range(count)]


@pytest.mark.parametrize("shared_time", [True, False], ids=["one-time", "time-per-row"])
def test_batch_encoding_is_byte_for_byte_that_of_each_event(shared_time):
    rng = random.Random(7)
    count = 2000
    ids = [rng.choice(AWKWARD) + f"-{i}" if i % 5 == 0 else f"{i:032x}" for i in range(count)]
    at = 1700000000.123456 if shared_time else [rng.uniform(0, 4e9) for _ in range(count)]
    rows = _awkward_rows(count, rng)
    scores = [rng.choice([0.0, 1.0, rng.random(), 1e-9]) for _ in range(count)]
    decisions = [rng.choice(["LOW", "MEDIUM", "HIGH"]) for _ in range(count)]
    entities = [rng.choice([None, None, *AWKWARD]) for _ in range(count)]
    for name, version in [("credit-risk", "12"), ('m"\\ü', "v 1,2")]:
        args = (name, version, ids, at, rows, scores, decisions, entities)
        keys, values = _batch(*args)
        assert (keys, values) == _one_by_one(*args)
        assert [decode(PredictionEvent, v).features for v in values[:50]] == rows[:50]


@given(ids, ids, times, st.lists(st.tuples(ids, times, features, probabilities,
                                           st.sampled_from(["LOW", "HIGH"]), st.none() | ids),
                                 max_size=20))
def test_batch_encoding_matches_each_event_for_any_values(name, version, shared, rows):
    ids_, times_, features_, scores, decisions, entities = (
        [row[k] for row in rows] for k in range(6)
    )
    for at in (shared, times_):
        args = (name, version, ids_, at, features_, scores, decisions, entities)
        assert _batch(*args) == _one_by_one(*args)


def test_batch_encoding_refuses_columns_of_different_lengths():
    with pytest.raises(ValueError, match="one value per row"):
        _batch("m", "1", ["a", "b"], 1.0, [{}, {}], [0.1], ["LOW", "LOW"], [None, None])


def test_encode_labeled_embeds_the_prediction_as_read():
    p = PredictionEvent(prediction_id="p-1", event_time=10.5, model_name="m", model_version="2",
                        features={"a": 1.25, "c": "ü \"q\"", "n": None}, score=0.3,
                        decision="LOW", entity_id="e")
    labeled = LabeledEvent.join(p, LabelEvent(prediction_id="p-1", event_time=70.0, label=1))
    assert encode_labeled(labeled, encode(p)) == encode(labeled) == encode_labeled(labeled)
    # JSON as another writer spaced and ordered it: the same event once decoded
    as_read = b'{"score": 0.3, "decision": "LOW", "prediction_id": "p-1", "event_time": 10.5,' \
              b' "model_name": "m", "model_version": "2", "entity_id": "e",' \
              b' "features": {"n": null, "c": "\\u00fc \\"q\\"", "a": 1.25}}'
    assert decode(LabeledEvent, encode_labeled(labeled, as_read)) == labeled
