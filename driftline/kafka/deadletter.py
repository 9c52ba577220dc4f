"""Dead-lettering: nothing that fails to process is dropped silently."""

from __future__ import annotations

import logging

from confluent_kafka import Message

from driftline.errors import ContractError
from driftline.events import DeadLetter, now
from driftline.kafka.producer import Producer

__all__ = ["DeadLetterWriter", "dead_letter_for"]

log = logging.getLogger(__name__)


def dead_letter_for(
    error: Exception | str,
    *,
    source_topic: str,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | None = None,
    value: bytes | None = None,
    service: str = "",
) -> DeadLetter:
    """Build the DeadLetter event for one failed message."""
    field = error.field if isinstance(error, ContractError) else ""
    return DeadLetter(
        event_time=now(),
        source_topic=source_topic,
        source_partition=partition,
        source_offset=offset,
        raw_key=key,
        value=value,
        error=str(error),
        error_field=field,
        service=service,
    )


class DeadLetterWriter:
    """Writes failed messages to the dead-letter topic and counts them."""

    def __init__(self, producer: Producer, topic: str, service: str) -> None:
        self._producer = producer
        self._topic = topic
        self._service = service
        self.count = 0

    def send(
        self,
        error: Exception | str,
        *,
        source_topic: str,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
        value: bytes | None = None,
    ) -> DeadLetter:
        letter = dead_letter_for(
            error,
            source_topic=source_topic,
            partition=partition,
            offset=offset,
            key=key,
            value=value,
            service=self._service,
        )
        self._producer.send(self._topic, letter)
        self.count += 1
        log.warning(
            "dead-lettered %s[%s]@%s: %s", source_topic, partition, offset, letter.error
        )
        return letter

    def send_message(self, error: Exception | str, msg: Message) -> DeadLetter:
        """Dead-letter a consumed confluent-kafka message as read."""
        return self.send(
            error,
            source_topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            key=msg.key(),
            value=msg.value(),
        )
