"""Request validation built from a served version's inputs.

Rows are validated by pydantic TypedDicts built at load time from the version's columns (see
:mod:`driftline.model.signature`), tightened with the ranges and categories recorded in its
metadata (for the credit-risk model, those of :data:`driftline.features.CREDIT_RISK`). Numbers
must be finite JSON numbers (no strings, no NaN or infinity) and unknown fields are refused, so
every error names the field at fault. :func:`build_fast_batch` parses the usual batch bodies
with msgspec to the same rows, and leaves every other body to pydantic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import UnionType
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

import annotated_types
import msgspec
from pydantic import ConfigDict, Field, Strict, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic.types import AllowInfNan
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from driftline.features import FeatureSchema
from driftline.model.served import Column

__all__ = [
    "ENTITY_FIELD",
    "REQUEST_ID_FIELD",
    "BatchParser",
    "InvalidInputError",
    "build_fast_batch",
    "build_request_models",
    "parse",
]

ENTITY_FIELD = "entity_id"
REQUEST_ID_FIELD = "request_id"  # becomes the prediction_id, so labels can be keyed early


class InvalidInputError(ValueError):
    """A request failed validation; ``errors`` are pydantic's, each naming its field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in errors[:5])
        super().__init__(f"invalid input at: {fields}")


def parse(validator: TypeAdapter[Any], body: bytes) -> Any:
    """Validate JSON bytes; InvalidInputError names each field at fault."""
    try:
        return validator.validate_json(body)
    except ValidationError as exc:
        raise InvalidInputError(
            exc.errors(include_url=False, include_input=False, include_context=False)
        ) from None


def _field_type(column: Column, features: FeatureSchema | None) -> Any:
    numeric = {f.name: f for f in features.numeric} if features else {}
    categorical = {f.name: f for f in features.categorical} if features else {}
    if column.name in categorical:
        # Any category is accepted: a value never seen in training is exactly what drift
        # monitoring must see (the monitor reports the share of unseen categories), and the
        # default pipeline scores it as the baseline (OneHotEncoder(handle_unknown="ignore")).
        return Annotated[str, Field(strict=True, min_length=1, max_length=64)]
    if column.kind == "float":
        limits = numeric.get(column.name)
        bounds = {"ge": limits.minimum, "le": limits.maximum} if limits else {}
        return Annotated[float, Field(strict=True, allow_inf_nan=False, **bounds)]
    if column.kind == "int":
        limits = numeric.get(column.name)
        bounds = {"ge": limits.minimum, "le": limits.maximum} if limits else {}
        return Annotated[int, Field(strict=True, **bounds)]
    if column.kind == "bool":
        return Annotated[bool, Field(strict=True)]
    return Annotated[str, Field(strict=True, min_length=1, max_length=256)]


_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True)


def _row_fields(columns: tuple[Column, ...], features: FeatureSchema | None) -> dict[str, Any]:
    """The type of each field of a request row, in order: the columns, then the optional ids."""
    fields: dict[str, Any] = {}
    for column in columns:
        kind = _field_type(column, features)
        fields[column.name] = kind if column.required else NotRequired[kind | None]
    for extra in (ENTITY_FIELD, REQUEST_ID_FIELD):
        if extra not in fields:  # a model input of the same name wins
            fields[extra] = NotRequired[Annotated[str, Field(min_length=1, max_length=256)]]
    return fields


def build_request_models(
    columns: tuple[Column, ...], features: FeatureSchema | None, *, max_rows: int
) -> tuple[TypeAdapter[Any], TypeAdapter[Any]]:
    """The (row, batch) validators for a model's inputs.

    A row is a TypedDict with one key per column plus optional ``entity_id`` (carried to the
    prediction event) and ``request_id`` (used as its prediction_id instead of a new one); a
    batch is ``{"rows": [row, ...]}`` with at most ``max_rows`` rows. TypedDicts validate into
    plain dicts, the form the features take in the event, without building model instances.

    >>> from driftline.model.served import Column
    >>> row, batch = build_request_models((Column("x", "float"), Column("c", "str")), None,
    ...                                   max_rows=2)
    >>> row.validate_json(b'{"x": 1, "c": "a", "entity_id": "e-1"}')
    {'x': 1.0, 'c': 'a', 'entity_id': 'e-1'}
    >>> from pydantic import ValidationError
    >>> try:
    ...     row.validate_json(b'{"x": NaN, "c": "a", "y": 2}')
    ... except ValidationError as e:
    ...     print([(err["loc"], err["type"]) for err in e.errors()])
    [(('x',), 'finite_number'), (('y',), 'extra_forbidden')]
    """
    row = TypedDict("PredictionRequest", _row_fields(columns, features))  # type: ignore[misc]
    row.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
    # functional form: the class form would resolve `row` and `max_rows` lazily, by name
    batch = TypedDict(  # type: ignore[misc]  # noqa: UP013
        "BatchPredictionRequest",
        {"rows": Annotated[list[row], Field(min_length=1, max_length=max_rows)]},  # type: ignore[valid-type]
    )
    batch.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
    return TypeAdapter(row), TypeAdapter(batch)


