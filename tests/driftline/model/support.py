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
