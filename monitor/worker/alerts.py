"""Where drift events go besides the topic: one log line each, and a Slack-compatible webhook
whose message names the event's drivers with their importance and links the event in the
monitor's drift report (``/report``) when the monitor's public base URL is set.

A failing webhook is retried (tenacity: exponential backoff with jitter, the receiver's
Retry-After honoured, no retry of a 4xx other than 429) and then given up on with a log line
and a count; it never stops or slows the stream (sends run in their own tasks).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime

import msgspec
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from driftline.events import DriftEvent
from driftline.logs import fields

__all__ = [
    "MAX_DRIVERS",
    "WebhookRefused",
    "WebhookSink",
    "drivers_line",
    "format_alert",
    "log_alert",
    "retry_after",
]

log = logging.getLogger("driftline.alerts")


MAX_DRIVERS = 5  # drivers an alert names; the event and the report hold them all


def drivers_line(event: DriftEvent) -> str:
    """The event's drivers with their importance, most importance-weighted effect first
    (empty for an event without drivers).

    >>> from driftline.events import Driver
    >>> e = DriftEvent(event_id="e", event_time=1.0, model_name="m", model_version="1",
    ...     kind="covariate", severity="low", window_start=0.0, window_end=1.0,
    ...     drivers=[Driver(feature="zip", effect=21.0, importance=0.001, severity="low")])
    >>> drivers_line(e)
    'drivers: zip (importance 0.1%, effect 21x threshold, low)'
    """
    if not event.drivers:
        return ""
    shown = "; ".join(d.describe() for d in event.drivers[:MAX_DRIVERS])
    more = len(event.drivers) - MAX_DRIVERS
    return f"drivers: {shown}" + (f"; and {more} more" if more > 0 else "")


def format_alert(event: DriftEvent, report_url: str | None = None) -> dict[str, object]:
    """The Slack incoming-webhook body: a text line with the drivers, the evidence as blocks,
    and a link to the event in the drift report when ``report_url`` is given; the payload's
    ``drivers`` carry the event's drivers as data."""
    worst = [s for s in event.statistics if s.drifted][:5]
    lines = "\n".join(
        f"• {s.feature}: {s.statistic} {s.value:.4g} (threshold {s.threshold:.4g})" for s in worst
    )
    drivers = drivers_line(event)
    evidence = ", ".join(
        f"{r.topic}[{r.partition}] {r.first_offset}-{r.last_offset}" for r in event.evidence[:6]
    )
    text = (
        f":rotating_light: {event.severity.upper()} {event.kind} drift on "
        f"{event.model_name} v{event.model_version}"
    )
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*\n{event.summary}"}},
    ]
    if drivers:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": drivers}})
    blocks += [
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
    body: dict[str, object] = {
        "text": f"{text}: {event.summary}{f' ({drivers})' if drivers else ''}{link}",
        "blocks": blocks,
    }
    if event.drivers:
        body["drivers"] = msgspec.to_builtins(event.drivers)
    return body


def log_alert(event: DriftEvent) -> None:
    drivers = drivers_line(event)
    log.warning(
        "DRIFT %s %s on %s v%s window [%.0f, %.0f): %s%s", event.severity, event.kind,
        event.model_name, event.model_version, event.window_start, event.window_end,
        event.summary, f" ({drivers})" if drivers else "",
        extra=_fields(event),
    )


def _fields(event: DriftEvent) -> dict[str, object]:
    return fields(event_id=event.event_id, model=event.model_name,
                  version=event.model_version, kind=event.kind, severity=event.severity)


class WebhookRefused(Exception):
    """The receiver answered with a status a retry cannot change (4xx other than 429)."""


class _Retryable(Exception):
    """A failure worth another try (5xx, 429, a transport error); ``after``: the seconds
    the receiver asked to wait (Retry-After), if it did."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date); None when
    absent or unreadable.

    >>> retry_after("3"), retry_after(None), retry_after("soon")
    (3.0, None, None)
    >>> retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
    10.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


class WebhookSink:
    """POST each alert to ``url``, in the background.

    A transport error, a 5xx or a 429 is retried up to ``retries`` times, waiting
    exponentially longer from ``backoff`` seconds with random jitter (at most ``max_wait``),
    or as long as the receiver's Retry-After asks (up to ``max_wait``); any other 4xx is
    refused at once (a retry would get the same answer). ``on_outcome(outcome)`` is told
    each ending: ``delivered``, ``refused`` or ``failed`` (gave up). ``report_link(event)``,
    when given, is where the message links the event's report."""

    def __init__(self, url: str, *, timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5, max_wait: float = 60.0,
                 on_outcome: Callable[[str], None] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 report_link: Callable[[DriftEvent], str] | None = None) -> None:
        self.url = url
        self.report_link = report_link
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.on_outcome = on_outcome
        self._sleep = sleep
        self.sent = 0
        self.failed = 0
        self.refused = 0
        self._jitter = wait_exponential_jitter(multiplier=backoff, max=max_wait, jitter=backoff)
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, event: DriftEvent) -> None:
        """Send in the background; returns at once."""
        task = asyncio.get_running_loop().create_task(self._send_quietly(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_quietly(self, event: DriftEvent) -> None:
        await self.send(event)

    def _wait(self, state: RetryCallState) -> float:
        """Retry-After when the receiver gave one, else exponential backoff with jitter."""
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, _Retryable) and error.after is not None:
            return min(error.after, self.max_wait)
        return float(self._jitter(state))

    async def send(self, event: DriftEvent) -> bool:
        """Deliver one alert; True once the receiver took it (2xx)."""
        import httpx

        body = format_alert(event, self.report_link(event) if self.report_link else None)
        async with httpx.AsyncClient(timeout=self.timeout) as client:

            async def post() -> None:
                try:
                    response = await client.post(self.url, json=body)
                except httpx.HTTPError as exc:
                    raise _Retryable(repr(exc)) from exc
                status = response.status_code
                if status < 300:
                    return
                reason = f"HTTP {status}"
                if status == 429 or status >= 500:
                    raise _Retryable(reason, retry_after(response.headers.get("retry-after")))
                raise WebhookRefused(reason)

            try:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(_Retryable),
                    stop=stop_after_attempt(self.retries + 1),
                    wait=self._wait, sleep=self._sleep, reraise=True,
                ):
                    with attempt:
                        await post()
            except WebhookRefused as exc:
                self.refused += 1
                self._outcome("refused")
                log.error("webhook refused drift event %s: %s (not retried)", event.event_id,
                          exc, extra=_fields(event))
                return False
            except _Retryable as exc:
                self.failed += 1
                self._outcome("failed")
                log.error("webhook gave up on drift event %s after %d tries: %s",
                          event.event_id, self.retries + 1, exc, extra=_fields(event))
                return False
        self.sent += 1
        self._outcome("delivered")
        return True

    def _outcome(self, outcome: str) -> None:
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
