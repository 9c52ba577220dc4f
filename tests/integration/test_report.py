"""The drift report of a real monitored run (the real broker, the monitor worker, the
embedded registry), written by ``driftline report`` and served at ``/report``, opened in
headless Chromium with the network shut: every section renders, nothing outside the file is
asked for, and the console stays clean."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from driftline.kafka import create_topics
from driftline.report import SECTIONS
from driftline.settings import KafkaSettings
from tests.chromium import open_page
from tests.integration.test_monitor import (  # noqa: F401 (registry_home is a fixture)
    RATE,
    T0,
    WINDOW,
    _done,
    _env,
    _feed,
    _free_port,
    _start,
    _stop,
    _wait,
    registry_home,
)

STABLE, SHIFTED = 3000, 3000


@pytest.fixture(scope="module")
def monitored_run(kafka_bootstrap: str, registry_home: Path,  # noqa: F811
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[KafkaSettings, str, Path]:
    """A monitor run over stable then loan-amount-shifted traffic; the page it served."""
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    create_topics(kafka)
    app_id = "report-monitor"
    fed = _feed(kafka, stable=STABLE, shifted=SHIFTED, bad=False)
    folder = tmp_path_factory.mktemp("report-run")
    log = folder / "monitor.log"
    port = _free_port()
    proc = _start(registry_home, kafka, app_id, log, DRIFTLINE_METRICS_PORT=str(port))
    try:
        _wait("every window judged", _done(kafka, app_id, fed), 240, log)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/report/credit-risk",
                                    timeout=120) as response:
            served = folder / "served.html"
            served.write_bytes(response.read())
    finally:
        _stop(proc)
    return kafka, app_id, served


def _report(registry_home: Path, kafka: KafkaSettings, app_id: str, out: Path) -> str:  # noqa: F811
    end = T0 + (STABLE + SHIFTED) / RATE + WINDOW
    done = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "report", "--from", str(T0 - WINDOW),
         "--to", str(end), "--model", "credit-risk", "--out", str(out)],
        env=_env(registry_home, kafka, app_id), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_report_of_a_monitored_run_renders_every_section_offline_in_chromium(
        monitored_run, registry_home: Path, tmp_path: Path):  # noqa: F811
    kafka, app_id, _served = monitored_run
    out = tmp_path / "report.html"
    said = _report(registry_home, kafka, app_id, out)
    assert "drift events" in said
    visit = open_page(out, shots=tmp_path / "shots")
    assert visit.fetched == [out.resolve().as_uri()]
    assert visit.errors == []
    sections = {s["id"]: s for s in visit.sections}
    assert list(sections) == list(SECTIONS)
    assert all(s["height"] > 100 for s in sections.values())
    assert sections["summary"]["charts"] == 1 and sections["performance"]["charts"] == 1
    assert sections["score"]["charts"] == 3  # distribution, every window's map, statistic
    html = out.read_text()
    features = html[html.index('id="features"'):html.index('id="score"')].count(
        '<div class="feature"')
    assert features >= 5
    # each: distribution, every window's map, statistic
    assert sections["features"]["charts"] == 3 * features
    assert "loan_amount moved" in sections["features"]["text"]
    assert "loan_amount" in sections["summary"]["text"].split("Did it hurt")[0]
    assert "covariate drift on credit-risk v1" in sections["events"]["text"]
    assert "Evidence: " in sections["events"]["text"]
    assert all(path.stat().st_size > 10_000 for path in visit.screenshots.values())


def test_the_monitor_serves_the_same_report_at_its_report_path(monitored_run):
    _kafka, _app_id, served = monitored_run
    visit = open_page(served)
    assert visit.fetched == [served.resolve().as_uri()] and visit.errors == []
    sections = {s["id"]: s for s in visit.sections}
    assert list(sections) == list(SECTIONS)
    assert "loan_amount moved" in sections["features"]["text"]


def test_the_browser_check_sees_a_url_outside_the_page_and_its_console_error(tmp_path: Path):
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><title>x</title></head><body>'
                    '<section id="summary" data-section="summary">'
                    '<img src="https://example.invalid/chart.png"></section></body></html>')
    visit = open_page(page)
    assert "https://example.invalid/chart.png" in visit.requested
    assert any("chart.png" in error for error in visit.errors)
