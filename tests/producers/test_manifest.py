"""The replay manifest round-trips through its file."""

from __future__ import annotations

import json

import pytest

from driftline.replay_manifest import (
    ManifestError,
    PartitionRange,
    PrefixReplayManifest,
    ReplayManifest,
    read_manifest,
)


def test_manifest_round_trips_and_reads_as_plain_json(tmp_path):
    manifest = ReplayManifest(
        replay_id="abc",
        created_at="2026-11-27T18:00:00+00:00",
        source_topic="predictions",
        target_topic="backtest.predictions",
        requested_from="2026-11-27T10:00:00Z",
        requested_to="2026-11-27T11:00:00Z",
        speed="10x",
        partitioning="same-partition",
        ranges=[
            PartitionRange(partition=0, start_offset=5, end_offset=9, count=4, first_offset=5,
                           last_offset=8, first_timestamp_ms=1, last_timestamp_ms=2,
                           target_partition=0),
            PartitionRange(partition=1, start_offset=3, end_offset=3, count=0),
        ],
        elapsed_s=0.5,
        target_end_offsets_before={0: 0, 1: 0},
        target_end_offsets_after={0: 4, 1: 0},
    )
    path = manifest.write(tmp_path / "replays" / "m.json")
    assert ReplayManifest.read(path) == manifest
    raw = json.loads(path.read_text())
    assert raw["count"] == 4 and raw["source_topic"] == "predictions"
    assert raw["ranges"][0]["start_offset"] == 5
    assert manifest.rate == 8.0
    assert [r.partition for r in manifest.offset_ranges()] == [0]


def _one(topic: str) -> ReplayManifest:
    return ReplayManifest(
        replay_id="t", created_at="2026-11-27T18:00:00+00:00", source_topic=topic,
        target_topic=f"bt1.{topic}", requested_from="1.0", requested_to="2.0", speed="max",
        time="event", event_from=1.0, event_to=2.0, partitioning="same-partition",
        ranges=[PartitionRange(partition=0, start_offset=0, end_offset=3, count=3)])


def test_a_prefix_manifest_round_trips_and_gives_the_backtest_its_range(tmp_path):
    manifest = PrefixReplayManifest(
        replay_id="m", created_at="2026-11-27T18:00:00+00:00", source_prefix="",
        target_prefix="bt1.", requested_from="1.0", requested_to="2.0", event_from=1.0,
        event_to=2.0, partner_window=60.0, topics=[_one("predictions"), _one("labels")])
    path = manifest.write(tmp_path / "m.json")
    assert json.loads(path.read_text())["count"] == 6
    read = read_manifest(path)
    assert read == manifest
    assert isinstance(read, PrefixReplayManifest) and read.backtest_range() == ("bt1.", 1.0, 2.0)
    assert read_manifest(manifest.topics[0].write(tmp_path / "one.json")) == manifest.topics[0]


def test_a_kafka_time_replay_gives_no_event_time_range():
    manifest = PrefixReplayManifest(
        replay_id="m", created_at="x", source_prefix="", target_prefix="bt1.",
        requested_from="0", requested_to="latest", time="kafka")
    with pytest.raises(ManifestError, match="was not of an event-time range"):
        manifest.backtest_range()


@pytest.mark.parametrize("content", [b"not json", b"[1]", b'{"kind": "prefix"}'])
def test_a_file_that_is_no_manifest_is_named(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ManifestError, match=r"bad\.json: not a replay manifest"):
        read_manifest(path)
    with pytest.raises(ManifestError, match="cannot read manifest"):
        read_manifest(tmp_path / "missing.json")
