"""Signature handling and the input a served model hands its estimator."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.models import infer_signature

from driftline.model.served import Column, ModelError
from driftline.model.signature import columns_from_signature


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")
def test_signature_types_map_to_request_kinds():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.5], "b": [2], "c": ["x"], "d": [True]})
    columns = columns_from_signature(infer_signature(frame, [0.1]))
    assert [(c.name, c.kind) for c in columns] == [
        ("a", "float"),
        ("b", "int"),
        ("c", "str"),
        ("d", "bool"),
    ]


def test_unnamed_tensor_signature_is_refused_with_advice():
    with pytest.raises(ModelError, match="names each column"):
        columns_from_signature(infer_signature(np.zeros((2, 3)), np.zeros(2)))


def _fitted(on_frame: bool):
    pd = pytest.importorskip("pandas")
    from driftline.model.pipeline import default_pipeline
    from driftline.model.served import ServedModel
    from driftline.model.validation import build_request_models
    from tests.driftline.model.support import APPLICATION

    frame = pd.DataFrame([APPLICATION, {**APPLICATION, "channel": "mobile", "loan_amount": 9e6}])
    pipeline = default_pipeline()
    if on_frame:  # a model brought by a user, fitted on a DataFrame with named columns
        pipeline.steps[0][1].transformers[0] = (
            "numeric",
            pipeline.steps[0][1].transformers[0][1],
            list(frame.columns[:5]),
        )
        pipeline.steps[0][1].transformers[1] = (
            "categorical",
            pipeline.steps[0][1].transformers[1][1],
            list(frame.columns[5:]),
        )
        pipeline.fit(frame, [0, 1])
    else:
        pipeline.fit(frame.to_numpy(dtype=object), [0, 1])
    columns = columns_from_signature(infer_signature(frame, [0.5, 0.5]))
    row, batch = build_request_models(columns, None, max_rows=10)
    served = ServedModel(
        name="m",
        version="1",
        alias="champion",
        estimator=pipeline,
        columns=columns,
        row=row,
        batch=batch,
        positive=1,
    )
    return served, frame, pipeline


@pytest.mark.parametrize("on_frame", [True, False], ids=["fitted-on-dataframe", "fitted-on-array"])
def test_model_gets_input_in_the_form_it_was_fitted_on(on_frame):
    served, frame, pipeline = _fitted(on_frame)
    assert served.by_name is on_frame
    rows = frame.to_dict("records")
    expected = pipeline.predict_proba(frame if on_frame else frame.to_numpy(dtype=object))[:, 1]
    assert served.score(rows).tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("columns", "rows", "dtype"),
    [
        ((Column("a", "float"), Column("b", "float")),
         [{"a": 1.5, "b": 2.0}, {"a": 0.0, "b": -1.0}], np.float64),
        ((Column("a", "float"), Column("m", "float", required=False)),
         [{"a": 1.5, "m": None}, {"a": 2.5}], np.float64),
        ((Column("a", "float"), Column("n", "int"), Column("f", "bool"), Column("s", "str")),
         [{"a": 1.5, "n": 3, "f": True, "s": "x"}, {"a": 0.5, "n": -2, "f": False, "s": "é"}],
         object),
        ((Column("only", "str"),), [{"only": "x"}, {"only": "y"}], object),
    ],
    ids=["floats", "optional-missing", "mixed", "one-column"],
)
def test_array_input_holds_each_row_in_signature_order(columns, rows, dtype):
    from driftline.model.served import ServedModel

    served = ServedModel(name="m", version="1", alias="a", estimator=object(), columns=columns,
                         row=None, batch=None, positive=1)  # type: ignore[arg-type]
    frame = served.frame(rows)
    expected = np.array([[r.get(c.name) for c in columns] for r in rows], dtype=dtype)
    assert frame.dtype == expected.dtype and frame.shape == (len(rows), len(columns))
    assert [[repr(v) for v in row] for row in frame.tolist()] == [
        [repr(v) for v in row] for row in expected.tolist()
    ]
