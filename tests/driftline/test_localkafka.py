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
