"""Prediction ids that a sender can know without reading ``predictions``.

A transaction sent to the stream scorer without a ``request_id`` is scored into a prediction
whose id is derived from where the transaction sits on Kafka: its topic, partition and
offset, which the sender's delivery report gives it. The sender keys its label by that id.
The id is the same when a transaction is scored again (at-least-once delivery), so a
re-scored prediction carries the id its label already has.

>>> stream_prediction_id("transactions", 3, 1207)
'transactions-3-1207'
>>> stream_prediction_id("transactions", 3, 1207, request_id="order-81")
'order-81'
"""

from __future__ import annotations

__all__ = ["stream_prediction_id"]


def stream_prediction_id(
    topic: str, partition: int, offset: int, *, request_id: str | None = None
) -> str:
    """The id of the prediction made of the transaction at ``topic``/``partition``/``offset``
    (the topic's full name, prefix included): its ``request_id`` when it has one, else
    ``"<topic>-<partition>-<offset>"``."""
    return request_id or f"{topic}-{partition}-{offset}"
