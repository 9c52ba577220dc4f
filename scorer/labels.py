"""Labels sent over HTTP: their request schema and the LabelEvents they become.

A label is ``{"prediction_id": ..., "label": 0|1, "event_time": ...}`` (``event_time``, when
the outcome became known, defaults to the time it is received); a batch is
``{"labels": [...]}``. Each becomes a :class:`~driftline.events.LabelEvent` keyed by its
prediction id, published to ``labels`` like a prediction to ``predictions``.

>>> one, _ = label_validators(max_rows=10)
>>> events = label_events([one.validate_json(b'{"prediction_id": "p-1", "label": 1}')], 5.0)
>>> events[0]
LabelEvent(schema_version=1, event_time=5.0, prediction_id='p-1', label=1)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from driftline.events import LabelEvent

__all__ = ["LabelBatchIn", "LabelIn", "label_events", "label_validators"]


class LabelIn(BaseModel):
    """One label as sent over HTTP."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prediction_id: Annotated[str, Field(min_length=1, max_length=256)]
    label: Annotated[int, Field(strict=True, ge=0)]
    # strict: a JSON boolean or string is not a time (an integer is)
    event_time: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = None


class LabelBatchIn(BaseModel):
    """A batch of labels as sent over HTTP (the documented shape; its row limit is set by
    :func:`label_validators`)."""

    model_config = ConfigDict(extra="forbid")

    labels: list[LabelIn]


def label_validators(max_rows: int) -> tuple[TypeAdapter[LabelIn], TypeAdapter[LabelBatchIn]]:
    """Validators of one label and of a batch of at most ``max_rows`` labels."""

    class LimitedBatch(LabelBatchIn):
        labels: Annotated[list[LabelIn], Field(min_length=1, max_length=max_rows)]

    return TypeAdapter(LabelIn), TypeAdapter(LimitedBatch)


def label_events(labels: list[LabelIn], received: float) -> list[LabelEvent]:
    """The LabelEvents of validated labels; ``received`` is the event time of those sent
    without one."""
    return [
        LabelEvent(
            prediction_id=label.prediction_id,
            label=label.label,
            event_time=received if label.event_time is None else label.event_time,
        )
        for label in labels
    ]
