"""A replay refuses, before it touches the broker, what it cannot do as asked: writing into a
live topic without --into-live, a live prefix as the target prefix, offsets mixed with
event times."""

from __future__ import annotations

import pytest

from driftline.settings import KafkaSettings
from producers.replay import (
    PrefixReplayRequest,
    ReplayError,
    ReplayRequest,
    replay,
    replay_topics,
    target_config,
)

LIVE = KafkaSettings(topic_prefix="live.", bootstrap_servers="127.0.0.1:1")


@pytest.mark.parametrize("target", ["labels", "live.labels", "live.drift-events"])
def test_a_live_topic_is_refused_as_a_target(target):
    with pytest.raises(ReplayError, match=r"is a live driftline topic .*--into-live"):
        replay(LIVE, ReplayRequest(topic="archive.labels", to_topic=target))


def test_the_live_prefix_is_refused_as_the_target_prefix():
    with pytest.raises(ReplayError, match=r"--to-prefix .live\.. is the live prefix"):
        replay_topics(LIVE, PrefixReplayRequest(topics=("predictions",), to_prefix="live."))


@pytest.mark.parametrize(("topics", "message"), [
    (("predictions", "live.predictions"), "names a topic twice"),
    ((" ",), "names no topic"),
])
def test_bad_topic_lists_are_refused(topics, message):
    with pytest.raises(ReplayError, match=message):
        replay_topics(LIVE, PrefixReplayRequest(topics=topics, to_prefix="bt1."))


def test_an_event_time_range_takes_no_offsets():
    with pytest.raises(ReplayError, match="--time kafka"):
        replay(LIVE, ReplayRequest(topic="a", to_topic="b", start="2026-11-27T10:00:00Z",
                                   end="1200"))


def test_a_target_named_for_a_driftline_topic_gets_its_config():
    assert target_config("bt1.predictions", keep_timestamps=False) == {
        "retention.ms": str(30 * 24 * 3600 * 1000)}
    assert target_config("bt1.predictions", keep_timestamps=True) == {"retention.ms": "-1"}
    assert target_config("bt1.labeled", keep_timestamps=False)["retention.ms"] == str(
        90 * 24 * 3600 * 1000)