BatchParser = Callable[[bytes], list[dict[str, Any]] | None]


class _Unmirrored(Exception):
    """A field constraint the fast batch parser cannot reproduce exactly."""


def _bound(base: type, bound: float, *, upper: bool) -> float:
    # msgspec wants integer bounds for ints; for an int, >= 0.5 is >= 1 and <= 5.5 is <= 5
    if base is not int:
        return bound
    return math.floor(bound) if upper else math.ceil(bound)


def _fast_type(hint: Any) -> tuple[Any, bool]:
    """The msgspec type equivalent to one pydantic field type of :func:`_row_fields`, and
    whether the field is required."""
    required = get_origin(hint) is not NotRequired
    if not required:
        (hint,) = get_args(hint)
    nullable = get_origin(hint) in (Union, UnionType)
    if nullable:
        hint = next(a for a in get_args(hint) if a is not type(None))
    if get_origin(hint) is not Annotated or len(get_args(hint)) != 2:
        raise _Unmirrored(hint)
    base, info = get_args(hint)
    if base not in (float, int, bool, str) or not isinstance(info, FieldInfo):
        raise _Unmirrored(hint)
    meta: dict[str, Any] = {}
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            meta["ge"] = _bound(base, item.ge, upper=False)
        elif isinstance(item, annotated_types.Le):
            meta["le"] = _bound(base, item.le, upper=True)
        elif isinstance(item, annotated_types.MinLen):
            meta["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            meta["max_length"] = item.max_length
        elif isinstance(item, AllowInfNan) and item.allow_inf_nan:
            raise _Unmirrored(item)  # msgspec never decodes NaN or infinity
        elif not isinstance(item, Strict | AllowInfNan):
            # msgspec types are strict; a lax pydantic str too takes only JSON strings
            raise _Unmirrored(item)
    kind: Any = Annotated[base, msgspec.Meta(**meta)] if meta else base
    return (kind | None) if nullable else kind, required


def build_fast_batch(
    columns: tuple[Column, ...], features: FeatureSchema | None, *, max_rows: int
) -> BatchParser | None:
    """A faster parser (msgspec) of ``{"rows": [...]}`` bodies, for those it accepts: their
    rows exactly as the pydantic batch validator of :func:`build_request_models` gives them
    (same values, same key order). It answers None for any body it refuses: let pydantic
    validate that one, to accept it or name its errors. None instead of a parser when a field
    has a constraint it cannot mirror.
    """
    try:
        specs = [(name, *_fast_type(hint)) for name, hint in _row_fields(columns, features).items()]
    except _Unmirrored:
        return None
    # attribute names of our own (column names need not be identifiers), renamed to the keys
    attrs = {f"f{i}": name for i, (name, _, _) in enumerate(specs)}
    row = msgspec.defstruct(
        "FastPredictionRequest",
        [
            (attr, kind) if required else (attr, kind | msgspec.UnsetType, msgspec.UNSET)
            for attr, (_, kind, required) in zip(attrs, specs, strict=True)
        ],
        rename=attrs,
        kw_only=True,
        forbid_unknown_fields=True,
    )
    batch = msgspec.defstruct(
        "FastBatchPredictionRequest",
        [("rows", Annotated[list[row], msgspec.Meta(min_length=1, max_length=max_rows)])],  # type: ignore[valid-type]
        forbid_unknown_fields=True,
    )
    decoder = msgspec.json.Decoder(batch)

    def parse_batch(body: bytes) -> list[dict[str, Any]] | None:
        try:
            # fields left UNSET (optional ones absent) are left out of the dicts, as pydantic does
            return msgspec.to_builtins(decoder.decode(body).rows)  # type: ignore[no-any-return]
        except ValueError:  # msgspec's errors, and UnicodeDecodeError for bytes not UTF-8
            return None

    return parse_batch
