"""Which types a skops model file may hold before driftline loads it.

Loading a skops file builds every object it names, and calling the model calls every function
it names, so a file is loaded only when each type and function it references is on an
explicit list of exact names: :data:`DEFAULT_TRUSTED_TYPES` (what common scikit-learn
pipelines need: the default pipeline, and histogram gradient boosting with its tree
predictors), extended by what a person accepted when the version was registered (the model
version tag :data:`TRUSTED_TYPES_TAG`, a JSON list) and by the process's own setting. There
are no prefixes: ``numpy.`` holds functions that write files or run strings, and
``sklearn.preprocessing.FunctionTransformer`` calls whatever function it is given, so neither
is trusted by default.

>>> check_types(["sklearn.pipeline.Pipeline", "numpy.ndarray"], [])
>>> check_types(["sklearn.pipeline.Pipeline", "numpy.testing._private.utils.runstring"], [])
Traceback (most recent call last):
...
driftline.model.trust.UntrustedTypesError: the model file references types driftline does \
not trust: numpy.testing._private.utils.runstring; if a person checked they are safe, \
register the version with them (driftline.trusted_types) or list them in the trusted-types \
setting
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from driftline.errors import DriftlineError

__all__ = [
    "DEFAULT_TRUSTED_TYPES",
    "TRUSTED_TYPES_TAG",
    "UntrustedTypesError",
    "check_types",
    "file_types",
    "tagged_types",
]

TRUSTED_TYPES_TAG = "driftline.trusted_types"
"""The model version tag holding the exact type names accepted at registration (JSON list)."""

DEFAULT_TRUSTED_TYPES = frozenset({
    # plain values and containers
    "builtins.bool", "builtins.dict", "builtins.float", "builtins.int", "builtins.list",
    "builtins.slice", "builtins.str", "builtins.tuple",
    # numpy arrays, scalars and the random generator estimators keep
    "numpy.ndarray", "numpy.dtype", "numpy.bool_", "numpy.float32", "numpy.float64",
    "numpy.int32", "numpy.int64", "numpy.uint8", "numpy.uint32", "numpy.uint64",
    "numpy.str_", "numpy.random._generator.Generator",
    # scipy sparse matrices (a one-hot encoder's sparse output)
    "scipy.sparse._csr.csr_matrix", "scipy.sparse._csr.csr_array",
    # the default pipeline
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.linear_model._logistic.LogisticRegression",
    # histogram gradient boosting and the types a fitted one holds
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
})
"""Exact names of the types and functions every driftline process trusts."""


class UntrustedTypesError(DriftlineError):
    """A model file references types or functions nobody trusted; ``types`` names them."""

    def __init__(self, types: list[str]) -> None:
        self.types = types
        super().__init__(
            "the model file references types driftline does not trust: "
            f"{', '.join(types)}; if a person checked they are safe, register the version "
            f"with them ({TRUSTED_TYPES_TAG}) or list them in the trusted-types setting"
        )


def _names(node: Any, out: set[str]) -> set[str]:
    """Every ``module.name`` a skops schema node (and the nodes inside it) refers to."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            module, name = item.get("__module__"), item.get("__class__")
            if module is not None or name is not None:
                out.add(f"{module}.{name}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def file_types(path: Path | str) -> list[str]:
    """Every type and function a skops file references, read from its schema without
    building anything (sorted). skops' own default-trusted types are included: driftline
    decides alone."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
    return sorted(_names(schema, set()))


def tagged_types(tags: Mapping[str, str]) -> list[str]:
    """The exact type names a model version's tag accepted at registration ([] without the
    tag); an unreadable tag accepts nothing.

    >>> tagged_types({TRUSTED_TYPES_TAG: '["mypkg.Scaler"]'})
    ['mypkg.Scaler']
    >>> tagged_types({TRUSTED_TYPES_TAG: '{"not": "a list"}'})
    []
    """
    raw = tags.get(TRUSTED_TYPES_TAG)
    if not raw:
        return []
    try:
        names = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(names, list):
        return []
    return [n for n in names if isinstance(n, str)]


def check_types(types: Iterable[str], extra: Iterable[str]) -> None:
    """Raise :class:`UntrustedTypesError` naming every type in ``types`` that is neither in
    :data:`DEFAULT_TRUSTED_TYPES` nor in ``extra`` (exact names)."""
    allowed = DEFAULT_TRUSTED_TYPES | set(extra)
    refused = sorted({t for t in types if t not in allowed})
    if refused:
        raise UntrustedTypesError(refused)
