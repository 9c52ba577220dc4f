"""A monitor started with a policy file (DRIFTLINE_POLICY_FILE) judges as the file says:
the shifted feature it silences raises nothing, the feature whose threshold it lowers raises
on stable traffic."""

from __future__ import annotations

import uuid
from pathlib import Path

from driftline.events import DriftEvent, decode
from driftline.kafka import create_topics, read_topic
from driftline.settings import KafkaSettings
from tests.integration.test_monitor import (  # noqa: F401 (registry_home is a fixture)
    ONSET,
    _done,
    _feed,
    _start,
    _stop,
    _wait,
    registry_home,
)

POLICY = """
[models.credit-risk]
ignore = ["loan_amount"]          # the feature the stream shifts

[models.credit-risk.features.annual_income]
method = "psi"
threshold = 1e-9                  # any window drifts
"""


def test_a_monitor_with_a_policy_file_raises_as_the_file_says(
    kafka_bootstrap: str, registry_home: Path, tmp_path: Path  # noqa: F811
):
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    create_topics(kafka)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    app_id = "policy-monitor"
    fed = _feed(kafka, stable=3000, shifted=1200, bad=False)
    log = tmp_path / "monitor.log"
    proc = _start(registry_home, kafka, app_id, log, DRIFTLINE_POLICY_FILE=str(policy))
    try:
        _wait("every window judged", _done(kafka, app_id, fed), 240, log)
    finally:
        _stop(proc)
    events = [decode(DriftEvent, m.value()) for m in read_topic(kafka, kafka.topic("drift-events"))]
    covariate = [e for e in events if e.kind == "covariate"]
    assert len(covariate) == 1, [e.summary for e in covariate]
    event = covariate[0]
    assert event.window_end <= ONSET  # raised on stable traffic
    assert "worst annual_income" in event.summary
    income = {s.statistic: s for s in event.statistics if s.feature == "annual_income"}
    assert income["psi"].threshold == 1e-9 and income["psi"].drifted
    assert all(s.feature != "loan_amount" for e in events for s in e.statistics)
