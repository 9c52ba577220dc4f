"""The topic table: every Kafka topic driftline uses, declared once.

``predictions``, ``labels`` and ``labeled`` share the key (prediction_id) and the partition
count, so the monitor's join is local to a partition.

Every name on the cluster comes from :func:`topic_name` (a topic of the table) or
:func:`service_topic` (a topic a service keeps for itself), both under the configured prefix;
services call them through ``settings.kafka.topic(...)`` and ``settings.kafka.service_topic(...)``.

>>> [t.name for t in TOPICS][:3]
['transactions', 'predictions', 'labels']
>>> topic_names(prefix="t1.")["predictions"]
't1.predictions'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from driftline.events import (
    DataValidationEvent,
    DeadLetter,
    DriftEvent,
    Event,
    LabeledEvent,
    LabelEvent,
    ModelUpdateEvent,
    PredictionEvent,
    RetrainerState,
    TransactionEvent,
)

__all__ = [
    "TOPICS", "TopicSpec", "service_topic", "spec_for", "spec_on_cluster", "topic_name",
    "topic_names",
]

_WEEK_MS = 7 * 24 * 3600 * 1000
_MONTH_MS = 30 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, sizing, retention or compaction, and what it carries."""

    name: str
    event: type[Event]
    key: str
    partitions: int | None = None  # None: the cluster-wide default from KafkaSettings
    config: dict[str, str] = field(default_factory=dict)
    description: str = ""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "transactions", TransactionEvent, "entity_id",
        config={"retention.ms": str(_WEEK_MS)},
        description="raw requests to score as a stream",
    ),
    TopicSpec(
        "predictions", PredictionEvent, "prediction_id",
        config={"retention.ms": str(_MONTH_MS)},
        description="every prediction with its features as scored",
    ),
    TopicSpec(
        "labels", LabelEvent, "prediction_id",
        config={"retention.ms": str(_MONTH_MS)},
        description="ground truth, minutes to days late",
    ),
    TopicSpec(
        "labeled", LabeledEvent, "prediction_id",
        config={"retention.ms": str(3 * _MONTH_MS)},
        description="predictions joined with labels: the training log",
    ),
    TopicSpec(
        "drift-events", DriftEvent, "model_name", partitions=1,
        config={"retention.ms": str(3 * _MONTH_MS)},
        description="one event per drift finding, with evidence",
    ),
    TopicSpec(
        "model-updates", ModelUpdateEvent, "model_name", partitions=1,
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
        description="alias moves in the model registry (compacted)",
    ),
    TopicSpec(
        "data-validation", DataValidationEvent, "model_name", partitions=1,
        config={"retention.ms": str(3 * _MONTH_MS)},
        description="checks of each retrain's training data, and why a set was refused",
    ),
    TopicSpec(
        "retrainer-state", RetrainerState, "model_name", partitions=1,
        config={"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
        description="what each model's retrainer remembers across restarts (compacted)",
    ),
    TopicSpec(
        "dead-letter", DeadLetter, "source_topic", partitions=1,
        config={"retention.ms": str(_MONTH_MS)},
        description="raw bytes that failed, with the reason and source offsets",
    ),
)

_BY_NAME = {t.name: t for t in TOPICS}


def spec_for(name: str) -> TopicSpec:
    """The spec of a logical topic name (without prefix)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(_BY_NAME)
        raise KeyError(f"unknown topic {name!r}; driftline's topics are: {known}") from None


def spec_on_cluster(topic: str, prefix: str = "") -> TopicSpec | None:
    """The spec of the table's topic named ``topic`` on the cluster under ``prefix``; None
    for any other topic (a service's own, or another prefix's).

    >>> spec_on_cluster("t1.labels", "t1.").key, spec_on_cluster("t2.labels", "t1.")
    ('prediction_id', None)
    """
    if not topic.startswith(prefix):
        return None
    return _BY_NAME.get(topic[len(prefix):])


def topic_name(topic: str | TopicSpec, prefix: str = "") -> str:
    """The name on the cluster of a topic: the table's topic by logical name (an unknown name
    raises KeyError listing the known ones), or the topic a spec declares.

    >>> topic_name("labels", "backtest-7.")
    'backtest-7.labels'
    """
    name = topic.name if isinstance(topic, TopicSpec) else spec_for(topic).name
    return f"{prefix}{name}"


def service_topic(app_id: str, suffix: str, prefix: str = "") -> str:
    """The name on the cluster of a topic that the service ``app_id`` keeps for itself.

    >>> service_topic("driftline-monitor", "reports", "t1.")
    't1.driftline-monitor-reports'
    """
    if not app_id or not suffix:
        raise ValueError("a service topic needs an app id and a suffix")
    return f"{prefix}{app_id}-{suffix}"


def topic_names(prefix: str = "") -> dict[str, str]:
    """Logical name -> name on the cluster of every topic of the table."""
    return {t.name: topic_name(t.name, prefix) for t in TOPICS}
