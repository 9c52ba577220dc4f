"""Fixtures for the monitor's pure logic: a reference profile of the loan generator."""

from __future__ import annotations

import pytest

from driftline.features import CREDIT_RISK
from driftline.profile import ReferenceProfile, build_profile
from monitor.worker.metrics import SourceMetrics
from producers.generator import LoanGenerator, default_probability


@pytest.fixture(scope="session")
def loan_profile() -> ReferenceProfile:
    """Profile of 20,000 stable applications, scored by the true default probability."""
    batch = LoanGenerator(seed=11).sample(20_000)
    return build_profile(
        batch.columns, default_probability(batch.columns), numeric=CREDIT_RISK.numeric_names,
        categorical=CREDIT_RISK.categorical_names, labels=batch.labels,
        model_name="credit-risk", model_version="1",
    )


@pytest.fixture(scope="session")
def monitor_metrics() -> SourceMetrics:
    """The source loop's metrics, made once: prometheus_client's registry takes each name once
    per process."""
    return SourceMetrics()
