"""One root exception for driftline, with a subclass per area.

Messages say what went wrong and what to do about it.
"""

from __future__ import annotations

__all__ = [
    "BrokerUnavailableError",
    "ConfigurationError",
    "ContractError",
    "DriftlineError",
    "LocalKafkaError",
    "PublishError",
]


class DriftlineError(Exception):
    """Root of every error driftline raises on purpose."""


class ConfigurationError(DriftlineError):
    """A setting is missing or invalid."""


class ContractError(DriftlineError):
    """Bytes or a mapping do not satisfy an event contract.

    ``field`` is the dotted path of the offending field (``"features.loan_amount"``), or ``""``
    when the payload as a whole is unreadable; ``reason`` says what is wrong with it.
    """

    def __init__(self, event_type: str, field: str, reason: str) -> None:
        self.event_type = event_type
        self.field = field
        self.reason = reason
        where = f" at field '{field}'" if field else ""
        super().__init__(f"invalid {event_type}{where}: {reason}")


class BrokerUnavailableError(DriftlineError):
    """Kafka did not answer within the allotted time."""


class PublishError(DriftlineError):
    """A message could not be handed to Kafka (for example, the local buffer is full)."""


class LocalKafkaError(DriftlineError):
    """The embedded local broker could not be fetched, formatted, started or stopped."""
