"""From a registry version to a :class:`~driftline.model.served.ServedModel`, warmed up.

The scorer serves what :func:`serve_loaded` returns, and the retrainer's gate scores the
champion and the challenger through it too, so the gate compares what would really be served:
a change here changes both.
"""

from __future__ import annotations

import logging
from typing import Any

from driftline.features import FeatureSchema
from driftline.model.decision import DecisionPolicy, DecisionPolicyError
from driftline.model.registry import LoadedModel
from driftline.model.served import Column, ModelError, ServedModel
from driftline.model.signature import columns_from_signature
from driftline.model.validation import (
    ENTITY_FIELD,
    REQUEST_ID_FIELD,
    build_fast_batch,
    build_request_models,
)

__all__ = ["WarmUpError", "positive_column", "serve_loaded"]

log = logging.getLogger(__name__)


def positive_column(estimator: Any) -> int:
    """The predict_proba column of the positive class (1, True or "1"; else the last)."""
    if not hasattr(estimator, "predict_proba"):
        raise ModelError(
            f"{type(estimator).__name__} has no predict_proba; the scorer serves classifiers"
        )
    classes = list(getattr(estimator, "classes_", []))
    for positive in (1, True, "1"):
        if positive in classes:
            return classes.index(positive)
    return max(len(classes) - 1, 1)


def _warm_row(served: ServedModel) -> dict[str, Any]:
    features = served.features
    mids = {f.name: (f.minimum + f.maximum) / 2 for f in features.numeric} if features else {}
    cats = {f.name: f.categories[0] for f in features.categorical} if features else {}
    blank = {"float": 0.0, "int": 0, "bool": False, "str": ""}
    return {c.name: cats.get(c.name, mids.get(c.name, blank[c.kind])) for c in served.columns}


class WarmUpError(ModelError):
    """A model version failed its warm-up call: it is not served."""


def serve_loaded(loaded: LoadedModel, alias: str, *, max_rows: int) -> ServedModel:
    """Turn a loaded registry version into a ServedModel, warmed up by one model call on a
    plain row; raises :class:`WarmUpError` when that call fails or does not give one
    probability."""
    columns = columns_from_signature(loaded.signature)
    try:
        decision = DecisionPolicy.from_tags(loaded.tags)
    except DecisionPolicyError as exc:
        raise ModelError(f"{loaded.name} version {loaded.version}: {exc}") from None
    features = loaded.features
    row, batch = build_request_models(columns, features, max_rows=max_rows)
    served = ServedModel(
        name=loaded.name,
        version=loaded.version,
        alias=alias,
        estimator=loaded.estimator,
        columns=columns,
        row=row,
        batch=batch,
        positive=positive_column(loaded.estimator),
        extras=tuple(
            f for f in (ENTITY_FIELD, REQUEST_ID_FIELD) if f not in {c.name for c in columns}
        ),
        features=features,
        decision=decision,
        fast_batch=build_fast_batch(columns, features, max_rows=max_rows),
        info={
            "run_id": loaded.run_id,
            "created_at": loaded.created_at,
            "estimator": _describe(loaded.estimator),
            "inputs": [_public_input(c, features) for c in columns],
            "metrics": loaded.metrics,
            "tags": loaded.tags,
            "description": loaded.description,
            "source": loaded.source,
        },
    )
    # the first call pays sklearn's lazy set-up, not a client; and a version that cannot
    # score one plain row is not served at all
    try:
        scores = served.score([_warm_row(served)])
    except Exception as exc:
        raise WarmUpError(
            f"{loaded.name} v{loaded.version} failed its warm-up call: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    score = float(scores[0]) if len(scores) == 1 else float("nan")
    if not 0.0 <= score <= 1.0:  # also NaN
        raise WarmUpError(
            f"{loaded.name} v{loaded.version} failed its warm-up call: it scored one row "
            f"{score!r}, not a probability"
        )
    return served


def _describe(estimator: Any) -> str:
    steps = getattr(estimator, "steps", None)
    if steps:
        return "Pipeline(" + ", ".join(type(s).__name__ for _, s in steps) + ")"
    return type(estimator).__name__


def _public_input(column: Column, features: FeatureSchema | None) -> dict[str, Any]:
    """One input as ``GET /model`` shows it: name, type, whether required and, where the
    version records them, a number's valid range or a text input's known categories.

    >>> from driftline.features import CREDIT_RISK
    >>> _public_input(Column("employment_years", "float"), CREDIT_RISK)
    {'name': 'employment_years', 'type': 'float', 'required': True, 'minimum': 0.0, 'maximum': 60.0}
    >>> _public_input(Column("channel", "str"), None)
    {'name': 'channel', 'type': 'str', 'required': True}
    """
    out: dict[str, Any] = {"name": column.name, "type": column.kind,
                           "required": column.required}
    if features is not None:
        numeric = {f.name: f for f in features.numeric}.get(column.name)
        categorical = {f.name: f for f in features.categorical}.get(column.name)
        if numeric is not None and column.kind in ("float", "int"):
            out.update(minimum=numeric.minimum, maximum=numeric.maximum)
        elif categorical is not None:
            out["categories"] = list(categorical.categories)
    return out
