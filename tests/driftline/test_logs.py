"""Text or JSON logs (driftline.logs), and the fields the shared Kafka code attaches."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator

import pytest

from driftline.kafka.deadletter import DeadLetterWriter
from driftline.logs import client_logging, configure_logging, fields


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    configure_logging("INFO", "text", service="tests")  # librdkafka back on its own output
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []

    def send(self, topic: str, event: object) -> None:
        self.sent.append((topic, event))


def _lines(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_json_lines_carry_the_service_the_level_and_the_call_sites_fields(
    restore_root, capsys
):
    configure_logging("INFO", "json", service="retrainer", defaults={"source": 2})
    logging.getLogger("retrainer.promotion").info(
        "promoted", extra=fields(model="credit-risk", version=3, previous_version=2, rows=10))
    logging.getLogger("quiet").debug("below the level")
    [line] = _lines(capsys.readouterr().err)
    assert line["message"] == "promoted" and line["level"] == "INFO"
    assert line["logger"] == "retrainer.promotion" and line["service"] == "retrainer"
    assert line["source"] == 2 and isinstance(line["pid"], int)
    assert (line["model"], line["version"], line["previous_version"], line["rows"]) == (
        "credit-risk", "3", "2", 10)
    assert line["time"].endswith("Z") and line["time"][10] == "T"


def test_a_traceback_and_a_warning_are_json_lines_too(restore_root, capsys):
    configure_logging("INFO", "json", service="scorer")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("scorer").exception("failed")
    warnings.warn("old API", DeprecationWarning, stacklevel=1)
    failed, warned = _lines(capsys.readouterr().err)
    assert "ValueError: boom" in failed["exc_info"]
    assert warned["logger"] == "py.warnings" and "old API" in warned["message"]


def test_text_logs_stay_text_and_leave_librdkafka_on_its_own_output(restore_root, capsys):
    configure_logging("INFO", "json", service="scorer")
    assert client_logging() == {"logger": logging.getLogger("librdkafka")}
    configure_logging("INFO", "text", service="scorer")
    assert client_logging() == {}
    logging.getLogger("scorer").info("hello")
    err = capsys.readouterr().err
    assert "INFO scorer: hello" in err and not err.startswith("{")


def test_a_dead_letter_log_names_the_prediction_its_key_is(caplog):
    writer = DeadLetterWriter(_Producer(), "t1.dead-letter", "monitor",  # type: ignore[arg-type]
                              prefix="t1.")
    with caplog.at_level(logging.WARNING, "driftline.kafka.deadletter"):
        writer.send(ValueError("bad label"), source_topic="t1.labels", partition=3, offset=9,
                    key=b"p-42", value=b"{}")
        writer.send(ValueError("bad event"), source_topic="t1.drift-events", partition=0,
                    offset=1, key=b"credit-risk", value=b"{}")
        writer.send(ValueError("bad"), source_topic="elsewhere", key=b"k", value=b"{}")
    label, drift, other = caplog.records
    assert (label.prediction_id, label.topic, label.partition, label.offset) == (
        "p-42", "t1.labels", 3, 9)
    assert drift.model == "credit-risk" and not hasattr(drift, "prediction_id")
    assert not hasattr(other, "prediction_id") and other.topic == "elsewhere"
