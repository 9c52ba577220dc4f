"""Reading a process's log written with ``DRIFTLINE_LOG_FORMAT=json``."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["json_log"]


def json_log(path: Path) -> list[dict]:
    """Every non-blank line of the log at ``path`` as a JSON object; a line that is not one
    fails the test, showing it with the lines around it."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    records = []
    for n, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            context = "\n".join(lines[max(n - 3, 0):n + 30])
            raise AssertionError(f"line {n} of {path} is not JSON:\n{context}") from None
    return records
