"""The anchor of ``bench_scorer.py``: the scorer every FastAPI + scikit-learn tutorial writes.

A pydantic model of the loan application, a plain ``def`` endpoint (FastAPI runs it in its
thread pool), one ``predict_proba`` call on one row per request (``[[...]]``, the form the
pipeline was fitted on), no Kafka. It serves
the *same* fitted pipeline as driftline (the champion, exported to ``BASELINE_MODEL``), so the
two pydantic fields beyond the five loan numbers are the categoricals that pipeline needs and
the ratio measures the serving, not the model.

    BASELINE_MODEL=model.skops uvicorn bench._baseline_scorer:app --port 8100
"""

from __future__ import annotations

import os

import numpy as np
import skops.io
from fastapi import FastAPI
from pydantic import BaseModel

__all__ = ["app"]

_path = os.environ["BASELINE_MODEL"]
model = skops.io.load(_path, trusted=skops.io.get_untrusted_types(file=_path))
app = FastAPI(title="tutorial scorer")


class LoanApplication(BaseModel):
    annual_income: float
    loan_amount: float
    employment_years: float
    existing_debt_ratio: float
    credit_history_months: float
    channel: str
    city_tier: str


@app.post("/predict")
def predict(application: LoanApplication) -> dict[str, float | str]:
    row = np.array([list(application.model_dump().values())], dtype=object)
    probability = float(model.predict_proba(row)[0, 1])
    tier = "HIGH" if probability > 0.35 else "MEDIUM" if probability > 0.15 else "LOW"
    return {"default_probability": probability, "risk_tier": tier}
