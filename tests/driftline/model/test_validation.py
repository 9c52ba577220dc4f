"""Request validation built from a model signature: every error names its field."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.models import infer_signature

from driftline.features import CREDIT_RISK
from driftline.model.served import Column
from driftline.model.signature import columns_from_signature
from driftline.model.validation import (
    InvalidInputError,
    build_fast_batch,
    build_request_models,
    parse,
)
from tests.driftline.model.support import APPLICATION

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def models():
    frame = pd.DataFrame([APPLICATION])
    columns = columns_from_signature(infer_signature(frame, [0.5]))
    return build_request_models(columns, CREDIT_RISK, max_rows=3)


def errors_of(model, body: bytes) -> list[tuple[tuple, str]]:
    with pytest.raises(InvalidInputError) as info:
        parse(model, body)
    return [(tuple(e["loc"]), e["type"]) for e in info.value.errors]


def body(**changes) -> bytes:
    values = {**APPLICATION, **changes}
    return json.dumps({k: v for k, v in values.items() if v is not ...}).encode()


def test_a_valid_application_parses_with_optional_ids(models):
    row, _ = models
    parsed = parse(row, body(entity_id="app-1", request_id="r-1"))
    assert parsed == {**APPLICATION, "entity_id": "app-1", "request_id": "r-1"}


@pytest.mark.parametrize(
    ("raw", "field", "kind"),
    [
        (body(loan_amount="250000"), "loan_amount", "float_type"),
        (body(loan_amount=True), "loan_amount", "float_type"),
        (body().replace(b"250000.0", b"NaN"), "loan_amount", "finite_number"),
        (body().replace(b"250000.0", b"Infinity"), "loan_amount", "finite_number"),
        (body().replace(b"250000.0", b"1e999"), "loan_amount", "finite_number"),
        (body(loan_amount=10.0), "loan_amount", "greater_than_equal"),
        (body(employment_years=61.0), "employment_years", "less_than_equal"),
        (body(channel=""), "channel", "string_too_short"),
        (body(channel=3), "channel", "string_type"),
        (body(city_tier=...), "city_tier", "missing"),
        (body(favourite_colour="red"), "favourite_colour", "extra_forbidden"),
    ],
    ids=["string", "bool", "nan", "infinity", "overflow", "below-range", "above-range",
         "empty-category", "number-for-category", "missing", "unknown-field"],
)
def test_invalid_field_is_named(models, raw, field, kind):
    row, _ = models
    assert errors_of(row, raw) == [((field,), kind)]


def test_an_unseen_category_is_accepted_for_the_monitor_to_see(models):
    row, _ = models
    assert row.validate_json(body(channel="agent"))["channel"] == "agent"


def test_batch_errors_name_the_row_and_field(models):
    _, batch = models
    rows = [APPLICATION, {**APPLICATION, "annual_income": -1.0}]
    assert errors_of(batch, json.dumps({"rows": rows}).encode()) == [
        (("rows", 1, "annual_income"), "greater_than_equal")
    ]


def test_batch_over_the_row_limit_is_too_long(models):
    _, batch = models
    assert errors_of(batch, json.dumps({"rows": [APPLICATION] * 4}).encode()) == [
        (("rows",), "too_long")
    ]


def test_unreadable_json_is_reported_not_raised(models):
    row, _ = models
    assert errors_of(row, b"{not json") == [((), "json_invalid")]
    assert errors_of(row, b"[1, 2]") == [((), "dict_type")]


# -- the fast batch parser: it may refuse anything, but what it accepts pydantic must accept
# -- to exactly the same rows (values and key order), so the two can never disagree.

MIXED = (Column("x", "float"), Column("n", "int"), Column("flag", "bool"), Column("a b", "str"),
         Column("maybe", "float", required=False), Column("rows", "str", required=False))


def _validators(columns, features, max_rows=3):
    _, batch = build_request_models(columns, features, max_rows=max_rows)
    fast = build_fast_batch(columns, features, max_rows=max_rows)
    assert fast is not None
    return batch, fast


def assert_agrees(batch, fast, raw: bytes) -> bool:
    """Whether the fast parser accepted ``raw``; if it did, pydantic gives the same rows."""
    rows = fast(raw)
    if rows is None:
        return False
    expected = parse(batch, raw)["rows"]
    assert rows == expected
    assert [list(r) for r in rows] == [list(r) for r in expected]
    assert [[type(v) for v in r.values()] for r in rows] == [
        [type(v) for v in r.values()] for r in expected
    ]
    return True


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**10), st.floats(allow_nan=False, width=64),
    st.floats(-1.0, 2e9), st.text(max_size=3), st.text(min_size=60, max_size=70),
    st.sampled_from(["web", "tier1", "é" * 64, "\U0001F600" * 65, "a\"\\\n"]),
)


def _mutated_rows(template: dict):
    def mutate(row, changes, dropped, extra):
        out = {**row, **changes}
        for name in dropped:
            out.pop(name, None)
        return {**out, **extra}

    keys = st.sampled_from([*template, "entity_id", "request_id"])
    return st.builds(
        mutate,
        st.just(template),
        st.dictionaries(keys, scalars, max_size=3),
        st.lists(keys, max_size=1),
        st.dictionaries(st.sampled_from(["extra", "entity_id", "request_id"]), scalars,
                        max_size=1),
    )


@settings(max_examples=300)
@given(st.lists(_mutated_rows(APPLICATION), min_size=0, max_size=4))
def test_fast_parser_agrees_with_pydantic_on_the_credit_risk_inputs(models_fast, rows):
    batch, fast = models_fast
    assert_agrees(batch, fast, json.dumps({"rows": rows}).encode())


MIXED_ROW = {"x": 1.5, "n": 3, "flag": True, "a b": "s", "maybe": None, "rows": "r"}


@settings(max_examples=300)
@given(st.lists(_mutated_rows(MIXED_ROW), min_size=1, max_size=3))
def test_fast_parser_agrees_with_pydantic_on_every_column_kind(rows):
    batch, fast = _validators(MIXED, None)
    assert_agrees(batch, fast, json.dumps({"rows": rows}).encode())


@pytest.fixture(scope="module")
def models_fast():
    frame = pd.DataFrame([APPLICATION])
    return _validators(columns_from_signature(infer_signature(frame, [0.5])), CREDIT_RISK)


def test_fast_parser_takes_the_usual_batches_and_leaves_the_rest_to_pydantic(models_fast):
    batch, fast = models_fast
    ids = {"entity_id": "e-1", "request_id": "r-1"}
    usual = [APPLICATION, {**APPLICATION, **ids}, {**APPLICATION, "annual_income": 5}]
    assert assert_agrees(batch, fast, json.dumps({"rows": usual}).encode())
    refused = [
        json.dumps({"rows": [APPLICATION] * 4}).encode(),  # too long: pydantic says so (413)
        json.dumps({"rows": []}).encode(),
        json.dumps({"rows": [APPLICATION], "more": 1}).encode(),
        body().replace(b"250000.0", b"NaN"),
        json.dumps({"rows": [APPLICATION]}).encode().replace(b"web", b"w\xffb"),
        b'{"rows": [' + json.dumps(APPLICATION).encode() + b"]} trailing",
    ]
    assert [fast(raw) for raw in refused] == [None] * len(refused)


def test_a_constraint_the_fast_parser_cannot_mirror_leaves_pydantic_alone(monkeypatch):
    from pydantic import Field

    from driftline.model import validation

    patterned = Annotated[str, Field(strict=True, pattern="^a")]
    monkeypatch.setattr(validation, "_field_type", lambda column, features: patterned)
    assert build_fast_batch((Column("c", "str"),), None, max_rows=3) is None
