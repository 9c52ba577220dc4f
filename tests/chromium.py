"""Open a page in headless Chromium with the network shut, over the DevTools protocol.

:func:`open_page` starts Debian's ``chromium`` with every HTTP(S) request sent to a proxy
on 127.0.0.1 that does not listen and every host name unresolvable, so nothing leaves the
machine, loads the page, and returns what a reader's browser did with it: every URL it
asked for, every console message and uncaught error, the page's sections (id, height, how
many charts) and a screenshot of each section.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PageVisit", "chromium", "open_page"]

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
_SECTIONS = """JSON.stringify([...document.querySelectorAll('section[data-section]')].map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, top: r.top + window.scrollY, height: r.height,
          charts: s.querySelectorAll('svg').length, text: s.innerText.slice(0, 20000)};
}))"""


def chromium() -> str | None:
    """The Chromium binary on PATH, if any."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageVisit:
    """What the browser did with one page."""

    requested: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    exceptions: list[str] = field(default_factory=list)
    sections: list[dict[str, Any]] = field(default_factory=list)
    screenshots: dict[str, Path] = field(default_factory=dict)

    @property
    def fetched(self) -> list[str]:
        """The URLs requested, less the ``data:`` URLs of what the page itself holds (its
        embedded images)."""
        return [url for url in self.requested if not url.startswith("data:")]

    @property
    def errors(self) -> list[str]:
        return [text for level, text in self.console if level == "error"] + self.exceptions


class _Session:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, session: str | None = None, timeout: float = 60.0,
             **params: Any) -> dict[str, Any]:
        n = next(self.ids)
        message: dict[str, Any] = {"id": n, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == n:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            self.events.append(event)
            if event.get("method") == method:
                return event


def _launch(binary: str, profile: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [binary, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", "--disable-sync",
         "--disable-component-update", "--disable-default-apps", "--mute-audio",
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
         "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stderr is not None
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        found = _LISTENING.search(line)
        if found:  # keep reading its log, or a full pipe would stall the browser
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            return proc, found.group(1)
    _stop(proc)
    raise RuntimeError("chromium did not open its DevTools port:\n" + "".join(seen[-20:]))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _visit(cdp: _Session, path: Path, shots: Path | None, width: int,
           visit: PageVisit) -> None:
    """Load the page in a new tab, read its sections, take the screenshots."""
    target = cdp.call("Target.createTarget", url="about:blank")["targetId"]
    session = cdp.call("Target.attachToTarget", targetId=target,
                       flatten=True)["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Log"):
        cdp.call(f"{domain}.enable", session)
    cdp.call("Emulation.setDeviceMetricsOverride", session, width=width, height=1000,
             deviceScaleFactor=1, mobile=False)
    cdp.call("Page.navigate", session, url=path.resolve().as_uri())
    cdp.wait_for("Page.loadEventFired")
    result = cdp.call("Runtime.evaluate", session, expression=_SECTIONS,
                      returnByValue=True)
    visit.sections = json.loads(result["result"]["value"])
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
        for s in visit.sections:
            clip = {"x": 0, "y": s["top"], "width": width,
                    "height": min(s["height"], 8000), "scale": 1}
            data = cdp.call("Page.captureScreenshot", session, format="png",
                            clip=clip, captureBeyondViewport=True)["data"]
            shot = shots / f"{s['id']}.png"
            shot.write_bytes(base64.b64decode(data))
            visit.screenshots[s["id"]] = shot


def open_page(path: Path, shots: Path | None = None, width: int = 1400) -> PageVisit:
    """Load ``path`` (a local file) and report what happened; ``shots``: a folder for one
    PNG per section."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("no chromium on PATH (scripts/system-packages installs it)")
    from websockets.sync.client import connect

    visit = PageVisit()
    with tempfile.TemporaryDirectory(prefix="driftline-chromium-") as profile:
        proc, url = _launch(binary, profile)
        try:
            with connect(url, max_size=64 * 1024 * 1024, open_timeout=30) as ws:
                cdp = _Session(ws)
                _visit(cdp, path, shots, width, visit)
        finally:
            _stop(proc)
    for event in cdp.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            visit.requested.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in
                            params.get("args", []))
            visit.console.append(("error" if params.get("type") in ("error", "assert")
                                  else params.get("type", "log"), text))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            visit.console.append((entry.get("level", "info"),
                                  f"{entry.get('text', '')} {entry.get('url', '')}".strip()))
        elif method == "Runtime.exceptionThrown":
            visit.exceptions.append(json.dumps(params.get("exceptionDetails", {}))[:500])
    return visit
