"""A DRIFTLINE_* variable that no driftline setting knows is logged once, with a suggestion."""

from __future__ import annotations

import logging

import pytest

import driftline.settings as settings_module
from driftline.settings import DriftlineSettings


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """As if no settings object had been built in this process yet, in a clean environment."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("DRIFTLINE_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(settings_module, "_checked_environment", False)
    return monkeypatch


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "driftline.settings" and r.levelno == logging.WARNING]


def test_a_mistyped_variable_warns_with_the_closest_name(fresh_process, caplog) -> None:
    from scorer.settings import ScorerSettings

    fresh_process.setenv("DRIFTLINE_MICRO_BATCH_SIZ", "64")
    with caplog.at_level(logging.WARNING, logger="driftline.settings"):
        ScorerSettings()
    assert _warnings(caplog) == [
        "DRIFTLINE_MICRO_BATCH_SIZ is not a driftline setting and is ignored; "
        "did you mean DRIFTLINE_MICRO_BATCH_SIZE?"
    ]


def test_a_setting_of_another_service_does_not_warn(fresh_process, caplog) -> None:
    from scorer.settings import ScorerSettings

    # monitor, retrainer, producers, Kafka, and variables read directly
    for name in ("DRIFTLINE_WINDOW_SIZE", "DRIFTLINE_RETRAIN_MIN_ROWS", "DRIFTLINE_SCORER_URL",
                 "DRIFTLINE_KAFKA_LOCAL_HEAP", "DRIFTLINE_KAFKA_POM", "DRIFTLINE_TEST_KAFKA_PORT"):
        fresh_process.setenv(name, "1g" if name.endswith("HEAP") else "60")
    fresh_process.setenv("DRIFTLINE_KAFKA", '{"local_heap": "1g"}')  # the nested field, as JSON
    with caplog.at_level(logging.WARNING, logger="driftline.settings"):
        ScorerSettings()
    assert _warnings(caplog) == []


def test_the_warning_comes_once_per_process(fresh_process, caplog) -> None:
    fresh_process.setenv("DRIFTLINE_WINDOWSIZE", "60")
    with caplog.at_level(logging.WARNING, logger="driftline.settings"):
        DriftlineSettings()
        DriftlineSettings()
    assert _warnings(caplog) == [
        "DRIFTLINE_WINDOWSIZE is not a driftline setting and is ignored; "
        "did you mean DRIFTLINE_WINDOW_SIZE?"
    ]


def test_a_name_far_from_every_setting_warns_without_a_suggestion(fresh_process, caplog) -> None:
    fresh_process.setenv("DRIFTLINE_XYZZY", "1")
    with caplog.at_level(logging.WARNING, logger="driftline.settings"):
        DriftlineSettings()
    assert _warnings(caplog) == ["DRIFTLINE_XYZZY is not a driftline setting and is ignored"]
