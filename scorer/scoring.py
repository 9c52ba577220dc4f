"""Pure scoring logic: risk tiers and the served model snapshot.

A :class:`ServedModel` is immutable: the hot swap replaces the whole snapshot, so a request
validated against one version is also scored by it.

>>> t = RiskThresholds(high=0.35, medium=0.15)
>>> t.tiers(np.array([0.05, 0.15, 0.2, 0.35, 0.9])).tolist()
['LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from driftline.errors import DriftlineError
from driftline.features import FeatureSchema

__all__ = ["Column", "ModelError", "RiskThresholds", "ServedModel"]

TIERS = ("LOW", "MEDIUM", "HIGH")


class ModelError(DriftlineError):
    """A registered model cannot be served (no predict_proba, unsupported input types...)."""


@dataclass(frozen=True)
class RiskThresholds:
    """HIGH above ``high``, MEDIUM above ``medium``, else LOW."""

    high: float
    medium: float

    def tiers(self, probabilities: np.ndarray) -> np.ndarray:
        """Tier names for an array of probabilities (strictly above a threshold moves up)."""
        index = (probabilities > self.medium).astype(np.int8) + (probabilities > self.high)
        return np.asarray(TIERS, dtype=object)[index]


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

    ``row`` and ``batch`` are pydantic classes built from the signature (see
    :mod:`scorer.schemas`); ``positive`` is the predict_proba column of the positive class.
    """

    name: str
    version: str
    alias: str
    estimator: Any
    columns: tuple[Column, ...]
    row: type[BaseModel]
    batch: type[BaseModel]
    positive: int
    features: FeatureSchema | None = None
    info: dict[str, Any] = field(default_factory=dict)
    loaded_at: float = field(default_factory=time.time)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def frame(self, rows: Sequence[dict[str, Any]]) -> Any:
        """A pandas DataFrame of validated rows, columns in signature order and dtype."""
        import pandas as pd

        data = {
            c.name: np.fromiter((r[c.name] for r in rows), dtype=c.dtype, count=len(rows))
            if c.dtype is not object
            else np.array([r[c.name] for r in rows], dtype=object)
            for c in self.columns
        }
        return pd.DataFrame(data, copy=False)

    def score(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Probability of the positive class for each validated row (one model call)."""
        if not rows:
            return np.empty(0)
        return self.estimator.predict_proba(self.frame(rows))[:, self.positive]
