"""What the model tests share: one valid credit-risk application."""

from __future__ import annotations

from typing import Any

APPLICATION: dict[str, Any] = {
    "annual_income": 850000.0,
    "loan_amount": 250000.0,
    "employment_years": 4.5,
    "existing_debt_ratio": 0.3,
    "credit_history_months": 60.0,
    "channel": "web",
    "city_tier": "tier1",
}


def hostile_pipeline(marker: str, classifier: Any) -> Any:
    """A pipeline that passes for a scikit-learn model made of numpy functions only, and whose
    ``predict_proba`` runs a string of Python that writes ``marker``: FunctionTransformers
    turn any input into that string and hand it to ``numpy.testing``'s ``runstring`` (exec),
    before ``classifier`` is reached."""
    import numpy as np
    from numpy.testing import runstring
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    code = f"open({marker!r}, 'w').write('ran')"
    return Pipeline([
        ("code", FunctionTransformer(np.full_like, kw_args={"fill_value": code,
                                                             "dtype": "object", "shape": ()})),
        ("text", FunctionTransformer(np.str_)),
        ("run", FunctionTransformer(runstring, kw_args={"dict": {}})),
        ("classify", classifier),
    ])
