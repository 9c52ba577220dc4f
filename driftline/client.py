"""A small client for services that score elsewhere and want their predictions and labels
monitored by driftline.

It builds and validates :class:`~driftline.events.PredictionEvent` and
:class:`~driftline.events.LabelEvent`, and writes them with driftline's
:class:`~driftline.kafka.Producer` (idempotent, ``acks=all``, murmur2 partitioning) to
``predictions`` and ``labels``, keyed by prediction id, so the monitor joins them.

>>> from driftline.settings import KafkaSettings
>>> client = DriftlineClient(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
>>> client.label("p-1", "yes")
Traceback (most recent call last):
...
driftline.errors.ContractError: invalid LabelEvent at field 'label': Expected `int`, got `str`
>>> client.close()  # nothing was written: no connection was made
0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftline.events import (
    FeatureValue,
    LabelEvent,
    PredictionEvent,
    from_mapping,
    new_id,
    now,
)
from driftline.kafka import Producer
from driftline.settings import KafkaSettings

__all__ = ["DriftlineClient"]


class DriftlineClient:
    """Write predictions and labels to driftline's topics on the cluster of ``kafka``.

    Messages are queued and sent in the background; :meth:`flush` waits for Kafka's
    acknowledgements and :attr:`failed` counts deliveries that failed. Use it as a context
    manager, or call :meth:`close`.
    """

    def __init__(self, kafka: KafkaSettings | None = None, *, model_name: str | None = None,
                 model_version: str | None = None) -> None:
        self._kafka = kafka or KafkaSettings()
        self.model_name = model_name
        self.model_version = model_version
        self._producer = Producer(self._kafka)
        self._predictions = self._kafka.topic("predictions")
        self._labels = self._kafka.topic("labels")

    def prediction(
        self,
        features: Mapping[str, FeatureValue],
        score: float,
        decision: str,
        *,
        prediction_id: str | None = None,
        model_name: str | None = None,
        model_version: str | None = None,
        event_time: float | None = None,
        entity_id: str | None = None,
    ) -> str:
        """Write one prediction (``features`` as scored, ``score`` a probability in [0, 1]);
        returns its prediction id (a new one unless given), the key of its label.

        Model name and version default to the client's. Raises ContractError naming the
        field when the prediction does not satisfy the contract."""
        fields: dict[str, Any] = {
            "prediction_id": prediction_id or new_id(),
            "event_time": now() if event_time is None else event_time,
            "model_name": self.model_name if model_name is None else model_name,
            "model_version": self.model_version if model_version is None else model_version,
            "features": dict(features),
            "score": score,
            "decision": decision,
            "entity_id": entity_id,
        }
        event = from_mapping(PredictionEvent, fields)
        self._producer.send(self._predictions, event)
        return event.prediction_id

    def label(self, prediction_id: str, label: int, *, event_time: float | None = None) -> None:
        """Write the outcome of prediction ``prediction_id`` (``event_time``: when it became
        known, default now). Raises ContractError naming the field when invalid."""
        event = from_mapping(LabelEvent, {
            "prediction_id": prediction_id,
            "label": label,
            "event_time": now() if event_time is None else event_time,
        })
        self._producer.send(self._labels, event)

    @property
    def failed(self) -> int:
        """Messages Kafka reported as not delivered (see the producer's log for why)."""
        return self._producer.failed

    def flush(self, timeout: float = 30.0) -> int:
        """Wait up to ``timeout`` seconds for every queued message to be acknowledged;
        returns how many are still queued."""
        return self._producer.flush(timeout)

    def close(self, timeout: float = 30.0) -> int:
        """Flush and release the connection; returns how many messages were left queued."""
        return self._producer.close(timeout)

    def __enter__(self) -> DriftlineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
