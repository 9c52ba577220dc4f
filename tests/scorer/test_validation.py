"""Request validation built from a model signature: every error names its field."""

from __future__ import annotations

import json

import pytest
from mlflow.models import infer_signature

from driftline.features import CREDIT_RISK
from scorer.schemas import InvalidInputError, build_request_models, columns_from_signature, parse
from tests.scorer.support import APPLICATION

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
