"""The monitor's /report pages, its HTTP port and the report link in webhook messages."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from driftline.events import DriftEvent, FeatureStatistic
from driftline.report import ReportInput
from monitor.worker.alerts import format_alert
from monitor.worker.report_server import ReportPages, report_link, serve
from tests.report_day import MODEL, synthetic_day

EVENT = DriftEvent(
    event_time=100.0, event_id="ev1", model_name=MODEL, model_version="1", kind="covariate",
    severity="high", window_start=0.0, window_end=60.0, summary="loan_amount moved",
    statistics=[FeatureStatistic(feature="loan_amount", statistic="psi", value=1.3,
                                 threshold=0.2, drifted=True)])


@pytest.fixture(scope="module")
def day_input() -> ReportInput:
    return synthetic_day(windows=12, rows=100).report_input()


def test_a_webhook_message_links_its_event_in_the_drift_report():
    url = report_link("http://monitor.example:9102/", MODEL, EVENT.event_id)
    body = format_alert(EVENT, url)
    assert url == "http://monitor.example:9102/report/credit-risk#e-ev1"
    assert url in body["text"]
    assert f"<{url}|Open the drift report>" in str(body["blocks"])
    assert "drift report" not in str(format_alert(EVENT))


def test_report_pages_list_the_models_and_serve_each_ones_report(day_input: ReportInput):
    pages = ReportPages(lambda: day_input)
    status, kind, index = pages.respond("/report")
    assert status == "200 OK" and b'href="/report/credit-risk"' in index
    status, kind, page = pages.respond("/report/credit-risk")
    assert status == "200 OK" and kind.startswith("text/html")
    assert b'<section id="summary"' in page and b"Drift report: credit-risk" in page
    status, _, missing = pages.respond("/report/fraud")
    assert status == "404 Not Found" and b"models: credit-risk" in missing


def test_report_pages_read_the_topics_again_only_after_the_refresh(day_input: ReportInput):
    now, reads = [0.0], []

    def collect() -> ReportInput:
        reads.append(now[0])
        return day_input

    pages = ReportPages(collect, refresh=60.0, clock=lambda: now[0])
    pages.respond("/report/credit-risk")
    now[0] = 59.0
    pages.respond("/report/credit-risk")
    now[0] = 61.0
    pages.respond("/report")
    assert reads == [0.0, 61.0]


def test_report_pages_answer_503_saying_why_when_the_topics_cannot_be_read():
    def collect() -> ReportInput:
        raise TimeoutError("reading reports: no message for 30s")

    status, _, body = ReportPages(collect).respond("/report/credit-risk")
    assert status == "503 Service Unavailable" and b"no message for 30s" in body


def test_the_http_port_serves_both_metrics_and_the_report(day_input: ReportInput):
    server = serve(0, "127.0.0.1", ReportPages(lambda: day_input))
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            assert response.status == 200 and b"# TYPE" in response.read()
        with urllib.request.urlopen(f"{base}/report/credit-risk", timeout=60) as response:
            assert response.status == 200 and b'id="events"' in response.read()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/report/fraud", timeout=10)
        missing.value.close()
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
