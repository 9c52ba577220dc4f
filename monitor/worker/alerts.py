"""Where drift events go besides the topic: one log line each, and a Slack-compatible webhook
whose message links the event in the monitor's drift report (``/report``) when the monitor's
public base URL is set.

A failing webhook is retried with backoff and then given up on with a log line; it never
stops or slows the stream (sends run in their own tasks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from driftline.events import DriftEvent

__all__ = ["WebhookSink", "format_alert", "log_alert"]

log = logging.getLogger("driftline.alerts")


def format_alert(event: DriftEvent, report_url: str | None = None) -> dict[str, object]:
    """The Slack incoming-webhook body: a text line plus the evidence as blocks, and a link
    to the event in the drift report when ``report_url`` is given."""
    worst = [s for s in event.statistics if s.drifted][:5]
    lines = "\n".join(
        f"• {s.feature}: {s.statistic} {s.value:.4g} (threshold {s.threshold:.4g})" for s in worst
    )
    evidence = ", ".join(
        f"{r.topic}[{r.partition}] {r.first_offset}-{r.last_offset}" for r in event.evidence[:6]
    )
    text = (
        f":rotating_light: {event.severity.upper()} {event.kind} drift on "
        f"{event.model_name} v{event.model_version}"
    )
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*\n{event.summary}"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": lines or "(no statistic)"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            f"window {event.window_start:.0f}-{event.window_end:.0f} · event "
            f"{event.event_id[:12]} · evidence {evidence or 'n/a'}"}]},
    ]
    link = ""
    if report_url:
        link = f" (drift report: {report_url})"
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"<{report_url}|Open the drift report>"}})
    return {"text": f"{text}: {event.summary}{link}", "blocks": blocks}


def log_alert(event: DriftEvent) -> None:
    log.warning(
        "DRIFT %s %s on %s v%s window [%.0f, %.0f): %s", event.severity, event.kind,
        event.model_name, event.model_version, event.window_start, event.window_end,
        event.summary,
    )


class WebhookSink:
    """POST each alert to ``url``; retries ``retries`` times with exponential backoff.
    ``report_link(event)``, when given, is where the message links the event's report."""

    def __init__(self, url: str, *, timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5,
                 report_link: Callable[[DriftEvent], str] | None = None) -> None:
        self.url = url
        self.report_link = report_link
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sent = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, event: DriftEvent) -> None:
        """Send in the background; returns at once."""
        task = asyncio.get_running_loop().create_task(self.send(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, event: DriftEvent) -> bool:
        import httpx

        body = format_alert(event, self.report_link(event) if self.report_link else None)
        delay = self.backoff
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(self.retries + 1):
                try:
                    response = await client.post(self.url, json=body)
                    if response.status_code < 300:
                        self.sent += 1
                        return True
                    reason = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    reason = repr(exc)
                if attempt < self.retries:
                    await asyncio.sleep(delay)
                    delay *= 2
        self.failed += 1
        log.error("webhook gave up on drift event %s after %d tries: %s", event.event_id,
                  self.retries + 1, reason)
        return False

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
