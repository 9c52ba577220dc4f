"""Why driftline's contracts use msgspec: encode and validate-decode a PredictionEvent.

Anchor: pydantic v2 models of the same contract, serialised with orjson (the other choice the
runway issue names). Both validate the same constraints (score in [0, 1], event_time >= 0,
non-empty ids). Prints events/s for each and the ratio msgspec / anchor.

    .venv/bin/python bench/bench_contracts.py
"""

from __future__ import annotations

import statistics
import time
from typing import Annotated

import orjson
from pydantic import BaseModel, Field

from driftline.events import PredictionEvent, decode_many, encode
from driftline.events import decode as decode_event

N = 20_000
ROUNDS = 5


class PydanticPrediction(BaseModel):
    schema_version: int = 1
    event_time: Annotated[float, Field(ge=0)]
    prediction_id: Annotated[str, Field(min_length=1, max_length=256)]
    model_name: Annotated[str, Field(min_length=1, max_length=256)]
    model_version: Annotated[str, Field(min_length=1, max_length=256)]
    features: dict[str, float | str | None]
    score: Annotated[float, Field(ge=0, le=1)]
    decision: str
    entity_id: str | None = None


def _events() -> list[PredictionEvent]:
    return [
        PredictionEvent(
            prediction_id=f"{i:032x}", event_time=1.76e9 + i, model_name="credit-risk",
            model_version="3",
            features={"annual_income": 612000.0 + i, "loan_amount": 250000.0,
                      "employment_years": 4.5, "existing_debt_ratio": 0.31,
                      "credit_history_months": 60.0, "channel": "web", "city_tier": "tier2"},
            score=0.17, decision="MEDIUM", entity_id=f"app-{i}",
        )
        for i in range(N)
    ]


def _best_rate(fn) -> float:
    rates = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        fn()
        rates.append(N / (time.perf_counter() - began))
    return max(rates), statistics.median(rates)


def main() -> None:
    events = _events()
    models = [PydanticPrediction.model_validate(orjson.loads(encode(e))) for e in events]
    payloads = [encode(e) for e in events]
    batch = b"[" + b",".join(payloads) + b"]"

    rows = [
        ("encode", lambda: [encode(e) for e in events],
         lambda: [orjson.dumps(m.model_dump()) for m in models]),
        ("decode + validate", lambda: [decode_event(PredictionEvent, p) for p in payloads],
         lambda: [PydanticPrediction.model_validate_json(p) for p in payloads]),
        ("decode + validate (orjson parse)", lambda: [decode_event(PredictionEvent, p)
                                                       for p in payloads],
         lambda: [PydanticPrediction.model_validate(orjson.loads(p)) for p in payloads]),
        ("decode batch of 20k", lambda: decode_many(PredictionEvent, batch),
         lambda: [PydanticPrediction.model_validate(d) for d in orjson.loads(batch)]),
    ]
    print(f"{'operation':36} {'msgspec ev/s':>14} {'pydantic+orjson ev/s':>22} {'ratio':>7}")
    for name, ours, anchor in rows:
        best_ours, _ = _best_rate(ours)
        best_anchor, _ = _best_rate(anchor)
        print(f"{name:36} {best_ours:14,.0f} {best_anchor:22,.0f} {best_ours / best_anchor:6.1f}x")


if __name__ == "__main__":
    main()
