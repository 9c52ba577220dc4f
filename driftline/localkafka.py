"""The embedded local broker: one Apache Kafka 4.x node in KRaft mode, run from the official
jars that Maven resolves from Maven Central (``deploy/kafka/pom.xml``), with its data under
``<home>/kafka``. Used when ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` is unset.

:class:`LocalKafka` runs one node; :class:`NodeSpec` says which (its id, ports, the quorum's
voters and its folder), so that :mod:`driftline.localcluster` runs three of them as a cluster.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from driftline.errors import BrokerUnavailableError, LocalKafkaError
from driftline.kafka.admin import wait_for_broker
from driftline.settings import DriftlineSettings, KafkaSettings

__all__ = ["LocalKafka", "LocalKafkaStatus", "NodeSpec", "alive", "find_pom", "new_cluster_id"]

_REPO_POM = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "pom.xml"


def find_pom() -> Path:
    """The pom that lists the broker jars (``DRIFTLINE_KAFKA_POM`` overrides)."""
    pom = Path(os.environ.get("DRIFTLINE_KAFKA_POM", _REPO_POM))
    if not pom.is_file():
        raise LocalKafkaError(
            f"{pom} not found: run driftline from its source checkout, or set "
            "DRIFTLINE_KAFKA_POM to deploy/kafka/pom.xml"
        )
    return pom


@dataclass(frozen=True)
class NodeSpec:
    """One node of a local KRaft cluster: broker and controller in one process.

    ``voters`` is the static controller quorum (``id@host:port,...``); ``cluster_size`` sets
    the replication of the internal topics (3 with ``min.insync.replicas`` 2 on three nodes).
    """

    node_id: int
    port: int
    controller_port: int
    voters: str
    root: Path
    cluster_size: int = 1

    @classmethod
    def single(cls, settings: DriftlineSettings) -> NodeSpec:
        """The one node of ``driftline kafka start`` with a single broker."""
        k = settings.kafka
        return cls(1, k.local_port, k.local_controller_port,
                   f"1@127.0.0.1:{k.local_controller_port}", settings.home.resolve() / "kafka")


@dataclass(frozen=True)
class LocalKafkaStatus:
    running: bool
    answering: bool
    pid: int | None
    bootstrap: str
    version: str
    data_dir: Path

    def describe(self) -> str:
        if not self.running:
            return f"local Kafka {self.version}: stopped (data in {self.data_dir})"
        state = "answering" if self.answering else "not answering"
        return (
            f"local Kafka {self.version}: running, pid {self.pid}, {state} on {self.bootstrap} "
            f"(data in {self.data_dir})"
        )


class LocalKafka:
    """Fetch, format, start, stop and inspect the local broker."""

    def __init__(self, settings: DriftlineSettings, node: NodeSpec | None = None) -> None:
        self._settings = settings
        self._kafka = settings.kafka
        self.node = node or NodeSpec.single(settings)
        self.root = self.node.root
        self.data_dir = self.root / "data"
        self.log_dir = self.root / "logs"
        self.pid_file = self.root / "broker.pid"
        self.properties = self.root / "server.properties"
        self.log_config = self.root / "log4j2.properties"
        self.pom = find_pom()
        # the broker this object started: kept so that stop() can mark it reaped (a Popen
        # collected while its child runs warns; the broker is meant to outlive this object)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def version(self) -> str:
        match = re.search(r"<kafka.version>([^<]+)</kafka.version>", self.pom.read_text())
        return match.group(1) if match else "unknown"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.node.port}"

    @property
    def name(self) -> str:
        """"the broker", or "node <id>" in a cluster: how messages name it."""
        return "the broker" if self.node.cluster_size == 1 else f"node {self.node.node_id}"

    # -- jars -------------------------------------------------------------------------------

    def fetch(self) -> list[Path]:
        """Resolve the broker's jars through Maven (cached) and return the classpath."""
        self._require_java()
        pom_bytes = self.pom.read_bytes()
        digest = hashlib.sha256(pom_bytes).hexdigest()[:16]
        # one cache per home, shared by the single broker and the cluster's nodes
        cache = self._settings.home.resolve() / "kafka" / f"classpath-{digest}.txt"
        if cache.is_file():
            jars = [Path(p) for p in cache.read_text().split(os.pathsep) if p]
            if jars and all(j.is_file() for j in jars):
                return jars
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalKafkaError(
                "Maven is needed to fetch the Kafka jars: install it (Debian/Ubuntu: "
                "`apt-get install maven`, macOS: `brew install maven`), or point driftline at "
                "an existing cluster with DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS"
            )
        cache.parent.mkdir(parents=True, exist_ok=True)
        out = cache.parent / f"classpath-{os.getpid()}.tmp"
        cmd = [
            mvn, "-q", "-B", "-f", str(self.pom), "dependency:build-classpath",
            f"-Dmdep.outputFile={out}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            tail = (proc.stdout + proc.stderr).strip()[-2000:]
            raise LocalKafkaError(f"Maven could not resolve the Kafka jars:\n{tail}")
        out.replace(cache)
        return [Path(p) for p in cache.read_text().split(os.pathsep) if p]

    @staticmethod
    def _require_java() -> str:
        java = shutil.which("java")
        if java is None:
            raise LocalKafkaError(
                "Java 17 or newer is needed to run the local Kafka broker: install it "
                "(Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`, macOS: "
                "`brew install openjdk@17`)"
            )
        proc = subprocess.run([java, "-version"], capture_output=True, text=True)
        match = re.search(r'version "(\d+)', proc.stderr + proc.stdout)
        if match and int(match.group(1)) < 17:
            raise LocalKafkaError(
                f"Kafka 4 needs Java 17 or newer; `java` here is version {match.group(1)}. "
                "Install openjdk-17 and put it first on PATH"
            )
        return java

    # -- configuration ----------------------------------------------------------------------

    def _write_config(self) -> None:
        n = self.node
        # internal topics on every node of a three-node cluster; an acknowledged write on two
        replicas, min_isr = (3, 2) if n.cluster_size >= 3 else (1, 1)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            "\n".join(
                [
                    "# written by `driftline kafka start`; edits are overwritten",
                    "process.roles=broker,controller",
                    f"node.id={n.node_id}",
                    f"controller.quorum.voters={n.voters}",
                    f"listeners=PLAINTEXT://127.0.0.1:{n.port},"
                    f"CONTROLLER://127.0.0.1:{n.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{n.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={self.data_dir}",
                    "num.partitions=1",
                    f"offsets.topic.replication.factor={replicas}",
                    "offsets.topic.num.partitions=10",
                    f"transaction.state.log.replication.factor={replicas}",
                    f"transaction.state.log.min.isr={min_isr}",
                    f"share.coordinator.state.topic.replication.factor={replicas}",
                    f"share.coordinator.state.topic.min.isr={min_isr}",
                    # topics created without a factor (auto-created ones, say)
                    f"default.replication.factor={replicas}",
                    f"min.insync.replicas={min_isr}",
                    "group.initial.rebalance.delay.ms=0",
                    # A restarted single node waits for its previous registration's session to
                    # expire before it may register again: keep that wait short.
                    "broker.heartbeat.interval.ms=500",
                    "broker.session.timeout.ms=2500",
                    "auto.create.topics.enable=true",
                    "log.retention.hours=168",
                    "log.segment.bytes=104857600",
                    "",
                ]
            )
        )
        log_file = self.log_dir / "server.log"
        self.log_config.write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = RollingFile",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {log_file}",
                    f"appender.file.filePattern = {log_file}.%i",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "appender.file.policies.type = Policies",
                    "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
                    "appender.file.policies.size.size = 20MB",
                    "appender.file.strategy.type = DefaultRolloverStrategy",
                    "appender.file.strategy.max = 3",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "logger.kafka.name = kafka",
                    "logger.kafka.level = INFO",
                    "logger.state.name = state.change.logger",
                    "logger.state.level = WARN",
                    "",
                ]
            )
        )

    def _java_cmd(self, jars: list[Path], main: str, *args: str) -> list[str]:
        heap = self._kafka.local_heap
        argfile = self.root / "classpath.args"
        argfile.write_text("-cp " + os.pathsep.join(str(j) for j in jars) + "\n")
        return [
            self._require_java(),
            f"-Xms{heap}", f"-Xmx{heap}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log_config}",
            f"-Dkafka.logs.dir={self.log_dir}",
            f"@{argfile}",
            main, *args,
        ]

    def _format_once(self, jars: list[Path], cluster_id: str | None = None) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return
        cluster_id = cluster_id or new_cluster_id()
        # "--cluster-id=<id>": a base64url id may start with "-", which the tool's argument
        # parser would otherwise take for an option.
        cmd = self._java_cmd(
            jars, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
            f"--config={self.properties}",
        )
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LocalKafkaError(
                f"formatting {self.data_dir} failed:\n{(proc.stdout + proc.stderr)[-2000:]}"
            )

    # -- process ----------------------------------------------------------------------------

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # Guard against a recycled pid: the process must be our broker.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if str(self.properties).encode() not in cmdline:
                return None
        except FileNotFoundError:
            pass
        return pid

    def _port_taken(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    def status(self, probe_timeout: float = 2.0) -> LocalKafkaStatus:
        pid = self._pid()
        answering = False
        if pid is not None:
            try:
                wait_for_broker(self._local_settings(), timeout=probe_timeout)
                answering = True
            except BrokerUnavailableError:
                answering = False
        return LocalKafkaStatus(
            running=pid is not None,
            answering=answering,
            pid=pid,
            bootstrap=self.bootstrap,
            version=self.version,
            data_dir=self.data_dir,
        )

    def _local_settings(self) -> KafkaSettings:
        """The Kafka settings pointed at the local listener."""
        return self._kafka.model_copy(update={"bootstrap_servers": self.bootstrap})

    def start(self, timeout: float = 90.0) -> LocalKafkaStatus:
        """Start the broker (idempotent) and return once it answers a metadata request."""
        if self._pid() is not None:
            wait_for_broker(self._local_settings(), timeout=timeout)
            return self.status()
        proc, began = self.launch(self.fetch())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_started(proc, began)
            try:
                wait_for_broker(self._local_settings(), timeout=1.0)
                return self.status()
            except BrokerUnavailableError:
                continue
        self.stop()
        raise LocalKafkaError(
            f"the broker did not answer within {timeout:.0f}s; last log lines:\n{self._log_tail()}"
        )

    def launch(
        self, jars: list[Path], cluster_id: str | None = None
    ) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
        """Write the configuration, format the data folder once (with ``cluster_id``, a new
        one if None) and start the node's process without waiting for it. Returns the
        process and where this start's lines begin in each log (for :meth:`check_started`)."""
        for port in (self.node.port, self.node.controller_port):
            if self._port_taken(port):
                raise LocalKafkaError(
                    f"port {port} on 127.0.0.1 is in use by another process; stop it or set "
                    "DRIFTLINE_KAFKA_LOCAL_PORT / DRIFTLINE_KAFKA_LOCAL_CONTROLLER_PORT"
                )
        self.prepare(jars, cluster_id)
        # where this start's lines begin in each log (both are appended to across starts)
        began = {name: self._log_size(name) for name in _LOGS}
        stdout = open(self.log_dir / "stdout.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            self._java_cmd(jars, "kafka.Kafka", str(self.properties)),
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # survives the CLI; stopped by `driftline kafka stop`
        )
        stdout.close()
        self._process = proc
        self.pid_file.write_text(str(proc.pid))
        return proc, began

    def prepare(self, jars: list[Path], cluster_id: str | None = None) -> None:
        """Write the configuration and format the data folder unless it was."""
        self._write_config()
        self._format_once(jars, cluster_id)

    def check_started(self, proc: subprocess.Popen[bytes], began: dict[str, int]) -> None:
        """Raise LocalKafkaError, with the log's last lines, if ``proc`` exited."""
        if proc.poll() is None:
            return
        self.pid_file.unlink(missing_ok=True)
        tail = self._log_tail()
        hint = ""
        # the bind error comes before the shutdown's lines, often above the tail
        if "BindException" in self._logged_since(began):
            hint = (" (a listener port was taken; a port from 32768 up can be held "
                    "for a moment by an outgoing connection: pick ports below that)")
        raise LocalKafkaError(
            f"{self.name} exited with code {proc.returncode} while starting{hint}; last log "
            f"lines:\n{tail}"
        )

    def pid(self) -> int | None:
        """The node's process id while it runs, else None."""
        return self._pid()

    def kill(self) -> bool:
        """SIGKILL the node (a crash: no controlled shutdown). False if it was not running."""
        pid = self._pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
        if self._process is not None and self._process.pid == pid:
            self._process.poll()
            self._process = None
        self.pid_file.unlink(missing_ok=True)
        return True

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after ``timeout``).
        Returns False if it was not running."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.1)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while alive(pid):
                time.sleep(0.05)
        if self._process is not None and self._process.pid == pid:
            self._process.poll()  # already reaped by _alive: records it as done
            self._process = None
        self.pid_file.unlink(missing_ok=True)
        return True

    def _log_size(self, name: str) -> int:
        path = self.log_dir / name
        return path.stat().st_size if path.is_file() else 0

    def _logged_since(self, began: dict[str, int]) -> str:
        """What the logs gained since the sizes in ``began``."""
        out = []
        for name, offset in began.items():
            path = self.log_dir / name
            if path.is_file():
                with path.open("rb") as log:
                    log.seek(offset)
                    out.append(log.read().decode(errors="replace"))
        return "\n".join(out)

    def _log_tail(self, lines: int = 25) -> str:
        out = []
        for name in _LOGS:
            path = self.log_dir / name
            if path.is_file():
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out[-lines:])


_LOGS = ("stdout.log", "server.log")


def new_cluster_id() -> str:
    """A fresh KRaft cluster id (16 random bytes, base64url without padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie; reaps it if it is our child."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False
