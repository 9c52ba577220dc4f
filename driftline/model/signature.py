"""Model inputs read from an MLflow signature: each named column and the JSON kind it takes.

>>> import pandas as pd
>>> from mlflow.models import infer_signature
>>> frame = pd.DataFrame({"amount": [1.5], "channel": ["web"]})
>>> [(c.name, c.kind) for c in columns_from_signature(infer_signature(frame, [0.5]))]
[('amount', 'float'), ('channel', 'str')]
"""

from __future__ import annotations

from typing import Any

from driftline.model.served import Column, ModelError

__all__ = ["columns_from_signature"]

_KINDS = {
    "double": "float",
    "float": "float",
    "long": "int",
    "integer": "int",
    "boolean": "bool",
    "string": "str",
}


def columns_from_signature(signature: Any) -> tuple[Column, ...]:
    """Model inputs from an MLflow signature with named columns (a ColSpec schema)."""
    inputs = signature.inputs
    if not inputs.has_input_names():
        raise ModelError(
            "the model signature has unnamed (tensor) inputs; serve models whose signature "
            "names each column: infer_signature(dataframe, model.predict_proba(dataframe))"
        )
    columns = []
    for spec in inputs.inputs:
        type_name = getattr(spec.type, "name", str(spec.type))
        kind = _KINDS.get(type_name)
        if kind is None:
            raise ModelError(
                f"input column {spec.name!r} has type {type_name}, which the "
                "scorer cannot take from JSON; use double, long, boolean or string"
            )
        columns.append(Column(spec.name, kind, getattr(spec, "required", True)))
    return tuple(columns)
