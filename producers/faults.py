"""Malformed requests on purpose, for the ``data-quality`` scenario.

Half of the damaged requests lose a field, the other half carry a numeric value outside the
range the feature schema allows; both are what a scorer validating against the schema rejects.
Unseen categories are not faults here: ``channel-mix`` sends them as valid requests.

>>> from driftline.features import CREDIT_RISK
>>> rng = np.random.default_rng(4)
>>> row = {"annual_income": 600000.0, "loan_amount": 250000.0, "employment_years": 4.0,
...        "existing_debt_ratio": 0.3, "credit_history_months": 60.0, "channel": "web",
...        "city_tier": "tier1"}
>>> for _ in range(3):
...     bad, reason = corrupt(row, CREDIT_RISK, rng)
...     print(reason, bad.get(reason.split()[-1]))
out-of-range credit_history_months 1441.0
missing existing_debt_ratio None
out-of-range loan_amount 200000001.0
"""

from __future__ import annotations

import numpy as np

from driftline.events import FeatureValue
from driftline.features import FeatureSchema

__all__ = ["corrupt"]


def corrupt(
    features: dict[str, FeatureValue], schema: FeatureSchema, rng: np.random.Generator
) -> tuple[dict[str, FeatureValue], str]:
    """A damaged copy of ``features`` and what was done to it (``"missing <name>"`` or
    ``"out-of-range <name>"``)."""
    damaged = dict(features)
    if not schema.numeric or rng.random() < 0.5:
        names = [n for n in schema.names if n in damaged]
        name = names[int(rng.integers(len(names)))]
        del damaged[name]
        return damaged, f"missing {name}"
    feature = schema.numeric[int(rng.integers(len(schema.numeric)))]
    if rng.random() < 0.5:
        value = feature.minimum - max(1.0, abs(feature.minimum) * 0.5)
    else:
        value = feature.maximum * 2.0 + 1.0
    damaged[feature.name] = float(value)
    return damaged, f"out-of-range {feature.name}"
