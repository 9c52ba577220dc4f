r"""The feature file: the inputs a registered model's requests may carry, declared by a
person (``driftline models register --features``). TOML in, a validated
:class:`FeatureFile` out.

A ``[numeric.<name>]`` table per number input gives its valid range (the scorer answers a
request outside it with a 422 naming the field; the retrainer's data checks count a training
row outside it as invalid); a ``[categorical.<name>]`` table per text input lists its known
categories (a request may still carry another: an unseen category is drift for the monitor
to see, not an invalid request). Every input of the model is declared, each as the kind its
column is: with all of them the retrainer can fit its default pipeline for the model.

.. code-block:: toml

    [numeric.annual_income]
    minimum = 0
    maximum = 1e9
    unit = "INR"                 # optional, as is description
    description = "gross annual income"

    [categorical.channel]
    categories = ["web", "mobile", "branch", "partner"]

>>> file = parse_feature_file('''
... [numeric.income]
... minimum = 0
... maximum = 1e6
... [categorical.channel]
... categories = ["web", "branch"]
... ''')
>>> schema = file.schema([("channel", "str"), ("income", "float")], target="defaulted")
>>> schema.names, schema.numeric[0].maximum, schema.target
(['income', 'channel'], 1000000.0, 'defaulted')
>>> try:
...     parse_feature_file('[numeric.income]\nminimum = 5\nmaximum = 1', source="f.toml")
... except ConfigurationError as exc:
...     print(exc)
f.toml: numeric.income: minimum (5.0) must be below maximum (1.0)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftline.errors import ConfigurationError
from driftline.features import CategoricalFeature, FeatureSchema, NumericFeature
from driftline.toml_file import load_toml, parse_toml

__all__ = ["FeatureFile", "draft", "load_feature_file", "parse_feature_file"]

_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Text = Annotated[str, Field(max_length=500)]
_Category = Annotated[str, Field(min_length=1, max_length=64)]  # as a request's text field
_NUMBER_KINDS = ("float", "int", "bool")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericInput(_Strict):
    """A number input's valid range (both ends included)."""

    minimum: _Finite
    maximum: _Finite
    description: _Text = ""
    unit: Annotated[str, Field(max_length=40)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> NumericInput:
        if not self.minimum < self.maximum:
            raise ValueError(f"minimum ({self.minimum}) must be below maximum ({self.maximum})")
        return self


class CategoricalInput(_Strict):
    """A text input's known categories."""

    categories: Annotated[list[_Category], Field(min_length=1, max_length=10_000)]
    description: _Text = ""

    @model_validator(mode="after")
    def _distinct(self) -> CategoricalInput:
        seen: set[str] = set()
        twice = sorted({c for c in self.categories if c in seen or seen.add(c)})
        if twice:
            raise ValueError(f"categories listed twice: {', '.join(twice)}")
        return self


class FeatureFile(_Strict):
    """A whole feature file."""

    numeric: dict[str, NumericInput] = {}
    categorical: dict[str, CategoricalInput] = {}

    @model_validator(mode="after")
    def _declared_once(self) -> FeatureFile:
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise ValueError(f"declared both numeric and categorical: {', '.join(both)}")
        if not self.numeric and not self.categorical:
            raise ValueError("no input declared: add a [numeric.<name>] or "
                             "[categorical.<name>] table per input of the model")
        return self

    def schema(self, inputs: Sequence[tuple[str, str]], *, target: str) -> FeatureSchema:
        """The model's :class:`FeatureSchema`, its features in the order of ``inputs`` (the
        model's ``(name, kind)`` columns: numbers, booleans, text), numeric first;
        ConfigurationError naming every input not declared, declared as the other kind, or
        declared but not an input."""
        problems: list[str] = []
        names = {name for name, _ in inputs}
        for name, kind in inputs:
            number = kind in _NUMBER_KINDS
            if name not in self.numeric and name not in self.categorical:
                problems.append(f"{name}: an input of the model ({kind}) is not declared; add "
                                f"[{'numeric' if number else 'categorical'}.{name}]")
            elif number and name in self.categorical:
                problems.append(f"{name}: declared categorical, but the model's column holds "
                                f"numbers ({kind}); declare it under [numeric.{name}]")
            elif not number and name in self.numeric:
                problems.append(f"{name}: declared numeric, but the model's column holds text; "
                                f"declare it under [categorical.{name}]")
        for name in sorted((set(self.numeric) | set(self.categorical)) - names):
            problems.append(f"{name}: declared, but not an input of the model (inputs: "
                            f"{', '.join(n for n, _ in inputs)})")
        if problems:
            raise ConfigurationError("the feature file does not fit the model:\n  "
                                     + "\n  ".join(problems))
        return FeatureSchema(
            numeric=tuple(NumericFeature(n, self.numeric[n].minimum, self.numeric[n].maximum,
                                         self.numeric[n].description, self.numeric[n].unit)
                          for n, _ in inputs if n in self.numeric),
            categorical=tuple(CategoricalFeature(n, tuple(self.categorical[n].categories),
                                                 self.categorical[n].description)
                              for n, _ in inputs if n in self.categorical),
            target=target,
        )


def parse_feature_file(text: str, *, source: str = "feature file") -> FeatureFile:
    """Parse and validate a feature file's text; ConfigurationError names each key at fault
    as ``<source>: <dotted path>: <what is wrong>``."""
    return parse_toml(text, FeatureFile, source=source)


def load_feature_file(path: Path | str) -> FeatureFile:
    """Read, parse and validate the feature file at ``path``."""
    return load_toml(path, FeatureFile, what="feature file")


def draft(numeric: Sequence[tuple[str, float, float]],
          categorical: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A first feature file from what reference data holds: each number's smallest and
    largest value (NaN: none), each text input's categories. A draft to correct: the valid
    range of an input is a fact about the world, not about a sample of it.

    >>> text = draft([("income", 1200.0, 98000.5), ("mean radius", 1.0, 1.0)],
    ...              [("channel", ["web", "branch"])])
    >>> print(text)  # doctest: +ELLIPSIS
    # A draft from reference data: set each range to the values a valid request may carry
    ...
    [numeric.income]
    minimum = 1200.0  # the reference's smallest value
    maximum = 98000.5  # the reference's largest value
    <BLANKLINE>
    [numeric."mean radius"]
    minimum = 1.0  # the reference's smallest value
    maximum = 2.0  # the reference holds one value only
    <BLANKLINE>
    [categorical.channel]
    categories = ["web", "branch"]
    <BLANKLINE>
    >>> parse_feature_file(text).numeric["mean radius"].maximum
    2.0
    """
    lines = ["# A draft from reference data: set each range to the values a valid request may "
             "carry", "# (the scorer refuses numbers outside it) and list every known category."
             " See docs/scoring.md.", ""]
    for name, low, high in numeric:
        lines.append(f"[numeric.{_key(name)}]")
        if not (math.isfinite(low) and math.isfinite(high)):
            lines += ["minimum = 0.0  # the reference holds no value: set the range",
                      "maximum = 1.0"]
        else:
            lines.append(f"minimum = {float(low)!r}  # the reference's smallest value")
            lines.append(f"maximum = {float(high)!r}  # the reference's largest value"
                         if high > low else
                         f"maximum = {float(low) + 1.0!r}  # the reference holds one value only")
        lines.append("")
    for name, categories in categorical:
        lines += [f"[categorical.{_key(name)}]",
                  f"categories = [{', '.join(json.dumps(str(c)) for c in categories)}]", ""]
    return "\n".join(lines)


def _key(name: str) -> str:
    """``name`` as a TOML key: bare where it can be, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)
