"""The produce loop with in-memory targets: what is sent, accepted, rejected and labelled.

The HTTP path runs against a tiny FastAPI app in the test (through httpx's ASGI transport),
validating requests the way the scorer does: the credit-risk fields, strict, within range.
Assertions are on counts and ids, never on wall-clock timing.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import httpx
import pytest
from fastapi import Body, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from driftline.events import LabelEvent
from driftline.features import CREDIT_RISK
from producers.delays import Fixed, LabelDelays, parse_delay
from producers.produce import HttpSender, Outcome, ProduceSummary, Sender, run_produce
from producers.scenarios import parse_scenario
from producers.traffic import Application, Traffic

START = 1_800_000_000.0


class MemorySender(Sender):
    target = "kafka"

    def __init__(self) -> None:
        self.sent: list[tuple[Application, float]] = []

    async def send(self, app: Application, event_time: float) -> Outcome:
        self.sent.append((app, event_time))
        return Outcome("accepted", None if app.malformed else f"p-{app.request_id}")


def _traffic(scenario: str, delay: str = "fixed:5s", never: float = 0.0) -> Traffic:
    return Traffic(
        parse_scenario(scenario), LabelDelays(parse_delay(delay), never=never), seed=8,
        per_second=40.0, run_id="t",
    )


def _run(traffic, sender, n, **kwargs) -> tuple[ProduceSummary, list[LabelEvent]]:
    labels: list[LabelEvent] = []
    summary = ProduceSummary(target=sender.target, planned=n, target_rate=4_000.0)
    asyncio.run(
        run_produce(traffic, sender, labels.append, summary, rate=4_000.0, time_scale=100.0,
                    start_time=START, **kwargs)
    )
    return summary, labels


def test_every_label_follows_its_request_after_its_delay_when_drained():
    sender = MemorySender()
    summary, labels = _run(_traffic("stable", never=0.2), sender, 400, drain=True)
    assert summary.sent == summary.accepted == len(sender.sent) == 400
    apps = {a.request_id: (a, t) for a, t in sender.sent}
    assert [a.index for a, _ in sender.sent] == list(range(400))  # in order
    assert summary.labels_emitted == len(labels) == 400 - summary.labels_never
    assert summary.labels_never == sum(a.label_delay is None for a, _ in sender.sent)
    assert summary.labels_pending == 0
    for label in labels:
        app, event_time = apps[label.prediction_id.removeprefix("p-")]
        assert event_time == START + app.sim_time
        assert label.event_time == pytest.approx(event_time + 5.0)
        assert label.label == app.label
    # emitted in due order
    assert [lb.event_time for lb in labels] == sorted(lb.event_time for lb in labels)


def test_labels_not_yet_due_are_reported_pending():
    summary, labels = _run(_traffic("stable", delay="fixed:1h"), MemorySender(), 200)
    assert labels == []
    assert summary.labels_pending == 200 and summary.labels_emitted == 0


def test_malformed_requests_get_no_label_when_the_target_cannot_refuse_them():
    summary, _ = _run(_traffic("data-quality:share=0.5"), MemorySender(), 400, drain=True)
    assert 150 < summary.malformed_sent < 250
    assert summary.labels_emitted == 400 - summary.malformed_sent


class Prediction(BaseModel):
    prediction_id: str
    default_probability: float
    risk_tier: str
    model_version: str


def _scorer_app() -> FastAPI:
    """Validates like the scorer: every credit-risk field, strict, in range, nothing else."""
    fields: dict[str, Any] = {}
    for f in CREDIT_RISK.numeric:
        fields[f.name] = (Annotated[float, Field(strict=True, ge=f.minimum, le=f.maximum)], ...)
    for f in CREDIT_RISK.categorical:
        fields[f.name] = (Literal[f.categories], ...)  # type: ignore[valid-type]
    fields["entity_id"] = (str | None, None)
    fields["request_id"] = (str | None, None)
    request = create_model("Request", __config__=ConfigDict(extra="forbid"), **fields)

    app = FastAPI()
    app.state.seen = []

    @app.post("/predict")
    async def predict(body: dict[str, Any] = Body(...)) -> Prediction:  # noqa: B008
        try:
            row = request.model_validate(body)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False)) from None
        app.state.seen.append(row.request_id)
        return Prediction(prediction_id=f"pred-{row.request_id}", default_probability=0.1,
                          risk_tier="LOW", model_version="1")

    return app


def test_http_counts_rejections_and_keys_labels_by_the_returned_prediction_id():
    app = _scorer_app()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scorer")
    traffic = _traffic("stable:2s,data-quality:share=0.3", never=0.1)
    summary, labels = _run(traffic, HttpSender(client), 300, drain=True, concurrency=8)
    assert summary.sent == 300
    assert summary.rejected == summary.malformed_sent > 40
    assert summary.accepted == len(app.state.seen) == 300 - summary.rejected
    assert summary.failed == 0
    assert summary.reasons == {"HTTP 422": summary.rejected}
    assert summary.labels_emitted + summary.labels_never == summary.accepted
    assert {lb.prediction_id for lb in labels} <= {f"pred-{r}" for r in app.state.seen}


def test_http_transport_errors_count_as_failed():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://scorer")
    summary, labels = _run(_traffic("stable"), HttpSender(client), 50)
    assert summary.failed == 50 and summary.accepted == 0 and labels == []
    assert summary.reasons == {"ConnectError": 50}


def test_summary_lines_name_every_count():
    summary = ProduceSummary(target="http", planned=10, target_rate=5.0, sent=10, accepted=8,
                             rejected=2, labels_emitted=5, labels_pending=2, labels_never=1,
                             send_seconds=2.0)
    text = "\n".join(summary.lines())
    for word in ("sent", "accepted", "rejected", "labels emitted", "labels pending"):
        assert word in text
    assert "5.0/s achieved" in text


def test_fixed_delay_helper_is_in_simulated_seconds():
    assert Fixed(5.0).describe() == "fixed 5s"
