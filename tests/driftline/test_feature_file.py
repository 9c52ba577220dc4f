"""The feature file: parsing, and fitting it to a model's inputs and reference data."""

from __future__ import annotations

import pandas as pd
import pytest

from driftline.errors import ConfigurationError
from driftline.feature_file import load_feature_file, parse_feature_file
from driftline.model.adopt import (
    AdoptionError,
    Reference,
    check_reference_fits,
    draft_feature_file,
)

FILE = """
[numeric.income]
minimum = 0
maximum = 1e6
unit = "EUR"
[numeric.active]
minimum = 0
maximum = 1
[categorical.channel]
categories = ["web", "branch"]
description = "where it came in"
"""
INPUTS = [("channel", "str"), ("income", "float"), ("active", "bool")]


def _problems(text: str, inputs=INPUTS) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_feature_file(text, source="f.toml").schema(inputs, target="y")
    return str(caught.value)


def test_the_schema_takes_the_models_order_numeric_first_with_every_field():
    schema = parse_feature_file(FILE).schema(INPUTS, target="y")
    assert schema.numeric_names == ["income", "active"]
    assert schema.categorical_names == ["channel"]
    income, channel = schema.numeric[0], schema.categorical[0]
    assert (income.minimum, income.maximum, income.unit) == (0.0, 1e6, "EUR")
    assert channel.categories == ("web", "branch") and channel.description == "where it came in"


@pytest.mark.parametrize(("text", "expected"), [
    ("[numeric.x]\nminimum = 0\nmaximun = 1", "f.toml: numeric.x.maximun: unknown key; did "
     "you mean maximum?"),
    ("[numeric.x]\nminimum = 0", "f.toml: numeric.x.maximum: Field required"),
    ("[numeric.x]\nminimum = 0\nmaximum = inf", "numeric.x.maximum: Input should be a finite "
     "number"),
    ("[numeric.x]\nminimum = 1\nmaximum = 1", "numeric.x: minimum (1.0) must be below maximum"),
    ("[categorical.c]\ncategories = []", "categorical.c.categories: List should have at least "
     "1 item"),
    ("[categorical.c]\ncategories = ['a', 'b', 'a']", "categorical.c: categories listed "
     "twice: a"),
    ("[categorical.c]\ncategories = ['']", "categorical.c.categories.0: String should have at "
     "least 1 character"),
    ("[numerical.x]\nminimum = 0", "numerical: unknown key; did you mean numeric?"),
    ("", "no input declared"),
    ("[numeric.x\n", "f.toml: not valid TOML"),
    ("[numeric.c]\nminimum = 0\nmaximum = 1\n[categorical.c]\ncategories = ['a']",
     "declared both numeric and categorical: c"),
])
def test_a_bad_file_is_refused_naming_the_key_at_fault(text, expected):
    with pytest.raises(ConfigurationError, match=r"f\.toml") as caught:
        parse_feature_file(text, source="f.toml")
    assert expected in str(caught.value)


def test_every_input_must_be_declared_as_its_kind_and_nothing_else():
    message = _problems("""
[numeric.channel]
minimum = 0
maximum = 1
[categorical.active]
categories = ["yes"]
[numeric.tenure]
minimum = 0
maximum = 1
""")
    assert "channel: declared numeric, but the model's column holds text" in message
    assert "active: declared categorical, but the model's column holds numbers (bool)" in message
    assert "income: an input of the model (float) is not declared; add [numeric.income]" in message
    assert "tenure: declared, but not an input of the model" in message


def test_a_feature_file_that_cannot_be_read_says_so(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot read the feature file"):
        load_feature_file(tmp_path / "absent.toml")


def test_reference_data_outside_a_range_or_with_unlisted_categories_is_refused_naming_them():
    schema = parse_feature_file(FILE).schema(INPUTS, target="y")
    fits = pd.DataFrame({"channel": ["web", "branch", None], "income": [0.0, 1e6, None],
                         "active": [True, False, True]})
    check_reference_fits(schema, Reference(features=fits))  # both ends included; gaps skipped
    off = fits.assign(income=[-5.0, 2e6, 10.0], channel=["web", "kiosk", "app"])
    with pytest.raises(AdoptionError) as caught:
        check_reference_fits(schema, Reference(features=off))
    message = str(caught.value)
    assert "income: 2 of 3 values outside [0, 1e+06] (they span -5 to 2e+06)" in message
    assert "channel: 2 categories not in the feature file's list: 'app', 'kiosk'" in message


def test_a_draft_of_reference_data_lists_ranges_and_categories_most_frequent_first():
    frame = pd.DataFrame({"income": [5.0, None, 1.5], "empty": [None, None, None],
                          "channel": ["web", "branch", "branch"], "active": [True, False, True]})
    text = draft_feature_file(Reference(features=frame.astype({"empty": float})))
    declared = parse_feature_file(text)
    assert (declared.numeric["income"].minimum, declared.numeric["income"].maximum) == (1.5, 5.0)
    assert declared.numeric["active"].maximum == 1.0
    assert "the reference holds no value" in text
    assert declared.categorical["channel"].categories == ["branch", "web"]
