"""Labeled traffic and drift events for the retrainer's tests, from the producers' generator.

``DRIFTED`` is the accelerated scenario: loan amounts shift (covariate drift) and the risk
direction of loan-to-income and debt ratio flips (concept drift), so a model retrained on
recent rows is clearly better than the bootstrap champion on the most recent ones.
"""

from __future__ import annotations

from driftline.events import DriftEvent, LabeledEvent, PredictionEvent
from driftline.kafka import Producer
from driftline.settings import KafkaSettings
from producers.generator import GeneratorParams, LoanGenerator
from retrainer.dataset import SourcedRow

__all__ = ["DRIFTED", "T0", "drift_event", "labeled_events", "produce_labeled", "sourced"]

T0 = 1_700_000_000.0
DRIFTED = GeneratorParams(loan_mean=850_000.0, concept=1.0)


def labeled_events(
    n: int,
    params: GeneratorParams | None = None,
    *,
    seed: int = 11,
    start: float = T0,
    rate: float = 10.0,
    model_version: str = "1",
    prefix: str = "p",
) -> list[LabeledEvent]:
    """``n`` labeled predictions, ``rate`` per second of event time from ``start``; the
    stored score is the true default probability (the retrainer re-scores the champion)."""
    batch = LoanGenerator(seed, params).sample(n)
    out = []
    for i, (row, label, prob) in enumerate(
        zip(batch.rows(), batch.labels.tolist(), batch.probabilities.tolist(), strict=True)
    ):
        t = start + i / rate
        prediction = PredictionEvent(
            prediction_id=f"{prefix}{i:06d}", event_time=t, model_name="credit-risk",
            model_version=model_version, features=row, score=prob, decision="LOW",
        )
        out.append(LabeledEvent(event_time=t, prediction=prediction, label=label,
                                label_time=t + 30.0, delay_seconds=30.0))
    return out


def sourced(events: list[LabeledEvent], partitions: int = 3) -> list[SourcedRow]:
    """Rows as if read from a ``labeled`` topic with ``partitions`` partitions."""
    return [SourcedRow(e, "labeled", i % partitions, i // partitions)
            for i, e in enumerate(events)]


def produce_labeled(kafka: KafkaSettings, events: list[LabeledEvent],
                    junk: list[bytes] = ()) -> None:
    """Write the events (and undecodable ``junk`` records) to the prefixed ``labeled``."""
    topic = f"{kafka.topic_prefix}labeled"
    with Producer(kafka) as producer:
        for event in events:
            producer.send(topic, event)
        for raw in junk:
            producer.produce(topic, raw, b"junk")


def drift_event(event_id: str = "drift-1", *, version: str = "1", kind: str = "concept",
                severity: str = "high", at: float = T0 + 600.0) -> DriftEvent:
    return DriftEvent(
        event_id=event_id, event_time=at, model_name="credit-risk", model_version=version,
        kind=kind, severity=severity, window_start=at - 60.0, window_end=at,
        summary=f"{kind} drift in credit-risk v{version}",
    )
