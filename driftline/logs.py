"""How a driftline process logs: plain text for a terminal, or one JSON object per line for a
log pipeline (``DRIFTLINE_LOG_FORMAT=json``).

A JSON line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the
``service`` that wrote it and its ``pid``, and whatever the call site attached with
:func:`fields`: ``prediction_id``, ``model`` and ``version`` where they apply, or an
``event_id``, ``topic``, ``partition``, ``offset``. A traceback goes in ``exc_info``.

>>> import io, json
>>> stream = io.StringIO()
>>> handler = logging.StreamHandler(stream)
>>> handler.setFormatter(json_formatter("scorer"))
>>> demo = logging.getLogger("driftline.logs.demo")
>>> demo.addHandler(handler); demo.propagate = False
>>> demo.warning("not served", extra=fields(model="credit-risk", version="3"))
>>> line = json.loads(stream.getvalue())
>>> line["message"], line["model"], line["version"], line["service"], line["level"]
('not served', 'credit-risk', '3', 'scorer', 'WARNING')
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

__all__ = [
    "TEXT_FORMAT",
    "LogFormat",
    "client_logging",
    "configure_logging",
    "fields",
    "json_formatter",
]

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}

_LIBRDKAFKA = logging.getLogger("librdkafka")
_state = {"json": False}


def client_logging() -> dict[str, Any]:
    """librdkafka options for a confluent-kafka client: with JSON logs, its log lines go
    through the ``librdkafka`` logger (delivered when the client is polled) rather than
    straight to stderr as text."""
    return {"logger": _LIBRDKAFKA} if _state["json"] else {}


def fields(**values: Any) -> dict[str, Any]:
    """The structured fields of one log call, for ``extra=``; None values are left out, and
    numbers stay numbers, except versions, which are text ("3") in every service."""
    return {k: v if isinstance(v, (int, float, bool)) and not k.endswith("version") else str(v)
            for k, v in values.items() if v is not None}


def json_formatter(service: str, static: dict[str, Any] | None = None) -> logging.Formatter:
    """A formatter writing each record as one JSON object (see the module), with ``static``
    fields on every line."""
    formatter = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields=_RENAMED,
        static_fields={"service": service, "pid": os.getpid(), **(static or {})},
        json_ensure_ascii=False,
    )
    formatter.converter = time.gmtime
    formatter.default_time_format = "%Y-%m-%dT%H:%M:%S"
    formatter.default_msec_format = "%s.%03dZ"
    return formatter


def configure_logging(level: str, fmt: LogFormat = "text", *, service: str,
                      text_format: str = TEXT_FORMAT,
                      defaults: dict[str, Any] | None = None) -> None:
    """Send the root logger's records to stderr at ``level``, as text or as JSON lines.

    Replaces any handler the root logger had, so calling it again (a forked or spawned
    process) configures rather than doubles the output. ``defaults`` are fields of every
    line: values for ``text_format``'s placeholders, static fields of a JSON line.
    """
    handler = logging.StreamHandler(sys.stderr)
    _state["json"] = fmt == "json"
    if fmt == "json":
        handler.setFormatter(json_formatter(service, defaults))
        logging.captureWarnings(True)  # a library's warning is a JSON line too
    else:
        handler.setFormatter(logging.Formatter(text_format, defaults=defaults))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
