"""The HTTP port of a worker (the monitor, the retrainer): ``/metrics`` for Prometheus,
``/health`` and ``/ready`` for an orchestrator, and any other pages a service adds.

``/health`` answers 200 while the process serves HTTP and its ``alive()`` says so; ``/ready``
answers 200 when ``ready()`` returns true, with what it checked as JSON either way (503 when
not ready). Other paths go to the service's ``pages`` (a prefix and a handler), then to
prometheus_client's ``/metrics``.

>>> status, _, body = _probe(lambda: (True, {"lag": 0}))
>>> status, body
('200 OK', b'{"ready":true,"lag":0}')
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = ["Check", "Page", "serve"]

Check = Callable[[], tuple[bool, Mapping[str, Any]]]  # (ok, what was checked)
Page = Callable[[str], tuple[str, str, bytes]]  # path -> (status, content type, body)


def _probe(check: Check, key: str = "ready") -> tuple[str, str, bytes]:
    ok, facts = check()
    body = json.dumps({key: ok, **facts}, separators=(",", ":")).encode()
    return ("200 OK" if ok else "503 Service Unavailable"), "application/json", body


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing (a scrape or a probe every few seconds)."""


def serve(port: int, host: str, *, registry: Any = None, ready: Check | None = None,
          alive: Check | None = None, pages: Mapping[str, Page] | None = None) -> WSGIServer:
    """Serve on ``host:port`` from a daemon thread (``registry``: the Prometheus registry of
    ``/metrics``, default prometheus_client's)."""
    from prometheus_client import REGISTRY, make_wsgi_app

    metrics = make_wsgi_app(REGISTRY if registry is None else registry)
    routes = dict(pages or {})

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        answer = None
        if path == "/health":
            answer = _probe(alive or (lambda: (True, {})), key="alive")
        elif path == "/ready":
            answer = _probe(ready or (lambda: (True, {})))
        else:
            for prefix, page in routes.items():
                if path == prefix or path.startswith(prefix + "/"):
                    answer = page(path)
                    break
        if answer is None:
            return metrics(environ, start_response)
        status, kind, body = answer
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    server = make_server(host, port, app, server_class=_Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="driftline-http", daemon=True).start()
    return server
