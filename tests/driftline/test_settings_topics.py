from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftline.settings import DriftlineSettings, KafkaSettings
from driftline.topics import TOPICS, spec_for, topic_names


def test_security_settings_reach_both_clients(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS", "k1:9093,k2:9093")
    monkeypatch.setenv("DRIFTLINE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("DRIFTLINE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("DRIFTLINE_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("DRIFTLINE_KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("DRIFTLINE_KAFKA_CLIENT_OPTIONS", '{"client.id": "scorer-7"}')
    settings = DriftlineSettings()
    conf = settings.kafka.confluent_config()
    assert conf["bootstrap.servers"] == "k1:9093,k2:9093"
    assert conf["security.protocol"] == "sasl_plaintext"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert (conf["sasl.username"], conf["sasl.password"]) == ("svc", "s3cret")
    assert conf["client.id"] == "scorer-7"
    aio = settings.kafka.aiokafka_config()
    assert aio["sasl_plain_username"] == "svc" and aio["sasl_plain_password"] == "s3cret"
    assert aio["security_protocol"] == "SASL_PLAINTEXT"
    assert "s3cret" not in repr(settings)  # secrets never print


def test_every_client_rereads_leaders_every_10_s_unless_the_client_options_say(monkeypatch):
    from driftline.kafka.consumer import Consumer
    from driftline.kafka.producer import Producer

    key = "topic.metadata.refresh.interval.ms"
    kafka = KafkaSettings(bootstrap_servers="k1:9092")
    assert Producer(kafka)._config[key] == Consumer(kafka, client=object()).config[key] == 10_000
    mine = KafkaSettings(bootstrap_servers="k1:9092", client_options={key: 60_000})
    assert Producer(mine)._config[key] == Consumer(mine, client=object()).config[key] == 60_000


def test_sasl_without_mechanism_fails_fast(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="SASL_MECHANISM"):
        KafkaSettings()


def test_bad_values_fail_fast(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_KAFKA_PARTITIONS", "0")
    with pytest.raises(ValidationError, match="partitions"):
        KafkaSettings()


def test_without_bootstrap_servers_the_local_broker_is_used(monkeypatch):
    monkeypatch.delenv("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("DRIFTLINE_KAFKA_LOCAL_PORT", "19092")
    settings = KafkaSettings()
    assert settings.uses_local_broker and settings.bootstrap == "127.0.0.1:19092"


def test_join_topics_are_co_partitioned():
    counts = {t.name: t.partitions for t in TOPICS}
    assert counts["predictions"] == counts["labels"] == counts["labeled"]
    assert {spec_for(n).key for n in ("predictions", "labels", "labeled")} == {"prediction_id"}


def test_model_updates_is_compacted_and_every_topic_names_its_event():
    assert spec_for("model-updates").config["cleanup.policy"] == "compact"
    for spec in TOPICS:
        assert spec.event.topic == spec.name


def test_prefix_applies_to_every_topic():
    assert all(v.startswith("x.") for v in topic_names("x.").values())
    with pytest.raises(KeyError, match="driftline's topics"):
        spec_for("nope")
