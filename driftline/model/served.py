"""The served model: one loaded version with what validating and scoring a request need.

A :class:`ServedModel` is immutable: the scorer's hot swap replaces the whole snapshot, so a
request validated against one version is also scored by it. The retrainer's gate scores the
champion and the challenger through the same class (built by
:func:`driftline.model.serving.serve_loaded`), so the gate judges what would be served.

>>> m = ServedModel(name="m", version="1", alias="a", estimator=object(),
...                 columns=(Column("x", "float"), Column("c", "str")),
...                 row=None, batch=None, positive=1)  # type: ignore[arg-type]
>>> m.frame([{"x": 1.5, "c": "a"}]).tolist()
[[1.5, 'a']]
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from driftline.errors import DriftlineError
from driftline.features import FeatureSchema
from driftline.model.decision import DecisionPolicy

__all__ = ["Column", "ModelError", "ServedModel"]


class ModelError(DriftlineError):
    """A registered model cannot be served (no predict_proba, unsupported input types...)."""


@dataclass(frozen=True)
class Column:
    """One model input: its name, Python type for validation and numpy dtype for scoring."""

    name: str
    kind: str  # "float" | "int" | "bool" | "str"
    required: bool = True

    @property
    def dtype(self) -> Any:
        return {"float": np.float64, "int": np.int64, "bool": np.bool_}.get(self.kind, object)


@dataclass(frozen=True, eq=False)
class ServedModel:
    """One loaded model version with everything needed to validate and score requests.

    ``row`` and ``batch`` are pydantic validators built from the signature (see
    :mod:`driftline.model.validation`), yielding plain dicts; ``fast_batch``, when set, parses
    the batch bodies it accepts to the same rows, quicker (None for the others: ``batch``
    decides); ``positive`` is the predict_proba column of the positive class; ``extras`` the
    optional request fields that are not model inputs; ``decision`` the score's name and
    tiers recorded with the version (None: the scorer's credit-risk thresholds apply).
    """

    name: str
    version: str
    alias: str
    estimator: Any
    columns: tuple[Column, ...]
    row: TypeAdapter[Any]
    batch: TypeAdapter[Any]
    positive: int
    extras: tuple[str, ...] = ()
    features: FeatureSchema | None = None
    decision: DecisionPolicy | None = None
    info: dict[str, Any] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)
    fast_batch: Callable[[bytes], list[dict[str, Any]] | None] | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def by_name(self) -> bool:
        """True when the estimator was fitted on a DataFrame (it knows its feature names)."""
        return hasattr(self.estimator, "feature_names_in_")

    def frame(self, rows: Sequence[dict[str, Any]]) -> Any:
        """The model input for validated rows, columns in signature order.

        An estimator fitted on a DataFrame gets a DataFrame with its column names and dtypes;
        one fitted on an array gets a 2-D array (object dtype when columns mix types), which
        skips pandas indexing inside scikit-learn, the larger part of a small batch's cost.
        """
        if self.by_name:
            import pandas as pd

            data = {
                c.name: np.array([r.get(c.name) for r in rows], dtype=c.dtype) for c in self.columns
            }
            return pd.DataFrame(data, copy=False)
        dtypes = {c.dtype for c in self.columns}
        dtype = dtypes.pop() if len(dtypes) == 1 else object
        # Column by column, each filled in C by one map over the rows, rather than a tuple per
        # row: cheaper for large batches, slightly dearer for a single row.
        out = np.empty((len(rows), len(self.columns)), dtype=dtype)
        for j, c in enumerate(self.columns):
            take = (
                operator.itemgetter(c.name) if c.required else operator.methodcaller("get", c.name)
            )
            out[:, j] = np.fromiter(map(take, rows), dtype=object, count=len(rows))
        return out

    def score(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Probability of the positive class for each validated row (one model call)."""
        if not rows:
            return np.empty(0)
        return self.estimator.predict_proba(self.frame(rows))[:, self.positive]
