"""POST /labels and /labels/batch in process, with a recording publisher in place of Kafka:
the API key guards them, each accepted label is one LabelEvent on ``labels`` keyed by its
prediction id, and bad input is refused naming its field with nothing published."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from driftline.events import LabelEvent, decode
from driftline.settings import KafkaSettings
from scorer.app import create_app
from scorer.service import Scorer
from scorer.settings import ScorerSettings

KEY = "label-key"


class TopicRecordingPublisher:
    """Stands in for PredictionPublisher: keeps what would have been enqueued, by topic."""

    capacity = 100

    def __init__(self, room: bool = True) -> None:
        self.room = room
        self.published: list[tuple[str | None, list[bytes], list[bytes]]] = []

    def has_room(self, count: int) -> bool:
        return self.room

    def depth(self) -> int:
        return 0 if self.room else self.capacity

    def publish(self, keys, values, on_done=None, *, topic=None, on_failed=None) -> None:
        self.published.append((topic, list(keys), list(values)))


def _client(tmp_path, publisher: TopicRecordingPublisher, **settings) -> TestClient:
    values = {
        "home": tmp_path, "kafka": KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        "api_key": SecretStr(KEY), "max_batch_rows": 3, "buffer_wait_ms": 0,
    }
    scorer = Scorer(ScorerSettings(**{**values, **settings}))
    scorer.publisher = publisher  # type: ignore[assignment]
    # no `with`: the lifespan (Kafka, MLflow) is not started
    return TestClient(create_app(scorer=scorer), headers={"X-API-Key": KEY})


@pytest.fixture
def publisher() -> TopicRecordingPublisher:
    return TopicRecordingPublisher()


@pytest.fixture
def client(tmp_path, publisher) -> TestClient:
    return _client(tmp_path, publisher)


def test_one_label_is_published_to_labels_keyed_by_its_prediction_id(client, publisher):
    answer = client.post("/labels", json={"prediction_id": "p-1", "label": 1, "event_time": 7.0})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"count": 1, "prediction_ids": ["p-1"]}
    ((topic, keys, values),) = publisher.published
    assert (topic, keys) == ("labels", [b"p-1"])
    assert decode(LabelEvent, values[0]) == LabelEvent(
        prediction_id="p-1", label=1, event_time=7.0
    )


def test_a_label_without_event_time_gets_the_time_it_was_received(client, publisher):
    assert client.post("/labels", json={"prediction_id": "p-2", "label": 0}).status_code == 200
    event = decode(LabelEvent, publisher.published[0][2][0])
    assert event.event_time > 1.6e9


def test_a_batch_publishes_every_label_in_one_call_in_order(client, publisher):
    body = {"labels": [{"prediction_id": f"p-{i}", "label": i % 2} for i in range(3)]}
    answer = client.post("/labels/batch", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["prediction_ids"] == ["p-0", "p-1", "p-2"]
    ((topic, keys, values),) = publisher.published
    assert topic == "labels" and keys == [b"p-0", b"p-1", b"p-2"]
    assert [decode(LabelEvent, v).label for v in values] == [0, 1, 0]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/labels", {"prediction_id": "p", "label": "yes"}, ["body", "label"]),
        ("/labels", {"prediction_id": "", "label": 1}, ["body", "prediction_id"]),
        ("/labels", {"label": 1}, ["body", "prediction_id"]),
        ("/labels", {"prediction_id": "p", "label": 1, "event_time": -1}, ["body", "event_time"]),
        ("/labels", {"prediction_id": "p", "label": 1, "event_time": False},
         ["body", "event_time"]),
        ("/labels", {"prediction_id": "p", "label": 1, "event_time": "1700000000"},
         ["body", "event_time"]),
        ("/labels", {"prediction_id": "p", "label": 1, "labl": 1}, ["body", "labl"]),
        (
            "/labels/batch",
            {"labels": [{"prediction_id": "a", "label": 1}, {"prediction_id": "b"}]},
            ["body", "labels", 1, "label"],
        ),
    ],
)
def test_an_invalid_label_is_refused_naming_its_field(client, publisher, path, body, loc):
    answer = client.post(path, json=body)
    assert answer.status_code == 422
    assert loc in [error["loc"] for error in answer.json()["detail"]]
    assert publisher.published == []


def test_a_batch_over_the_row_limit_is_refused(client, publisher):
    body = {"labels": [{"prediction_id": f"p-{i}", "label": 1} for i in range(4)]}
    answer = client.post("/labels/batch", json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "labels"]
    assert publisher.published == []


def test_labels_need_the_api_key(client, publisher):
    for path, body in (("/labels", {"prediction_id": "p", "label": 1}),
                       ("/labels/batch", {"labels": [{"prediction_id": "p", "label": 1}]})):
        assert client.post(path, json=body, headers={"X-API-Key": "nope"}).status_code == 401
    assert publisher.published == []


def test_a_full_buffer_answers_503_and_publishes_nothing(tmp_path):
    publisher = TopicRecordingPublisher(room=False)
    answer = _client(tmp_path, publisher).post("/labels", json={"prediction_id": "p", "label": 1})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert publisher.published == []
