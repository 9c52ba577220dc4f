"""DriftlineClient without a broker (a recording producer at its seam): what it writes where,
keyed how, and that invalid events are refused naming the field with nothing written."""

from __future__ import annotations

import pytest

from driftline.client import DriftlineClient
from driftline.errors import ContractError
from driftline.events import Event, LabelEvent, PredictionEvent
from driftline.settings import KafkaSettings


class RecordingProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Event]] = []
        self.failed = 0

    def send(self, topic: str, event: Event) -> None:
        self.sent.append((topic, event))


@pytest.fixture
def client() -> DriftlineClient:
    client = DriftlineClient(KafkaSettings(bootstrap_servers="127.0.0.1:1", topic_prefix="x."),
                             model_name="fraud", model_version="7")
    client._producer = RecordingProducer()  # type: ignore[assignment]
    return client


def test_a_prediction_and_its_label_go_to_their_topics_under_one_key(client):
    pid = client.prediction({"amount": 12.5, "country": "DE"}, 0.8, "block", event_time=10.0,
                            entity_id="card-1")
    client.label(pid, 1, event_time=99.0)
    (p_topic, prediction), (l_topic, label) = client._producer.sent
    assert (p_topic, l_topic) == ("x.predictions", "x.labels")
    assert prediction == PredictionEvent(
        prediction_id=pid, event_time=10.0, model_name="fraud", model_version="7",
        features={"amount": 12.5, "country": "DE"}, score=0.8, decision="block",
        entity_id="card-1")
    assert label == LabelEvent(prediction_id=pid, event_time=99.0, label=1)
    assert prediction.key == label.key == pid.encode()


def test_a_given_prediction_id_and_model_are_kept(client):
    pid = client.prediction({"amount": 1.0}, 0.1, "pass", prediction_id="order-81",
                            model_name="fraud-eu", model_version="2")
    (_, prediction), = client._producer.sent
    assert (pid, prediction.model_name, prediction.model_version) == ("order-81", "fraud-eu", "2")


@pytest.mark.parametrize(("call", "field"), [
    (lambda c: c.prediction({"amount": 1.0}, 1.5, "pass"), "score"),
    (lambda c: c.prediction({"amount": [1]}, 0.5, "pass"), "features.amount"),
    (lambda c: c.prediction({"amount": 1.0}, 0.5, "pass", model_version=""), "model_version"),
    (lambda c: c.label("", 1), "prediction_id"),
    (lambda c: c.label("p", 1, event_time=-1.0), "event_time"),
])
def test_an_invalid_event_is_refused_naming_its_field_and_nothing_is_written(client, call, field):
    with pytest.raises(ContractError) as caught:
        call(client)
    assert caught.value.field == field
    assert client._producer.sent == []


def test_a_client_without_model_refuses_predictions_naming_the_model(client):
    bare = DriftlineClient(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    with pytest.raises(ContractError, match="model_name"):
        bare.prediction({"amount": 1.0}, 0.5, "pass")
