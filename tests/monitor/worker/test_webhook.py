"""The drift-event webhook against a real HTTP receiver on loopback: delivered once,
retried on 5xx and 429 (waiting as Retry-After asks), never retried on another 4xx, and
given up on after its retries while the caller goes on."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest

from driftline.events import DriftEvent, Driver, FeatureStatistic
from monitor.worker.alerts import WebhookSink

EVENT = DriftEvent(
    event_id="e1", event_time=1_700_000_100.0, model_name="credit-risk", model_version="1",
    kind="covariate", severity="high", window_start=1_700_000_040.0,
    window_end=1_700_000_100.0, summary="loan_amount moved",
    statistics=[FeatureStatistic(feature="loan_amount", statistic="psi", value=0.9,
                                 threshold=0.2, drifted=True)],
)


class Receiver:
    """Answers each POST with the next scripted (status, headers); records the bodies."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made: list[Receiver] = []

    def make(script: list[tuple[int, dict[str, str]]]) -> Receiver:
        made.append(Receiver(script))
        return made[-1]

    yield make  # type: ignore[misc]
    for r in made:
        r.close()


def _sink(url: str, outcomes: list[str], waits: list[float], retries: int = 3) -> WebhookSink:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return WebhookSink(url, timeout=5.0, retries=retries, backoff=0.01,
                       on_outcome=outcomes.append, sleep=sleep)


def test_an_alert_is_delivered_once(receiver):
    r = receiver([(200, {})])
    outcomes: list[str] = []
    assert asyncio.run(_sink(r.url, outcomes, []).send(EVENT)) is True
    assert len(r.bodies) == 1 and "covariate drift on credit-risk v1" in r.bodies[0]["text"]
    assert outcomes == ["delivered"]


def test_the_alert_names_the_drivers_with_their_importance(receiver):
    r = receiver([(200, {})])
    event = msgspec.structs.replace(EVENT, severity="low", drivers=[
        Driver(feature="zip_digit", effect=21.0, importance=0.001, severity="low"),
        Driver(feature="loan_amount", effect=1.2, importance=0.0004, severity="low"),
    ])
    assert asyncio.run(_sink(r.url, [], []).send(event)) is True
    (body,) = r.bodies
    assert "drivers: zip_digit (importance 0.1%, effect 21x threshold, low)" in body["text"]
    assert any("loan_amount (importance 0.0%" in b["text"]["text"]
               for b in body["blocks"] if "text" in b)
    assert [d["feature"] for d in body["drivers"]] == ["zip_digit", "loan_amount"]
    assert body["drivers"][0]["importance"] == 0.001


def test_a_server_error_is_retried_until_delivered(receiver):
    r = receiver([(500, {}), (503, {}), (200, {})])
    outcomes: list[str] = []
    waits: list[float] = []
    assert asyncio.run(_sink(r.url, outcomes, waits).send(EVENT)) is True
    assert len(r.bodies) == 3 and outcomes == ["delivered"]
    assert len(waits) == 2 and all(0 < w <= 60 for w in waits)


def test_a_client_error_is_not_retried(receiver):
    r = receiver([(400, {})])
    outcomes: list[str] = []
    waits: list[float] = []
    assert asyncio.run(_sink(r.url, outcomes, waits).send(EVENT)) is False
    assert len(r.bodies) == 1 and outcomes == ["refused"] and waits == []


def test_too_many_requests_waits_as_retry_after_asks(receiver):
    r = receiver([(429, {"Retry-After": "7"}), (200, {})])
    outcomes: list[str] = []
    waits: list[float] = []
    assert asyncio.run(_sink(r.url, outcomes, waits).send(EVENT)) is True
    assert waits == [7.0] and outcomes == ["delivered"]


def test_it_gives_up_after_its_retries_and_the_caller_goes_on(receiver):
    r = receiver([(503, {})] * 10)
    outcomes: list[str] = []

    async def scenario() -> tuple[bool, int]:
        sink = _sink(r.url, outcomes, [], retries=2)
        sink.submit(EVENT)  # returns at once: the stream does not wait for the webhook
        pending = len(sink._tasks)
        await sink.drain()
        return pending == 1, sink.failed

    went_on, failed = asyncio.run(scenario())
    assert went_on and failed == 1
    assert len(r.bodies) == 3 and outcomes == ["failed"]


def test_an_unreachable_receiver_is_retried_then_given_up(receiver):
    r = receiver([])
    url = r.url
    r.close()  # nothing listens there any more
    outcomes: list[str] = []
    waits: list[float] = []
    assert asyncio.run(_sink(url, outcomes, waits, retries=1).send(EVENT)) is False
    assert outcomes == ["failed"] and len(waits) == 1
