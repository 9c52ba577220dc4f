"""The replay manifest round-trips through its file."""

from __future__ import annotations

import json

from producers.manifest import PartitionRange, ReplayManifest


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
