"""Risk tiers and signature handling."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.models import infer_signature

from scorer.schemas import columns_from_signature
from scorer.scoring import ModelError, RiskThresholds


def test_tiers_are_strictly_above_their_thresholds():
    tiers = RiskThresholds(high=0.35, medium=0.15).tiers(np.array([0.15, 0.1500001, 0.35, 0.36]))
    assert tiers.tolist() == ["LOW", "MEDIUM", "MEDIUM", "HIGH"]


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")
def test_signature_types_map_to_request_kinds():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.5], "b": [2], "c": ["x"], "d": [True]})
    columns = columns_from_signature(infer_signature(frame, [0.1]))
    assert [(c.name, c.kind) for c in columns] == [
        ("a", "float"), ("b", "int"), ("c", "str"), ("d", "bool")
    ]


def test_unnamed_tensor_signature_is_refused_with_advice():
    with pytest.raises(ModelError, match="names each column"):
        columns_from_signature(infer_signature(np.zeros((2, 3)), np.zeros(2)))
