"""driftline: a streaming model monitor for real-time scoring.

The shared package: settings, event contracts, the topic table, Kafka helpers, the local broker
and the CLI.
"""

from driftline.errors import DriftlineError
from driftline.events import decode, encode
from driftline.settings import DriftlineSettings, KafkaSettings

__all__ = ["DriftlineError", "DriftlineSettings", "KafkaSettings", "decode", "encode"]
__version__ = "0.1.0"
