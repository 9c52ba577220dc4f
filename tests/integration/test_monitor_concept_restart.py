"""A monitor worker (``driftline monitor``) killed with SIGKILL mid-stream, past its concept
detector's warm-up and before the model gets worse, raises its concept drift event after the
restart at the same label time as a worker that read the whole stream without a kill, with
evidence naming the same pairs (those of the error bucket that fired): the detector's
state is in the publisher's table, and the error buckets sent again after the restart are
not counted twice. Real broker, embedded MLflow registry, one partition."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import msgspec
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from driftline.events import DriftEvent, LabelEvent, PredictionEvent, decode
from driftline.kafka import Producer, create_topics, read_topic
from driftline.settings import KafkaSettings
from monitor.merging.concept import PoolState
from monitor.state.partition import Partial
from producers.generator import LoanGenerator
from tests.integration.test_monitor import _start, _stop, _wait
from tests.scorer.support import register_model

T0 = 1_700_000_040.0
PAIRS, ONSET = 4000, 2600  # the model's answers turn wrong from ONSET on


def _feed(kafka: KafkaSettings, first: int, last: int) -> None:
    """Pairs ``first`` to ``last - 1``: 10 predictions a second of event time, each label
    30 s later and written after its prediction; from ONSET on every label is flipped."""
    batch = LoanGenerator(2).sample(PAIRS)
    rows = list(batch.rows())
    labels, probs = batch.labels.tolist(), batch.probabilities.tolist()
    with Producer(kafka) as producer:
        for i in range(first, last):
            t = T0 + i / 10.0
            pid = f"p{i:06d}"
            label = labels[i] if i < ONSET else 1 - labels[i]
            producer.send(f"{kafka.topic_prefix}predictions", PredictionEvent(
                prediction_id=pid, event_time=t, model_name="credit-risk", model_version="1",
                features=rows[i], score=probs[i], decision="LOW"))
            producer.send(f"{kafka.topic_prefix}labels",
                          LabelEvent(prediction_id=pid, event_time=t + 30.0, label=label))
        if last == PAIRS:  # a tail late enough to let every label be applied
            t = T0 + PAIRS / 10.0 + 300.0
            producer.send(f"{kafka.topic_prefix}predictions", PredictionEvent(
                prediction_id="tail", event_time=t, model_name="credit-risk",
                model_version="1", features=rows[0], score=0.1, decision="LOW"))


def _concept(kafka: KafkaSettings, skip: int = 0) -> list[DriftEvent]:
    events = [decode(DriftEvent, m.value())
              for m in read_topic(kafka, f"{kafka.topic_prefix}drift-events", idle_timeout=2)]
    return [e for e in events[skip:] if e.kind == "concept"]


def _table(kafka: KafkaSettings, app_id: str, key: bytes) -> bytes | None:
    """The latest value of ``key`` in the publisher's table, by its changelog."""
    try:
        msgs = read_topic(kafka, f"{kafka.topic_prefix}{app_id}-policy-changelog",
                          idle_timeout=2)
    except KafkaException:
        return None
    values = [m.value() for m in msgs if m.key() == key]
    return values[-1] if values else None


def _pairs_seen(kafka: KafkaSettings, app_id: str) -> int:
    """Labeled pairs the publisher's concept detector has been fed (0 before any)."""
    state = _table(kafka, app_id, b"concept|credit-risk\t1")
    return 0 if state is None else msgspec.json.decode(state, type=PoolState).detector.n


def _acked_past(kafka: KafkaSettings, app_id: str, pairs: int) -> bool:
    """Whether the publisher has committed its partials past the error buckets holding the
    first ``pairs`` labeled pairs, and stored a position past them: a restart does not read
    them again (neither from the committed offset nor as a gap after its position)."""
    topic = f"{kafka.topic_prefix}{app_id}-partials"
    seen, at = 0, None
    for m in read_topic(kafka, topic, idle_timeout=2):
        partial = msgspec.json.decode(m.value(), type=Partial)
        if partial.kind == "errors":
            seen += sum(share.count for share in partial.buckets or [])
            if seen >= pairs:
                at = m.offset()
                break
    position = _table(kafka, app_id, b"position|0")
    if at is None or position is None or int(position) <= at:
        return False
    consumer = Consumer({**kafka.confluent_config(), "group.id": f"{kafka.topic_prefix}"
                         f"{app_id}", "enable.auto.commit": False})
    try:
        [committed] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
    except KafkaException:
        return False
    finally:
        consumer.close()
    return committed.offset > at


@pytest.mark.timeout(600)  # three worker runs, one after another
def test_a_worker_killed_mid_stream_raises_its_concept_event_at_the_same_pair(
    kafka_bootstrap: str, tmp_path: Path
):
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap, partitions=1,
                          topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    create_topics(kafka)
    register_model(tmp_path, "credit-risk", rows=4000)
    # static membership: the restarted worker takes its partition back at once
    one = {"DRIFTLINE_KAFKA_PARTITIONS": "1", "DRIFTLINE_MONITOR_INSTANCE_ID": "worker-1"}
    log = tmp_path / "monitor.log"

    # killed past the warm-up (1,000 pairs), once the publisher has acknowledged the error
    # buckets of the first 1,800 pairs (it will not read them again), so close to the onset
    # that a fresh detector (a restart without the stored one) would still be warming up
    # when it comes
    _feed(kafka, 0, 2400)
    proc = _start(tmp_path, kafka, "killed", log, **one)
    try:
        _wait("a detector past the warm-up", lambda: _pairs_seen(kafka, "killed") >= 2000,
              180, log)
        _wait("the first pairs acknowledged", lambda: _acked_past(kafka, "killed", 1800),
              180, log)
    finally:
        _stop(proc, signal.SIGKILL)
    assert _concept(kafka) == []
    _feed(kafka, 2400, PAIRS)
    proc = _start(tmp_path, kafka, "killed", log, **one)
    try:
        _wait("its concept event", lambda: _concept(kafka), 180, log)
    finally:
        _stop(proc)
    [after_kill, *_] = _concept(kafka)
    raised = len(read_topic(kafka, f"{kafka.topic_prefix}drift-events", idle_timeout=2))

    # the same stream read whole by a worker of its own
    whole_log = tmp_path / "whole.log"
    proc = _start(tmp_path, kafka, "whole", whole_log, **one)
    try:
        _wait("its concept event", lambda: _concept(kafka, raised), 180, whole_log)
    finally:
        _stop(proc)
    [whole, *_] = _concept(kafka, raised)

    assert whole.event_time >= T0 + ONSET / 10.0 + 30.0  # a label after the onset
    assert (after_kill.event_id, after_kill.event_time) == (whole.event_id, whole.event_time)
    # Both cite the pairs of the one-second bucket that fired (10 pairs a second) by the
    # events that completed them: a pair's label, or its prediction where the label was read
    # first, which depends on how the two topics' fetches interleave. Pair i is at offset i
    # of both topics, so the offsets name the same pairs either way.
    cited = []
    for event in (after_kill, whole):
        pairs = set()
        for evidence in event.evidence:
            assert evidence.topic in {f"{kafka.topic_prefix}labels",
                                      f"{kafka.topic_prefix}predictions"}
            assert evidence.partition == 0
            pairs |= set(range(evidence.first_offset, evidence.last_offset + 1))
        cited.append(pairs)
    assert cited[0] == cited[1]
    assert min(cited[0]) >= ONSET and max(cited[0]) < min(cited[0]) + 10
