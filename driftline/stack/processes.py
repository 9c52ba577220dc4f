"""Processes of ``driftline stack``: each part runs in a session (and process group) of its
own, its pid in ``<stack>/run/<name>.pid`` with the process's start time (so a recycled pid is
never taken for it), its output in ``<stack>/logs/<name>.log``. Stopping signals the whole
group and waits until no process of the group is left, SIGKILL after a timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Launched", "ProcessTable", "group_members"]


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0], pgrp [2],
    start time [19]); None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class Launched:
    """A part started by :class:`ProcessTable`: its pid (also its process group id)."""

    name: str
    pid: int


class ProcessTable:
    """Start, find and stop the stack's processes under ``root`` (``run/`` and ``logs/``)."""

    def __init__(self, root: Path) -> None:
        self.run_dir = root / "run"
        self.log_dir = root / "logs"
        # children this object started, reaped when they stop (no zombies, no warnings)
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._by_name: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str], cwd: Path,
              user: tuple[int, int] | None = None) -> Launched:
        """Run ``argv`` in a new session, output appended to the part's log; as the
        ``(uid, gid)`` of ``user`` when given."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("ab") as log:
            proc = subprocess.Popen(
                list(argv), env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                **({"user": user[0], "group": user[1], "extra_groups": []} if user else {}),
            )
        self._children[proc.pid] = proc
        self._by_name[name] = proc
        fields = _stat(proc.pid)
        started = fields[19] if fields else "0"
        self._pid_file(name).write_text(f"{proc.pid} {started}\n")
        return Launched(name, proc.pid)

    def pid(self, name: str) -> int | None:
        """The pid of the part if it still runs (its leader, or any process of its group)."""
        try:
            pid_text, started = self._pid_file(name).read_text().split()
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            return None
        fields = _stat(pid)
        if fields is not None and fields[0] != "Z" and fields[19] == started:
            return pid
        # the leader is gone; processes it left in its group still count as running
        return pid if group_members(pid) else None

    def exited(self, name: str) -> int | None:
        """The exit code of a part this object started that has ended, else None."""
        proc = self._by_name.get(name)
        return None if proc is None else proc.poll()

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
        """Signal the part's process group with ``sig``, wait until none of it is left
        (SIGKILL to the group after ``timeout``). False if it was not running."""
        pid = self.pid(name)
        if pid is None:
            self._pid_file(name).unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        if not self._wait_gone(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self._pid_file(name).unlink(missing_ok=True)
        return True

    def _wait_gone(self, pgid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            child = self._children.get(pgid)
            if child is not None:
                child.poll()  # reaps our own leader, which would otherwise stay a zombie
            if not group_members(pgid):
                self._children.pop(pgid, None)
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
