"""The monitor's one settings object (``DRIFTLINE_*`` environment variables).

>>> s = MonitorSettings(window_size=60, grace=5)
>>> s.windows().size, s.windows().step, s.windows().grace
(60.0, 60.0, 5.0)
"""

from __future__ import annotations

from pydantic import Field, model_validator

from driftline.settings import DriftlineSettings
from monitor.drift.windows import EventTimeWindows
from monitor.state.changelog import SEGMENT_BYTES

__all__ = ["MonitorSettings"]


class MonitorSettings(DriftlineSettings):
    """Everything ``driftline monitor`` reads from the environment."""

    monitor_app_id: str = Field(
        default="driftline-monitor",
        description="faust app id: the consumer group and the prefix of internal topics.",
    )
    # windows (event time, seconds)
    window_size: float = Field(default=300.0, gt=0)
    window_step: float | None = Field(default=None, gt=0, description="unset: tumbling")
    grace: float = Field(default=30.0, ge=0)
    label_wait: float = Field(
        default=600.0, ge=0,
        description="performance windows close this long after their drift window",
    )
    join_ttl: float = Field(default=86_400.0, gt=0, description="unlabeled predictions expire")
    join_retention: float | None = Field(
        default=3_600.0, gt=0,
        description="event-time seconds a joined or expired prediction's tombstone is kept to "
        "recognise duplicates and late labels (unset: as long as join_ttl); bounds the join "
        "state's memory",
    )
    positive_threshold: float = Field(default=0.5, gt=0, lt=1)

    monitor_instance_id: str | None = Field(
        default=None,
        description="a stable id per worker (static group membership): a restarted worker "
        "takes its partitions back at once instead of after the session timeout",
    )

    # judging
    dataset_share: float = Field(default=0.5, gt=0, le=1)
    min_rows: int = Field(default=30, ge=1)
    min_labeled: int = Field(default=200, ge=1)
    raise_after: int = Field(default=2, ge=1)
    clear_after: int = Field(default=2, ge=1)
    cooldown: float = Field(default=3600.0, ge=0)
    idle_timeout: float = Field(
        default=30.0, gt=0,
        description="wall seconds after which a quiet partition (caught up, its watermarks "
        "still) no longer holds windows open",
    )

    # running
    checkpoint_interval: float = Field(default=2.0, gt=0, description="wall seconds")
    source_batch: int = Field(default=5000, ge=1, le=100_000,
                              description="most messages the source loop applies per batch")
    source_processes: int = Field(
        default=1, ge=0, le=64,
        description="processes the worker runs its source loop in (the join and window "
        "counts, pure Python per event): each takes a share of the partitions and a core; "
        "0: a thread of the worker process, sharing its one core of Python with the judge")
    source_align: float = Field(
        default=300.0, ge=0,
        description="event-time seconds one source topic may run ahead of the other while the "
        "other has a backlog; what is further ahead waits, parked (0: never)")
    source_park_bytes: int = Field(
        default=16_000_000, ge=1_000,
        description="bytes of events one source topic partition may have parked before its "
        "fetches pause (until half of them are applied)")
    changelog_segment_bytes: int = Field(
        default=SEGMENT_BYTES, ge=1_000,
        description="largest join changelog record: the slot writes of a checkpoint go out "
        "in segments of about this size (keep it below the topic's max.message.bytes)")
    metrics_port: int = Field(default=9102, ge=0, le=65535, description="0: no /metrics")
    metrics_host: str = Field(default="127.0.0.1", description="0.0.0.0 in a container")
    webhook_url: str | None = Field(default=None, description="Slack-compatible incoming webhook")
    webhook_timeout: float = Field(default=5.0, gt=0)
    webhook_retries: int = Field(default=3, ge=0)

    @model_validator(mode="after")
    def _check_windows(self) -> MonitorSettings:
        self.windows()  # raises with a clear message on a bad size/step/grace
        return self

    def windows(self) -> EventTimeWindows:
        return EventTimeWindows(size=self.window_size, step=self.window_step, grace=self.grace)
