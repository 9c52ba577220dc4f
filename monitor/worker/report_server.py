"""The worker's HTTP port: ``/metrics`` for Prometheus, ``/health`` and ``/ready`` for an
orchestrator, and ``/report`` for people.

``/report`` lists the models judged in the last ``report_span`` seconds of event time (up
to the newest judged window); ``/report/<model>`` is that model's drift report
(:mod:`driftline.report`), built from the reports topic, ``drift-events``,
``model-updates`` and the registry, the same way as ``driftline report``, and kept for
``report_refresh`` seconds. Any worker of the group serves the same pages: they come from
Kafka, not from the worker's memory. Every other path is prometheus_client's ``/metrics``.
"""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from urllib.parse import quote, unquote
from wsgiref.simple_server import WSGIServer

from driftline.ops_http import Check
from driftline.ops_http import serve as serve_http
from driftline.report import ReportInput, build_report

__all__ = ["ReportPages", "report_link", "serve"]

log = logging.getLogger(__name__)

Collect = Callable[[], ReportInput]
Response = tuple[str, str, bytes]  # status, content type, body


def report_link(base_url: str, model: str, event_id: str | None = None) -> str:
    """Where a person reads ``model``'s report on the monitor at ``base_url`` (and, with
    ``event_id``, that drift event in it).

    >>> report_link("https://monitor.example:9102/", "credit risk", "ab12")
    'https://monitor.example:9102/report/credit%20risk#e-ab12'
    """
    anchor = f"#e-{event_id}" if event_id else ""
    return f"{base_url.rstrip('/')}/report/{quote(model, safe='')}{anchor}"


class ReportPages:
    """The ``/report`` pages: ``collect()`` reads the range, pages are cached ``refresh``
    seconds.

    >>> from driftline.report import ReportInput
    >>> pages = ReportPages(lambda: ReportInput(windows=[]), refresh=60.0)
    >>> status, kind, body = pages.respond("/report/unknown")
    >>> status, b"no judged window of unknown" in body
    ('404 Not Found', True)
    """

    def __init__(self, collect: Collect, *, refresh: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._collect = collect
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._data: tuple[float, ReportInput] | None = None
        self._pages: dict[str, tuple[float, bytes]] = {}

    def _input(self) -> ReportInput:
        now = self._clock()
        if self._data is None or now - self._data[0] >= self._refresh:
            self._data = (now, self._collect())
            self._pages.clear()
        return self._data[1]

    def respond(self, path: str) -> Response:
        """The answer to a GET of ``path`` (``/report`` or ``/report/<model>``)."""
        name = unquote(path[len("/report"):].strip("/"))
        with self._lock:  # one build at a time: a page costs seconds of CPU
            try:
                data = self._input()
            except Exception as exc:  # Kafka or the registry does not answer
                log.warning("the drift report could not be read: %s", exc)
                return ("503 Service Unavailable", "text/plain; charset=utf-8",
                        f"the drift report could not be read: {exc}\n".encode())
            models = sorted({w.model_name for w in data.windows})
            if not name:
                return "200 OK", "text/html; charset=utf-8", _index(models)
            if name not in models:
                return ("404 Not Found", "text/plain; charset=utf-8",
                        f"no judged window of {name} in the report's range; models: "
                        f"{', '.join(models) or 'none'}\n".encode())
            cached = self._pages.get(name)
            if cached is None:
                page = build_report(replace(data, model=name,
                                            title=f"Drift report: {name}"))
                cached = self._pages[name] = (self._clock(), page.encode())
            return "200 OK", "text/html; charset=utf-8", cached[1]


def _index(models: Iterable[str]) -> bytes:
    items = "".join(f'<li><a href="/report/{quote(m, safe="")}">{html.escape(m)}</a></li>'
                    for m in models) or "<li>No model judged in the report's range.</li>"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Drift '
            f"reports</title></head><body><h1>Drift reports</h1><ul>{items}</ul>"
            "</body></html>\n").encode()


def serve(port: int, host: str, pages: ReportPages,
          ready: Check | None = None) -> WSGIServer:
    """Serve ``/report``, ``/metrics``, ``/health`` and ``/ready`` on ``host:port`` from a
    daemon thread (:mod:`driftline.ops_http`)."""
    return serve_http(port, host, ready=ready, pages={"/report": pages.respond})
