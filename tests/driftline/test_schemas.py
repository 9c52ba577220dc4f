"""The exported JSON Schemas: the committed copies match the structs, and each example is a
valid message of its event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.cli import app
from driftline.errors import ContractError
from driftline.events import EVENT_TYPES, decode, encode
from driftline.schemas import EXAMPLES, event_schema, schema_files

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
EVENTS = list(EVENT_TYPES.values())


def test_committed_schemas_match_the_export() -> None:
    committed = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.json")}
    stale = sorted(
        name for name in committed.keys() | schema_files().keys()
        if committed.get(name) != schema_files().get(name)
    )
    assert not stale, f"run `driftline schema export` (stale: {stale})"


def test_schema_export_command_writes_one_schema_and_example_per_event(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {f"{c.__name__}.{k}.json" for c in EVENTS for k in ("schema", "example")}


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_each_example_decodes_as_its_event(cls: type) -> None:
    document = (DOCS / f"{cls.__name__}.example.json").read_bytes()
    assert decode(cls, document) == EXAMPLES[cls]
    assert json.loads(encode(EXAMPLES[cls])) == json.loads(document)


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_each_example_has_every_required_field_and_only_known_ones(cls: type) -> None:
    schema = event_schema(cls)
    example = json.loads((DOCS / f"{cls.__name__}.example.json").read_text())
    assert set(schema["required"]) <= example.keys()
    assert example.keys() <= schema["properties"].keys()
    assert schema["x-kafka-topic"] == cls.topic


@pytest.mark.parametrize("cls", EVENTS, ids=lambda c: c.__name__)
def test_dropping_a_required_field_fails_decoding_naming_it(cls: type) -> None:
    example = json.loads((DOCS / f"{cls.__name__}.example.json").read_text())
    for field in event_schema(cls)["required"]:
        partial = {k: v for k, v in example.items() if k != field}
        with pytest.raises(ContractError, match=field):
            decode(cls, json.dumps(partial))


def test_schema_states_field_constraints_of_the_struct() -> None:
    prediction = event_schema(EVENT_TYPES["predictions"])
    assert prediction["properties"]["score"] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert prediction["properties"]["prediction_id"]["minLength"] == 1
    assert prediction["properties"]["event_time"]["minimum"] == 0
