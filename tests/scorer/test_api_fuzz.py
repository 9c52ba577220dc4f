"""Property-based fuzz of the scorer's HTTP API from its own OpenAPI document (schemathesis),
in process over ASGI with a served model and a recording publisher: no request, valid or
not, gets a 5xx or an answer its operation's schema does not allow."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from driftline.features import CREDIT_RISK
from driftline.model.registry import LoadedModel, RegistryError, _features_metadata
from driftline.model.served import ServedModel
from driftline.model.serving import serve_loaded
from driftline.settings import KafkaSettings
from producers.bootstrap import train_default
from scorer.app import create_app
from scorer.service import Scorer
from scorer.settings import ScorerSettings
from tests.scorer.test_service import RecordingPublisher


def _served(max_rows: int) -> ServedModel:
    """The default pipeline, trained small, served the way the scorer serves a version."""
    trained = train_default(seed=3, rows=500)
    loaded = LoadedModel(name="credit-risk", version="3", estimator=trained.model,
                         signature=trained.signature, run_id=None,
                         metadata={"driftline": {"features": _features_metadata(CREDIT_RISK)}})
    return serve_loaded(loaded, "champion", max_rows=max_rows)


def _app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("fuzz")
    # the default row limit, the one the OpenAPI document states: a batch over it gets 413
    scorer = Scorer(ScorerSettings(home=home, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1")))
    publisher = RecordingPublisher()
    publisher.reachable = True  # type: ignore[attr-defined]
    scorer.publisher = publisher  # type: ignore[assignment]
    scorer.store._current = _served(scorer.settings.max_batch_rows)

    scorer.store.refresh = lambda: False  # type: ignore[method-assign]  # the alias stays

    async def start() -> None:  # no broker, no registry: only what serving requests needs
        scorer._batch_room = asyncio.Lock()
        scorer.batcher.start()

    async def stop() -> None:
        await scorer.batcher.stop()

    scorer.start, scorer.stop = start, stop  # type: ignore[method-assign]
    return create_app(scorer=scorer)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


# A request refused is one answered with schemathesis' default statuses for refusals, or
# 413: the scorer's answer (documented in its OpenAPI) to a batch over its row limit.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict({"checks": {
    "negative_data_rejection": {"expected-statuses": [
        "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429",
        "5xx"]},
}})


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    return schemathesis.openapi.from_asgi("/openapi.json", _app(tmp_path_factory),
                                          config=CONFIG)


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_no_request_gets_a_server_error_or_an_answer_outside_the_schema(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /predict", "POST /predict/batch",
                                               "GET /ready", "POST /model/reload"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not list(operation.body):
            continue  # nothing to make invalid

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=50, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            # invalid input must be refused (negative_data_rejection) as well
            extra = [negative_data_rejection] if mode is GenerationMode.NEGATIVE else []
            case.call_and_validate(checks=CHECKS + extra)

        call()


def test_a_reload_while_the_registry_is_away_answers_503_and_keeps_the_version(
        tmp_path_factory):
    from fastapi.testclient import TestClient

    app = _app(tmp_path_factory)
    scorer = app.state.scorer

    def registry_away() -> bool:
        raise RegistryError("the registry does not answer")

    scorer.store.refresh = registry_away
    with TestClient(app) as client:
        answer = client.post("/model/reload")
        assert answer.status_code == 503
        assert "the registry does not answer" in answer.json()["detail"]
        assert client.get("/model").json()["version"] == "3"
