"""driftline replay against the real broker: exactly the requested range, with content, keys,
headers, timestamps and per-partition order preserved."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka import Producer as ConfluentProducer
from confluent_kafka.admin import AdminClient, ConfigResource
from typer.testing import CliRunner

from driftline.cli import app
from driftline.kafka import create_topics, delete_topics, read_topic
from driftline.settings import KafkaSettings
from driftline.topics import topic_names
from producers.replay import (
    PrefixReplayRequest,
    ReplayError,
    ReplayRequest,
    replay,
    replay_topics,
)

BASE_MS = 1_790_000_000_000
PER_PARTITION = 20


@pytest.fixture
def history(topic_factory):
    """Topics for messages stamped at BASE_MS, which lies further back than a topic's default
    time retention: without ``retention.ms=-1`` the broker's next retention check (every five
    minutes) deletes them, whenever it falls inside a test."""

    def make(partitions: int) -> str:
        return topic_factory(partitions=partitions, config={"retention.ms": "-1"})

    return make

Record = tuple[int, bytes | None, bytes | None, list[tuple[str, bytes]] | None, int]


def _fill(kafka: KafkaSettings, topic: str, partitions: int) -> None:
    """``PER_PARTITION`` messages per partition, one second apart, with keys (a few repeat,
    one is missing), headers (one repeated name) and a tombstone."""
    producer = ConfluentProducer({**kafka.confluent_config(), "enable.idempotence": True})
    for p in range(partitions):
        for i in range(PER_PARTITION):
            key = None if i == 3 else f"key-{i % 5}".encode()
            value = None if i == 7 else f'{{"p": {p}, "i": {i}}}'.encode()
            headers = [("i", str(i).encode()), ("tag", b"a"), ("tag", b"b")]
            producer.produce(
                topic, value, key, partition=p, timestamp=BASE_MS + i * 1000 + p,
                headers=headers if i % 4 else None,
            )
    assert producer.flush(30) == 0


def _records(kafka: KafkaSettings, topic: str) -> dict[int, list[Record]]:
    out: dict[int, list[Record]] = defaultdict(list)
    for msg in read_topic(kafka, topic, idle_timeout=20):
        out[msg.partition()].append(
            (msg.offset(), msg.key(), msg.value(), msg.headers(), msg.timestamp()[1])
        )
    return dict(out)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _content(records: list[Record]) -> list[tuple[Any, ...]]:
    """What a copy must keep: everything but the offset."""
    return [r[1:] for r in records]


def test_offset_range_is_copied_exactly_to_the_same_partitions(kafka, history):
    source, target = history(partitions=3), history(partitions=3)
    _fill(kafka, source, 3)
    manifest = replay(
        kafka, ReplayRequest(topic=source, to_topic=target, start="0:3,1:5", end="2:9,1:12")
    )
    # partition 0: 3..end, partition 1: 5..12, partition 2: 0..9
    expected = {0: (3, PER_PARTITION), 1: (5, 12), 2: (0, 9)}
    src, dst = _records(kafka, source), _records(kafka, target)
    assert sorted(dst) == [0, 1, 2]
    for p, (start, end) in expected.items():
        assert _content(dst[p]) == _content(src[p][start:end]), p
    assert manifest.count == sum(e - s for s, e in expected.values())
    assert manifest.partitioning == "same-partition"
    assert [(r.partition, r.start_offset, r.end_offset, r.count) for r in manifest.ranges] == [
        (p, s, e, e - s) for p, (s, e) in expected.items()
    ]
    assert [(r.first_offset, r.last_offset) for r in manifest.ranges] == [
        (s, e - 1) for s, e in expected.values()
    ]
    assert manifest.target_end_offsets_before == {0: 0, 1: 0, 2: 0}
    assert manifest.target_end_offsets_after == {p: e - s for p, (s, e) in expected.items()}


def test_kafka_time_range_copies_the_messages_stamped_within_it(kafka, history):
    source, target = history(partitions=2), history(partitions=2)
    _fill(kafka, source, 2)
    # [i=4, i=11) on partition 0; partition 1 is stamped 1 ms later, so its i=4 is included
    # and its i=11 is not.
    start = _iso(BASE_MS + 4_000).replace("+00:00", "Z")
    end = _iso(BASE_MS + 11_000)
    manifest = replay(kafka, ReplayRequest(topic=source, to_topic=target, start=start, end=end,
                                           time="kafka"))
    src, dst = _records(kafka, source), _records(kafka, target)
    for p in (0, 1):
        assert _content(dst[p]) == _content(src[p][4:11])
        assert all(BASE_MS + 4_000 <= r[4] < BASE_MS + 11_000 + p for r in dst[p])
    assert manifest.count == 14
    assert manifest.requested_from == start


def test_different_partition_counts_keep_the_order_of_each_key(kafka, history):
    source, target = history(partitions=3), history(partitions=2)
    _fill(kafka, source, 3)
    manifest = replay(kafka, ReplayRequest(topic=source, to_topic=target))
    assert manifest.partitioning == "by-key" and manifest.count == 3 * PER_PARTITION
    src, dst = _records(kafka, source), _records(kafka, target)

    def by_key(records: dict[int, list[Record]]) -> dict[tuple[bytes | None, int], list]:
        groups: dict[tuple[bytes | None, int], list] = defaultdict(list)
        for rows in records.values():
            for _, key, value, headers, ts in rows:
                origin = json.loads(value)["p"] if value else None
                if key is not None and origin is not None:
                    groups[(key, origin)].append((value, headers, ts))
        return groups

    assert by_key(dst) == by_key(src)
    for rows in dst.values():  # one key, one target partition
        keys = {r[1] for r in rows if r[1] is not None}
        others = {r[1] for q, rs in dst.items() if rs is not rows for r in rs}
        assert not keys & others


def test_finite_speed_keeps_the_relative_timing(kafka, history):
    source, target = history(partitions=2), history(partitions=2)
    producer = ConfluentProducer(kafka.confluent_config())
    # 2 partitions x 5 messages, 200 ms apart in event time, interleaved across partitions
    for i in range(10):
        producer.produce(source, str(i).encode(), b"k", partition=i % 2,
                         timestamp=BASE_MS + i * 200)
    assert producer.flush(30) == 0
    manifest = replay(
        kafka,
        ReplayRequest(topic=source, to_topic=target, speed="4x", keep_timestamps=False),
    )
    assert manifest.count == 10
    copied = sorted(
        (r[4], int(r[2])) for rows in _records(kafka, target).values() for r in rows
    )
    # Stamped on arrival: the order across partitions is the event-time order, and the copy
    # took at least the 1.8 s span divided by the speed (never faster than asked).
    assert [i for _, i in copied] == list(range(10))
    assert copied[-1][0] - copied[0][0] >= 0.9 * 1800 / 4


def test_cli_replay_writes_the_manifest(kafka, history, tmp_path, monkeypatch):
    monkeypatch.setenv("DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    source, target = history(partitions=2), history(partitions=2)
    _fill(kafka, source, 2)
    path = tmp_path / "manifest.json"
    result = CliRunner().invoke(app, [
        "replay", "--topic", source, "--to-topic", target, "--from", "15",
        "--manifest", str(path), "--no-progress",
    ])
    assert result.exit_code == 0, result.output
    assert "replayed 10 messages" in result.output
    manifest = json.loads(path.read_text())
    assert manifest["count"] == 10 and manifest["source_topic"] == source
    assert [(r["partition"], r["first_offset"], r["last_offset"]) for r in manifest["ranges"]] == [
        (0, 15, 19), (1, 15, 19)
    ]


def test_a_new_target_is_created_like_the_source(kafka, history):
    source = history(partitions=3)
    _fill(kafka, source, 3)
    target = f"{source}-copy"
    try:
        manifest = replay(kafka, ReplayRequest(topic=source, to_topic=target, start="18"))
        assert manifest.partitioning == "same-partition" and manifest.count == 6
        # the copy keeps the source's timestamps: time retention would delete it as history
        resource = ConfigResource(ConfigResource.Type.TOPIC, target)
        admin = AdminClient(kafka.confluent_config())
        config = admin.describe_configs([resource])[resource].result(timeout=10)
        assert config["retention.ms"].value == "-1"
    finally:
        delete_topics(kafka, [target])


def test_clear_errors(kafka, history):
    source = history(partitions=1)
    with pytest.raises(ReplayError, match="must differ"):
        replay(kafka, ReplayRequest(topic=source, to_topic=source))
    with pytest.raises(ReplayError, match="does not exist"):
        replay(kafka, ReplayRequest(topic=f"{source}-missing", to_topic=f"{source}-x"))
    with pytest.raises(ReplayError, match="no partition 4"):
        replay(kafka, ReplayRequest(topic=source, to_topic=f"{source}-x", partitions=(4,)))
    with pytest.raises(ReplayError, match="--no-create"):
        replay(kafka, ReplayRequest(topic=source, to_topic=f"{source}-y", create_target=False))


def _config(kafka: KafkaSettings, topic: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    admin = AdminClient(kafka.confluent_config())  # alive until the answer is in
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    return {k: v.value for k, v in config.items()}


def test_event_time_range_copies_from_the_first_event_inside_to_the_last(kafka, history):
    """Each message is stamped 45 s after its event; per partition, events one second apart,
    one out of order, one not JSON and one stamped in milliseconds."""
    source, target = history(partitions=2), history(partitions=2)
    base = BASE_MS / 1000
    producer = ConfluentProducer(kafka.confluent_config())
    written: dict[int, list[bytes]] = {0: [], 1: []}
    for p in (0, 1):
        for i in range(30):
            moment = base + i + (-20 if i == 9 else 0)  # i=9: an event 20 s late
            value = json.dumps({"event_time": moment, "i": i}).encode()
            if i == 6:
                value = b"not json"
            if i == 12:
                value = json.dumps({"event_time": moment * 1000, "i": i}).encode()
            written[p].append(value)
            producer.produce(source, value, f"k{i}".encode(), partition=p,
                             timestamp=round((base + i + 45) * 1000))
    assert producer.flush(30) == 0
    start, end = _iso(BASE_MS + 5_000), _iso(BASE_MS + 15_000)
    manifest = replay(kafka, ReplayRequest(topic=source, to_topic=target, start=start, end=end))
    dst = _records(kafka, target)
    for p in (0, 1):
        # offsets 5..14: the late event (i=9), the bad value (i=6) and the millisecond time
        # (i=12) lie between events of the range and are copied as written
        assert [r[2] for r in dst[p]] == written[p][5:15]
    assert manifest.time == "event" and manifest.count == 20
    assert (manifest.event_from, manifest.event_to) == (base + 5, base + 15)
    by_kafka = replay(kafka, ReplayRequest(topic=source, to_topic=f"{target}-k", start=start,
                                           end=end, time="kafka"))
    try:  # by Kafka time the same range holds the events 45 s earlier
        assert by_kafka.time == "kafka" and [(r.start_offset, r.end_offset)
                                             for r in by_kafka.ranges] == [(0, 0), (0, 0)]
    finally:
        delete_topics(kafka, [f"{target}-k"])


def _pairs(kafka: KafkaSettings, base: float) -> None:
    """30 predictions 10 s apart in event time over two partitions, each labelled 30 s
    later; all stamped now."""
    names = topic_names(kafka.topic_prefix)
    producer = ConfluentProducer(kafka.confluent_config())
    for i in range(30):
        pid = f"p{i:02d}"
        moment = base + 10 * i
        producer.produce(names["predictions"], json.dumps(
            {"prediction_id": pid, "event_time": moment}).encode(), pid.encode(),
            partition=i % 2)
        producer.produce(names["labels"], json.dumps(
            {"prediction_id": pid, "event_time": moment + 30, "label": i % 2}).encode(),
            pid.encode(), partition=i % 2)
    assert producer.flush(30) == 0


def _event_times(kafka: KafkaSettings, topic: str) -> dict[str, float]:
    return {json.loads(m.value())["prediction_id"]: json.loads(m.value())["event_time"]
            for m in read_topic(kafka, topic, idle_timeout=20)}


def test_topics_under_a_prefix_keep_the_labels_of_their_predictions(kafka):
    create_topics(kafka)
    base = float(int(datetime.now(UTC).timestamp()) - 3600)
    _pairs(kafka, base)
    sources = topic_names(kafka.topic_prefix)
    prefix, fresh = f"{kafka.topic_prefix}bt.", f"{kafka.topic_prefix}bt2."
    try:
        manifest = replay_topics(kafka, PrefixReplayRequest(
            topics=("predictions", "labels"), to_prefix=prefix, start=_iso(int(base + 50) * 1000),
            end=_iso(int(base + 150) * 1000), partner_window=100.0))
        predictions = _event_times(kafka, f"{prefix}predictions")
        labels = _event_times(kafka, f"{prefix}labels")
        assert sorted(predictions) == [f"p{i:02d}" for i in range(5, 15)]
        assert set(predictions) <= set(labels)  # every copied prediction has its label
        assert all(base + 50 <= t < base + 250 for t in labels.values())
        assert (manifest.target_prefix, manifest.event_from, manifest.event_to) == (
            prefix, base + 50, base + 150)
        assert [(t.source_topic, t.target_topic, t.event_to) for t in manifest.topics] == [
            (sources["predictions"], f"{prefix}predictions", base + 150),
            (sources["labels"], f"{prefix}labels", base + 250)]
        # created like the sources: their partition count, driftline's config, no time
        # retention under old timestamps; a copy stamped anew keeps the topic's retention
        source_partitions = len(AdminClient(kafka.confluent_config()).list_topics(
            sources["labels"], timeout=10).topics[sources["labels"]].partitions)
        for name in ("predictions", "labels"):
            info = AdminClient(kafka.confluent_config()).list_topics(
                f"{prefix}{name}", timeout=10).topics[f"{prefix}{name}"]
            assert len(info.partitions) == source_partitions
            assert _config(kafka, f"{prefix}{name}")["retention.ms"] == "-1"
        replay_topics(kafka, PrefixReplayRequest(
            topics=("labels",), to_prefix=fresh, keep_timestamps=False))
        assert _config(kafka, f"{fresh}labels")["retention.ms"] == str(30 * 24 * 3600 * 1000)
    finally:
        delete_topics(kafka, [f"{p}{n}" for p in (prefix, fresh)
                              for n in ("predictions", "labels")])


def test_a_live_topic_is_written_only_with_into_live(kafka, history):
    source = history(partitions=1)
    _fill(kafka, source, 1)
    live = topic_names(kafka.topic_prefix)["labels"]
    with pytest.raises(ReplayError, match="--into-live"):
        replay(kafka, ReplayRequest(topic=source, to_topic="labels", start="18"))
    try:
        manifest = replay(kafka, ReplayRequest(topic=source, to_topic="labels", start="18",
                                               into_live=True))
        assert manifest.target_topic == live and manifest.count == 2
    finally:
        delete_topics(kafka, [live])
