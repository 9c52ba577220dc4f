from __future__ import annotations

import pytest

from driftline.errors import LocalKafkaError
from driftline.localkafka import LocalKafka
from driftline.settings import DriftlineSettings


def test_missing_java_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr("driftline.localkafka.shutil.which", lambda name: None)
    with pytest.raises(LocalKafkaError, match=r"Java 17 or newer.*apt-get install openjdk-17"):
        LocalKafka(DriftlineSettings(home=tmp_path)).fetch()


def test_missing_maven_says_what_to_install(monkeypatch, tmp_path):
    real = __import__("shutil").which
    monkeypatch.setattr(
        "driftline.localkafka.shutil.which", lambda name: None if name == "mvn" else real(name)
    )
    with pytest.raises(LocalKafkaError, match="apt-get install maven"):
        LocalKafka(DriftlineSettings(home=tmp_path)).fetch()


def test_version_comes_from_the_pom(tmp_path):
    assert LocalKafka(DriftlineSettings(home=tmp_path)).version.startswith("4.")


def test_a_cluster_id_starting_with_a_dash_formats(tmp_path, monkeypatch):
    """base64url cluster ids start with "-" one time in 64; the storage tool must take it."""
    import uuid

    from driftline.settings import KafkaSettings

    dashed = uuid.UUID(bytes=b"\xfb" + b"\x00" * 15)  # encodes to "-wAAAA..."
    monkeypatch.setattr("driftline.localkafka.uuid.uuid4", lambda: dashed)
    local = LocalKafka(DriftlineSettings(
        home=tmp_path, kafka=KafkaSettings(local_port=29291, local_controller_port=29290)))
    jars = local.fetch()
    local._write_config()
    local._format_once(jars)
    assert "cluster.id=-wAAAA" in (local.data_dir / "meta.properties").read_text()


def test_a_bind_error_is_found_above_the_shutdown_lines_and_only_in_this_start(tmp_path):
    """The broker logs its bind error, then a screenful of shutdown lines: the error is found
    in what this start logged, not only in the tail; an earlier start's error is not."""
    local = LocalKafka(DriftlineSettings(home=tmp_path))
    local.log_dir.mkdir(parents=True)
    server = local.log_dir / "server.log"
    server.write_text("java.net.BindException: Address already in use\n")  # an earlier start
    began = {name: local._log_size(name) for name in ("stdout.log", "server.log")}
    assert "BindException" not in local._logged_since(began)
    with server.open("a") as log:
        log.write("ERROR [SocketServer] java.net.BindException: Address already in use\n")
        log.writelines(f"INFO shutting down part {i}\n" for i in range(40))
    assert "BindException" in local._logged_since(began)
    assert "BindException" not in local._log_tail()
