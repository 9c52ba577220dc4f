"""JSON Schema of every event, and one example message each: the contract for services not
written in Python.

The schemas are generated from the msgspec structs of :mod:`driftline.events` (the structs are
the one definition); ``driftline schema export`` writes them, one file per event, and the
copies under ``docs/schemas/`` are held to the export by a test.

>>> schema = event_schema(LabelEvent)
>>> schema["title"], schema["required"]
('LabelEvent', ['event_time', 'prediction_id', 'label'])
>>> sorted(schema_files())[:2]
['DataValidationEvent.example.json', 'DataValidationEvent.schema.json']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from driftline.events import (
    EVENT_TYPES,
    DataCheck,
    DataValidationEvent,
    DeadLetter,
    DriftEvent,
    Driver,
    Event,
    FeatureStatistic,
    LabeledEvent,
    LabelEvent,
    ModelUpdateEvent,
    OffsetRange,
    PredictionEvent,
    RetrainerState,
    RetrainInFlight,
    TransactionEvent,
)

__all__ = ["EXAMPLES", "SCHEMA_DIALECT", "event_schema", "export", "schema_files"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_PREDICTION = PredictionEvent(
    prediction_id="7f3c2a9e4b1d4c8e9a0b1c2d3e4f5a6b",
    event_time=1700000000.0,
    model_name="credit-risk",
    model_version="3",
    features={"loan_amount": 250000.0, "income": 72000.0, "channel": "web"},
    score=0.12,
    decision="LOW",
    entity_id="customer-42",
)

EXAMPLES: dict[type[Event], Event] = {
    TransactionEvent: TransactionEvent(
        event_time=1700000000.0,
        entity_id="customer-42",
        features={"loan_amount": 250000.0, "income": 72000.0, "channel": "web"},
        model_name="credit-risk",
        request_id="7f3c2a9e4b1d4c8e9a0b1c2d3e4f5a6b",
    ),
    PredictionEvent: _PREDICTION,
    LabelEvent: LabelEvent(
        prediction_id="7f3c2a9e4b1d4c8e9a0b1c2d3e4f5a6b", event_time=1702592000.0, label=0
    ),
    LabeledEvent: LabeledEvent.join(
        _PREDICTION,
        LabelEvent(
            prediction_id="7f3c2a9e4b1d4c8e9a0b1c2d3e4f5a6b", event_time=1702592000.0, label=0
        ),
    ),
    DriftEvent: DriftEvent(
        event_time=1700003600.0,
        event_id="0b8d6f1e2a3c4b5d6e7f8091a2b3c4d5",
        model_name="credit-risk",
        model_version="3",
        kind="covariate",
        severity="medium",
        window_start=1700000000.0,
        window_end=1700003600.0,
        statistics=[
            FeatureStatistic(
                feature="loan_amount", statistic="psi", value=0.31, threshold=0.2, drifted=True
            )
        ],
        evidence=[OffsetRange(topic="predictions", partition=0, first_offset=0, last_offset=99)],
        share_drifted=0.5,
        summary="loan_amount drifted (psi 0.31 > 0.2)",
        drivers=[Driver(feature="loan_amount", effect=1.55, importance=0.117,
                        severity="low")],
    ),
    ModelUpdateEvent: ModelUpdateEvent(
        event_time=1700007200.0,
        model_name="credit-risk",
        version="4",
        previous_version="3",
        reason="covariate drift",
        run_id="5c1f0e9d8b7a6c5d4e3f2a1b0c9d8e7f",
    ),
    DataValidationEvent: DataValidationEvent(
        event_time=1700003700.0,
        event_id="3e9a1c7b5d2f4e6a8b0c1d2e3f4a5b6c",
        model_name="credit-risk",
        model_version="3",
        passed=False,
        rows=2400,
        usable_rows=0,
        window_start=1700000000.0,
        window_end=1700003600.0,
        reasons=["annual_income: 100.0% of values missing, more than the 5.0% allowed"],
        checks=[
            DataCheck(column="annual_income", check="missing_share", value=1.0,
                      threshold=0.05, passed=False),
            DataCheck(column="loan_amount", check="psi", value=0.31, passed=True),
        ],
        evidence=[OffsetRange(topic="labeled", partition=0, first_offset=0, last_offset=2399)],
        trigger_event_id="0b8d6f1e2a3c4b5d6e7f8091a2b3c4d5",
        run_id="5c1f0e9d8b7a6c5d4e3f2a1b0c9d8e7f",
    ),
    RetrainerState: RetrainerState(
        event_time=1700007260.0,
        model_name="credit-risk",
        handled=["drift-3c1e", "drift-9a04"],
        in_flight=RetrainInFlight(event_id="drift-9a04", event_time=1700007100.0, tries=2),
        finished_at=1700003800.0,
    ),
    DeadLetter: DeadLetter(
        event_time=1700000000.0,
        source_topic="labels",
        source_partition=2,
        source_offset=17,
        raw_key=b"p-1",
        value=b'{"prediction_id": "p-1", "label": "yes", "event_time": 1.0}',
        error="Expected `int`, got `str`",
        error_field="label",
        service="monitor",
    ),
}


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one event type, self-contained: nested structs sit
    under ``$defs`` and the event's own definition is the top level."""
    _, defs = msgspec.json.schema_components([cls], ref_template="#/$defs/{name}")
    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "$id": f"https://driftline.dev/schemas/{cls.__name__}.schema.json",
        "x-kafka-topic": cls.topic,
    }
    schema.update(defs.pop(cls.__name__))
    if defs:
        schema["$defs"] = defs
    return schema


def _dumps(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_files() -> dict[str, str]:
    """Every file of the export by name: ``<Event>.schema.json`` and ``<Event>.example.json``
    for each event type of the topic table."""
    files: dict[str, str] = {}
    for cls in EVENT_TYPES.values():
        files[f"{cls.__name__}.schema.json"] = _dumps(event_schema(cls))
        files[f"{cls.__name__}.example.json"] = _dumps(msgspec.to_builtins(EXAMPLES[cls]))
    return files


def export(out_dir: Path) -> list[Path]:
    """Write :func:`schema_files` into ``out_dir`` (created if missing); returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(schema_files().items()):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
