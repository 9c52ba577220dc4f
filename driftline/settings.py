"""Settings shared by every driftline process.

Each process builds exactly one settings object (a subclass of :class:`DriftlineSettings`) at
start-up; it reads ``DRIFTLINE_*`` environment variables and fails fast on bad values. Kafka
options live in :class:`KafkaSettings` (prefix ``DRIFTLINE_KAFKA_``) and are translated once
for both Kafka clients in use: confluent-kafka (librdkafka) and aiokafka (faust).
"""

from __future__ import annotations

import difflib
import logging
import os
import ssl
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from driftline.intake import TimeRange

__all__ = ["DriftlineSettings", "KafkaSettings", "unknown_variables", "warn_unknown_variables"]

log = logging.getLogger(__name__)

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"]


class KafkaSettings(BaseSettings):
    """How to reach Kafka and how topics are named and sized.

    With ``bootstrap_servers`` unset, driftline uses the local broker that
    ``driftline kafka start`` runs on ``127.0.0.1:<local_port>``.

    >>> KafkaSettings(bootstrap_servers="k1:9092,k2:9092").bootstrap
    'k1:9092,k2:9092'
    >>> KafkaSettings(local_port=19092, bootstrap_servers=None).bootstrap
    '127.0.0.1:19092'
    """

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_KAFKA_", extra="ignore")

    bootstrap_servers: str | None = Field(
        default=None,
        description="Bootstrap servers of an existing cluster, comma-separated (unset: the "
        "local broker of `driftline kafka start`).",
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="Security protocol of both Kafka clients."
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="SASL mechanism; required with a SASL_* protocol."
    )
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (a secret: never printed)."
    )
    ssl_ca_location: Path | None = Field(
        default=None, description="CA certificate file to verify the brokers."
    )
    ssl_certificate_location: Path | None = Field(
        default=None, description="Client certificate file (TLS client authentication)."
    )
    ssl_key_location: Path | None = Field(default=None, description="Client private key file.")
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of the client private key (a secret)."
    )
    client_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Extra librdkafka options passed through verbatim to confluent-kafka "
        'clients (JSON object, e.g. {"client.id": "scorer-1"}).',
    )

    topic_prefix: str = Field(
        default="",
        description="Prefix of every topic name (one cluster, several environments).",
    )
    partitions: int = Field(
        default=6, ge=1, le=1000,
        description="Partitions of the co-partitioned topics (transactions, predictions, "
        "labels, labeled) when driftline creates them.",
    )
    replication_factor: int | None = Field(
        default=None, ge=1, le=10,
        description="Replication factor of the topics driftline creates (unset: 3 when the "
        "cluster has three brokers or more, else 1). With 3 or more, driftline's topics get "
        "min.insync.replicas=2.",
    )

    local_port: int = Field(
        default=9092, ge=1, le=65535, description="Client listener port of the local broker."
    )
    local_controller_port: int = Field(
        default=9093, ge=1, le=65535,
        description="KRaft controller listener port of the local broker.",
    )
    local_heap: str = Field(
        default="512m",
        description="Java heap of the local broker (-Xms and -Xmx), of each node of a local "
        "cluster.",
    )
    local_brokers: int = Field(
        default=1, ge=1, le=3,
        description="Nodes `driftline kafka start` runs: 1, or 3 (a local KRaft cluster of "
        "three combined broker and controller nodes; node i listens on local_port + 2i and "
        "local_controller_port + 2i).",
    )

    @field_validator("bootstrap_servers")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip()

    @field_validator("local_brokers")
    @classmethod
    def _one_or_three(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError("DRIFTLINE_KAFKA_LOCAL_BROKERS is 1 (one broker) or 3 (a cluster)")
        return value

    @model_validator(mode="after")
    def _check_sasl(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and self.sasl_mechanism is None:
            raise ValueError(
                "DRIFTLINE_KAFKA_SECURITY_PROTOCOL is SASL_* but DRIFTLINE_KAFKA_SASL_MECHANISM "
                "is unset; set it to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
            )
        ports = [p for node in range(self.local_brokers) for p in self.local_node_ports(node)]
        if len(set(ports)) != len(ports):
            raise ValueError(
                "DRIFTLINE_KAFKA_LOCAL_PORT and _LOCAL_CONTROLLER_PORT must differ, and with "
                "DRIFTLINE_KAFKA_LOCAL_BROKERS=3 the ports local_port + 2i and "
                "local_controller_port + 2i (i = 0, 1, 2) too: set the controller port to "
                "local_port + 1"
            )
        if max(ports) > 65535:
            raise ValueError("the local cluster's ports run past 65535: lower the local ports")
        return self

    def local_node_ports(self, node: int) -> tuple[int, int]:
        """(client, controller) ports of the local cluster's node ``node`` (0-based).

        >>> KafkaSettings(local_port=9092, local_controller_port=9093).local_node_ports(2)
        (9096, 9097)
        """
        return self.local_port + 2 * node, self.local_controller_port + 2 * node

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers string both clients use: every node of the local cluster
        when none is given, so a client starts while any one of them is down.

        >>> KafkaSettings(bootstrap_servers=None, local_port=9092, local_brokers=3).bootstrap
        '127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096'
        """
        return self.bootstrap_servers or ",".join(
            f"127.0.0.1:{self.local_node_ports(node)[0]}" for node in range(self.local_brokers)
        )

    @property
    def uses_local_broker(self) -> bool:
        return self.bootstrap_servers is None

    def topic(self, logical: str) -> str:
        """The name on the cluster of the topic table's ``logical`` topic, under the prefix.

        >>> KafkaSettings(topic_prefix="t1.").topic("predictions")
        't1.predictions'
        """
        from driftline.topics import topic_name

        return topic_name(logical, self.topic_prefix)

    def service_topic(self, app_id: str, suffix: str) -> str:
        """The name on the cluster of a topic the service ``app_id`` keeps for itself."""
        from driftline.topics import service_topic

        return service_topic(app_id, suffix, self.topic_prefix)

    def confluent_config(self) -> dict[str, Any]:
        """librdkafka options for confluent-kafka clients (security included;
        ``client_options`` last, over everything else).

        Partition leaders are re-read every 10 s rather than librdkafka's 5 minutes: when a
        broker dies, the refresh librdkafka makes at once can still name it leader (the
        controller fences it a few seconds later), and its partitions then wait for the next
        periodic refresh (seen: a leader killed on a three-node cluster left a producer's
        messages queued over 60 s)."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol.lower(),
            "topic.metadata.refresh.interval.ms": 10_000,
        }
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = str(self.ssl_ca_location)
        if self.ssl_certificate_location:
            conf["ssl.certificate.location"] = str(self.ssl_certificate_location)
        if self.ssl_key_location:
            conf["ssl.key.location"] = str(self.ssl_key_location)
        if self.ssl_key_password:
            conf["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        conf.update(self.client_options)
        return conf

    def aiokafka_config(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (the client faust uses)."""
        conf: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            conf["sasl_mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl_plain_username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl_plain_password"] = self.sasl_password.get_secret_value()
        if self.security_protocol in ("SSL", "SASL_SSL"):
            conf["ssl_context"] = self.ssl_context()
        return conf

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=str(self.ssl_ca_location) if self.ssl_ca_location else None
        )
        if self.ssl_certificate_location:
            context.load_cert_chain(
                str(self.ssl_certificate_location),
                str(self.ssl_key_location) if self.ssl_key_location else None,
                self.ssl_key_password.get_secret_value() if self.ssl_key_password else None,
            )
        return context


class DriftlineSettings(BaseSettings):
    """Base of every process's settings object: where state lives and how to reach Kafka."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLINE_", extra="ignore")

    home: Path = Field(
        default=Path(".driftline"),
        description="Local state: broker data, embedded MLflow, manifests.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level of the process."
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text, or as one JSON object per line (time, level, logger, "
        "message, service, pid, and prediction_id, model, version where they apply).",
    )
    kafka: KafkaSettings = Field(
        default_factory=KafkaSettings,
        description="Kafka settings, read from DRIFTLINE_KAFKA_* variables.",
    )
    event_time_floor: datetime = Field(
        default=datetime(2000, 1, 1, tzinfo=UTC),
        description="The earliest event time a consumer accepts (ISO 8601; UTC if no zone); "
        "an earlier event goes to dead-letter.",
    )
    event_time_max_lead: float = Field(
        default=600.0,
        ge=0,
        description="How many seconds ahead of the consumer's clock an event time may be; a "
        "later event goes to dead-letter, its reason naming a likely unit mistake "
        "(milliseconds, microseconds).",
    )

    policy_file: Path | None = Field(
        default=None,
        description="TOML monitoring policy, read by the monitor and the retrainer: per "
        "model, each feature's test and threshold, features to ignore, dataset share, minimum "
        "rows, raise and clear windows, cooldown, performance tolerances, and the drift kinds "
        "that trigger a retrain (docs/monitoring.md); it overrides the matching settings. "
        "Validated at start (unset: the settings alone).",
    )

    def time_range(self) -> TimeRange:
        """The event times this process accepts (see :class:`driftline.intake.TimeRange`)."""
        floor = self.event_time_floor
        if floor.tzinfo is None:
            floor = floor.replace(tzinfo=UTC)
        return TimeRange(floor.timestamp(), self.event_time_max_lead)

    def topic(self, logical: str) -> str:
        """The name on the cluster of the topic table's ``logical`` topic (see
        :meth:`KafkaSettings.topic`)."""
        return self.kafka.topic(logical)

    @model_validator(mode="after")
    def _warn_unknown(self) -> DriftlineSettings:
        warn_unknown_variables()
        return self


def unknown_variables(
    environ: Mapping[str, str], known: Collection[str]
) -> list[tuple[str, str | None]]:
    """Each ``DRIFTLINE_*`` name in ``environ`` that is not in ``known``, with the closest
    known name (None when nothing is close).

    Names are compared as pydantic-settings reads them, without regard to case:

    >>> unknown_variables({"driftline_window_siz": "60", "driftline_home": "/x", "PATH": "/"},
    ...                   {"DRIFTLINE_WINDOW_SIZE", "DRIFTLINE_HOME"})
    [('driftline_window_siz', 'DRIFTLINE_WINDOW_SIZE')]
    >>> unknown_variables({"driftline_foo": "1"}, {"DRIFTLINE_PORT"})
    [('driftline_foo', None)]
    """
    found = []
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings matches names case-insensitively
        if upper.startswith("DRIFTLINE_") and upper not in known:
            # compared without the common prefix, which would make every name look close
            close = difflib.get_close_matches(upper[10:], [k[10:] for k in known], n=1)
            found.append((name, f"DRIFTLINE_{close[0]}" if close else None))
    return found


_checked_environment = False


def warn_unknown_variables(environ: Mapping[str, str] | None = None, *, once: bool = True) -> None:
    """Log a warning for every ``DRIFTLINE_*`` environment variable that no driftline setting
    knows: those of every service's settings class (one environment often feeds them all)
    and the variables read directly (:mod:`driftline.settings_doc`). Settings classes ignore
    unknown names, so a typo would otherwise go unnoticed. Once per process unless
    ``once`` is false."""
    global _checked_environment
    if once and _checked_environment:
        return
    _checked_environment = True
    environ = os.environ if environ is None else environ
    if not any(name.upper().startswith("DRIFTLINE_") for name in environ):
        return
    from driftline.settings_doc import known_names  # imports every service's settings

    for name, close in unknown_variables(environ, known_names()):
        hint = f"; did you mean {close}?" if close else ""
        log.warning("%s is not a driftline setting and is ignored%s", name, hint)
