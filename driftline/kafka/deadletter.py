"""Dead-lettering: nothing that fails to process is dropped silently.

A dead letter keeps a bounded prefix of the raw key and value with the value's length and
SHA-256, and a bounded error text, so it is never too large to send whatever was read:

>>> letter = dead_letter_for("too big", source_topic="labels", value=b"x" * 100_000)
>>> len(letter.value), letter.value_size, letter.value_truncated
(16384, 100000, True)
"""

from __future__ import annotations

import hashlib
import logging

from confluent_kafka import Message

from driftline.errors import ContractError
from driftline.events import DEAD_LETTER_PREFIX, DeadLetter, now
from driftline.kafka.producer import Producer
from driftline.logs import fields
from driftline.topics import spec_on_cluster

__all__ = ["DeadLetterWriter", "dead_letter_for"]

log = logging.getLogger(__name__)

_TEXT = 2048  # the most characters of an error, field or topic name a dead letter keeps

# the log field a topic's key fills: the prediction id of a prediction or a label, the model
_KEY_FIELDS = {"prediction_id": "prediction_id", "model_name": "model"}


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
    """Build the DeadLetter event for one failed message (bounded, see the module)."""
    field = error.field if isinstance(error, ContractError) else ""
    value = None if value is None else bytes(value)
    return DeadLetter(
        event_time=now(),
        source_topic=source_topic[:_TEXT],
        source_partition=partition,
        source_offset=offset,
        raw_key=None if key is None else bytes(key[:DEAD_LETTER_PREFIX]),
        value=None if value is None else value[:DEAD_LETTER_PREFIX],
        value_size=None if value is None else len(value),
        value_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        value_truncated=value is not None and len(value) > DEAD_LETTER_PREFIX,
        error=str(error)[:_TEXT],
        error_field=field[:_TEXT],
        service=service,
    )


class DeadLetterWriter:
    """Writes failed messages to the dead-letter topic and counts them; each is logged with
    its source offsets, and with the prediction id or model its key names when it comes from
    a topic of the table under ``prefix``."""

    def __init__(self, producer: Producer, topic: str, service: str, *, prefix: str = "") -> None:
        self._producer = producer
        self._topic = topic
        self._service = service
        self._prefix = prefix
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
        context = fields(topic=source_topic, partition=partition, offset=offset,
                         error_field=letter.error_field or None)
        spec = spec_on_cluster(source_topic, self._prefix)
        key_field = _KEY_FIELDS.get(spec.key) if spec else None
        if key_field and key:
            context[key_field] = bytes(key[:256]).decode("utf-8", "replace")
        log.warning(
            "dead-lettered %s[%s]@%s: %s", source_topic, partition, offset, letter.error,
            extra=context,
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
