"""A worker's HTTP port on loopback: /health and /ready answer from their checks (503 and
what was checked when not ready), pages are routed by prefix, everything else is /metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client import CollectorRegistry, Counter, Gauge

from driftline.ops_http import serve
from monitor.worker.metrics import readiness


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_health_ready_pages_and_metrics_share_one_port():
    registry = CollectorRegistry()
    Counter("things_total", "things", registry=registry).inc(3)
    state = {"ready": False}
    server = serve(0, "127.0.0.1", registry=registry,
                   ready=lambda: (state["ready"], {"lag": 7}),
                   alive=lambda: (True, {"thread": True}),
                   pages={"/report": lambda path: ("200 OK", "text/plain", path.encode())})
    port = server.server_address[1]
    try:
        assert _get(port, "/health") == (200, b'{"alive":true,"thread":true}')
        status, body = _get(port, "/ready")
        assert status == 503 and json.loads(body) == {"ready": False, "lag": 7}
        state["ready"] = True
        assert _get(port, "/ready")[0] == 200
        assert _get(port, "/report/credit-risk") == (200, b"/report/credit-risk")
        status, body = _get(port, "/metrics")
        assert status == 200 and b"things_total 3.0" in body
    finally:
        server.shutdown()
        server.server_close()


def test_the_monitor_is_ready_once_it_owns_partitions():
    registry = CollectorRegistry()
    lag = Gauge("driftline_monitor_consumer_lag_messages", "lag", ["topic", "partition"],
                registry=registry)
    assert readiness(registry) == (False, {"assigned_partitions": 0, "lag": 0})
    lag.labels("predictions", "0").set(5)
    lag.labels("labels", "0").set(2)
    lag.labels("predictions", "3").set(0)
    assert readiness(registry) == (True, {"assigned_partitions": 2, "lag": 7})
