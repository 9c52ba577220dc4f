"""A model file is loaded only when every type and function it references is trusted by its
exact name: the default pipeline and histogram gradient boosting are, FunctionTransformer and
numpy functions are not, and nothing in a refused file is built or called."""

from __future__ import annotations

import numpy as np
import pytest
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from driftline.model.trust import (
    DEFAULT_TRUSTED_TYPES,
    UntrustedTypesError,
    check_types,
    file_types,
)
from producers.bootstrap import train_default
from tests.driftline.model.support import hostile_pipeline


def _dumped(model, tmp_path) -> str:
    path = str(tmp_path / "model.skops")
    skops.io.dump(model, path)
    return path


def test_the_default_pipeline_needs_only_the_built_in_types(tmp_path):
    trained = train_default(seed=3, rows=500)
    check_types(file_types(_dumped(trained.model, tmp_path)), [])


def test_a_histogram_gradient_boosting_pipeline_needs_only_the_built_in_types(tmp_path):
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=300), rng.choice(["a", "b"], size=300)]).astype(object)
    y = rng.integers(0, 2, size=300)
    model = Pipeline([
        ("prepare", ColumnTransformer([("n", StandardScaler(), [0]),
                                       ("c", OneHotEncoder(sparse_output=False), [1])])),
        ("classify", HistGradientBoostingClassifier(max_iter=5)),
    ]).fit(x, y)
    types = file_types(_dumped(model, tmp_path))
    assert "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor" in types
    check_types(types, [])


def test_a_function_transformer_over_numpy_functions_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    trained = train_default(seed=3, rows=500)
    path = _dumped(hostile_pipeline(str(marker), trained.model), tmp_path)
    with pytest.raises(UntrustedTypesError) as refused:
        check_types(file_types(path), [])
    assert "numpy.testing._private.utils.runstring" in refused.value.types
    assert "numpy.full_like" in refused.value.types
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" in (
        refused.value.types)
    assert "runstring" in str(refused.value)
    assert not marker.exists()


def test_a_function_transformer_is_not_trusted_by_default_even_over_a_plain_function(
        tmp_path):
    path = _dumped(FunctionTransformer(np.log1p), tmp_path)
    with pytest.raises(UntrustedTypesError, match="FunctionTransformer"):
        check_types(file_types(path), [])
    check_types(file_types(path), ["numpy.log1p",
                                   "sklearn.preprocessing._function_transformer.FunctionTransformer"])


def test_no_prefix_or_function_is_trusted_by_default():
    assert all(not name.endswith(".") for name in DEFAULT_TRUSTED_TYPES)
    with pytest.raises(UntrustedTypesError):
        check_types(["numpy.save"], [])
    with pytest.raises(UntrustedTypesError):
        check_types(["builtins.eval"], ["builtins.exec"])
