"""driftline: a streaming model monitor for real-time scoring.

The shared package: settings, event contracts, the topic table, Kafka helpers, the local broker,
the served model (``driftline.model``: registry, validation, serving, the default pipeline)
and the CLI. It imports none of the services; the CLI loads each service's commands by name.
"""

from driftline.errors import DriftlineError
from driftline.events import decode, encode
from driftline.settings import DriftlineSettings, KafkaSettings

__all__ = ["DriftlineError", "DriftlineSettings", "KafkaSettings", "decode", "encode"]
__version__ = "0.1.0"
