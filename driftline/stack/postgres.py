"""PostgreSQL for the stack's MLflow: a cluster of its own in ``<stack>/postgres``, listening
on 127.0.0.1 only (no Unix socket), trusting local connections, with one database and role,
``mlflow``. PostgreSQL refuses to run as root, so when driftline runs as root the server (and
``initdb``) run as a system user (``postgres`` by default, DRIFTLINE_STACK_POSTGRES_USER),
which then owns the data folder.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from driftline.errors import DriftlineError
from driftline.stack.processes import ProcessTable

__all__ = ["DATABASE", "Postgres", "StackError", "find_postgres_bin"]

DATABASE = "mlflow"


class StackError(DriftlineError):
    """A part of ``driftline stack`` cannot start or is misconfigured."""


def find_postgres_bin() -> Path:
    """The folder of ``initdb`` and ``postgres``: on PATH, else the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian installs them there)."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(re.sub(r"\D", "", p.parent.parent.name) or 0))
    if not found:
        raise StackError(
            "PostgreSQL's server is not installed (no initdb): install it once with "
            "`apt-get install -y postgresql` (scripts/system-packages does it as root)"
        )
    return found[-1].parent


class Postgres:
    """Initialise, start, wait for and stop the stack's PostgreSQL."""

    def __init__(self, root: Path, port: int, system_user: str, table: ProcessTable) -> None:
        self.data_dir = root / "postgres"
        self.port = port
        self.system_user = system_user
        self.table = table

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{DATABASE}@127.0.0.1:{self.port}/{DATABASE}"

    def _user(self) -> tuple[int, int] | None:
        """(uid, gid) to run as: the system user when this process is root, else None."""
        if os.geteuid() != 0:
            return None
        try:
            entry = pwd.getpwnam(self.system_user)
        except KeyError:
            raise StackError(
                f"PostgreSQL does not run as root and there is no user {self.system_user!r} "
                "to run it as: install the postgresql package (it creates `postgres`) or set "
                "DRIFTLINE_STACK_POSTGRES_USER to an existing unprivileged user"
            ) from None
        return entry.pw_uid, entry.pw_gid

    def _initialise(self, bin_dir: Path, user: tuple[int, int] | None) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            os.chown(self.data_dir, *user)
        self.data_dir.chmod(0o700)
        done = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data_dir), f"--username={DATABASE}",
             "--auth=trust", "--encoding=UTF8", "--no-sync"],
            capture_output=True, text=True, cwd=self.data_dir,
            **({"user": user[0], "group": user[1], "extra_groups": []} if user else {}),
        )
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            hint = "" if user is None else (
                f" (the {self.system_user} user must reach {self.data_dir}: every folder "
                "above it needs o+x)")
            raise StackError(f"initdb failed{hint}:\n{(done.stdout + done.stderr)[-2000:]}")

    def start(self) -> None:
        """Initialise the cluster once, start the server (if not running) and return once it
        accepts connections and the ``mlflow`` database exists."""
        if self.table.pid("postgres") is None:
            if _port_taken(self.port):
                raise StackError(
                    f"port {self.port} on 127.0.0.1 is in use: stop what listens there or set "
                    "DRIFTLINE_STACK_POSTGRES_PORT"
                )
            bin_dir = find_postgres_bin()
            user = self._user()
            self._initialise(bin_dir, user)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
            self.table.start("postgres", [
                str(bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                "-c", "synchronous_commit=off",
            ], env, cwd=self.data_dir, user=user)
        self._wait_ready()
        self._create_database()

    def _connect(self, database: str):  # -> psycopg2 connection
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=DATABASE,
                                dbname=database, connect_timeout=2)

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import psycopg2

        deadline = time.monotonic() + timeout
        while True:
            try:
                self._connect("postgres").close()
                return
            except psycopg2.OperationalError as exc:
                if self.table.exited("postgres") is not None or time.monotonic() > deadline:
                    tail = self.table.log("postgres").read_text(errors="replace")[-2000:]
                    raise StackError(f"PostgreSQL did not start ({exc}):\n{tail}") from None
            time.sleep(0.2)

    def _create_database(self) -> None:
        conn = self._connect("postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            conn.close()

    def answers(self) -> bool:
        return _port_taken(self.port)

    def stop(self) -> bool:
        """Fast shutdown (SIGINT: open sessions are ended, data is flushed)."""
        return self.table.stop("postgres", signal.SIGINT)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
