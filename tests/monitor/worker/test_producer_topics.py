"""The worker's producer keeps the topics it writes in its metadata (issue #20).

aiokafka's real client and cluster metadata, with a fake broker that answers a metadata
request for exactly the topics the client asks about (every topic when it tracks none)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaClient
from aiokafka.protocol.metadata import MetadataResponse_v0
from aiokafka.structs import TopicPartition

from monitor.worker.producer_topics import track_topics

CHANGELOG, REPORTS = "m-policy-changelog", "m-reports"
LEADERS = {CHANGELOG: 2, REPORTS: 3}  # the cluster's topics and their partition 0's leader


def _answer(client: AIOKafkaClient, existing: list[str]) -> MetadataResponse_v0:
    """What a broker answers the client's next metadata request, ``existing`` topics created."""
    asked = sorted(client._topics) or existing  # nothing tracked: every topic
    return MetadataResponse_v0(
        brokers=[(n, "127.0.0.1", 9092 + n) for n in (1, 2, 3)],
        topics=[(0, t, [(0, 0, LEADERS[t], [1, 2, 3], [1, 2, 3])]) for t in asked
                if t in existing],
    )


def _changelog_leader_after_reports_appear(track: list[str]) -> int | None:
    """The producer starts when only the changelog exists; the reports topic is created, and
    the first report tracks it (aiokafka's ``_wait_on_metadata``); what leader does the
    producer then know for the changelog, whose write waits in a batch?"""

    async def run() -> int | None:
        client = AIOKafkaClient(bootstrap_servers="127.0.0.1:1")  # never connects here
        client.cluster.update_metadata(_answer(client, [CHANGELOG]))  # the first refresh
        track_topics(client, track)
        assert client.cluster.partitions_for_topic(CHANGELOG)  # a write to it goes ahead
        client.add_topic(REPORTS)  # the first send to the new topic
        client.cluster.update_metadata(_answer(client, [CHANGELOG, REPORTS]))
        return client.cluster.leader_for_partition(TopicPartition(CHANGELOG, 0))

    return asyncio.run(run())


def test_a_written_topic_keeps_its_leader_when_a_new_topic_is_first_written() -> None:
    assert _changelog_leader_after_reports_appear([CHANGELOG, REPORTS]) == 2


def test_an_untracked_topic_loses_its_leader_when_a_new_topic_is_first_written() -> None:
    # aiokafka's behaviour that stalled the publisher: why the worker tracks its topics
    assert _changelog_leader_after_reports_appear([]) is None
