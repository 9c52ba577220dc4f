"""The retrainer's memory in Kafka: one :class:`~driftline.events.RetrainerState` per model
on the compacted ``retrainer-state`` topic.

:meth:`StateStore.write` sends the state and waits for the broker's acknowledgement; the
worker writes it before it commits a drift event's offset, so a restart never finds an
event committed that its memory does not hold. :meth:`StateStore.read` reads the topic from
its start to its end and keeps the model's latest record; a record that does not decode
goes to the dead-letter topic with the reason and an older one (or none) is used.
"""

from __future__ import annotations

import logging

from driftline.errors import ContractError
from driftline.events import RetrainerState, decode
from driftline.kafka import DeadLetterWriter, Producer, iter_range
from driftline.kafka.admin import watermarks
from driftline.settings import KafkaSettings

__all__ = ["StateStore"]

log = logging.getLogger(__name__)


class StateStore:
    """Reads and writes the state of the retrainers on ``topic``."""

    def __init__(self, kafka: KafkaSettings, topic: str, producer: Producer,
                 dead: DeadLetterWriter) -> None:
        self.kafka = kafka
        self.topic = topic
        self._producer = producer
        self._dead = dead

    def read(self, model_name: str) -> RetrainerState | None:
        """The latest state written for ``model_name`` (None: none yet)."""
        found: RetrainerState | None = None
        key = model_name.encode()
        for msg in iter_range(self.kafka, self.topic, watermarks(self.kafka, self.topic)):
            if msg.key() != key or msg.value() is None:
                continue
            try:
                state = decode(RetrainerState, msg.value())
            except ContractError as exc:
                log.error("%s: a state of %s does not decode (%s); dead-lettered",
                          self.topic, model_name, exc)
                self._dead.send_message(exc, msg)
                continue
            if state.model_name == model_name:
                found = state
        return found

    def write(self, state: RetrainerState, timeout: float = 10.0) -> bool:
        """Send ``state`` and wait for the broker; False (logged) when it was not
        acknowledged within ``timeout`` seconds."""
        failed_before = self._producer.failed
        self._producer.send(self.topic, state)
        left = self._producer.flush(timeout)
        if left or self._producer.failed > failed_before:
            log.warning("%s: the state of %s was not acknowledged (%s)", self.topic,
                        state.model_name, self._producer.last_error or f"{left} queued")
            return False
        return True
