"""Notifications are best effort and never carry a secret; the execution-status event parsing."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError

from g3n_ops import notify
from g3n_ops.contract.errors import InvalidInput
from g3n_ops.domain import execution_status
from g3n_ops.handlers import execution_status as execution_status_handler
from g3n_ops.settings import settings

TOPIC = "arn:aws:sns:us-east-1:123456789012:g3n-test-ops-events"


class FakeSns:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.published: list[dict] = []

    def publish(self, **kwargs) -> dict:
        if self.error:
            raise self.error
        self.published.append(kwargs)
        return {"MessageId": "1"}


@pytest.fixture
def sns(monkeypatch):
    monkeypatch.setenv("OPS_TABLE_NAME", "unused")
    monkeypatch.setenv("OPS_STAGE", "test")
    monkeypatch.setenv("OPS_EVENTS_TOPIC_ARN", TOPIC)
    settings.cache_clear()
    fake = FakeSns()
    monkeypatch.setattr(notify, "_sns", lambda: fake)
    yield fake
    settings.cache_clear()


def test_an_event_is_one_stable_json_envelope_with_its_type_as_an_attribute(sns):
    assert notify.vacuum_event({"vacuumId": "v1", "action": "completed", "totals": {"items": 3}})
    (sent,) = sns.published
    assert sent["TopicArn"] == TOPIC
    assert sent["MessageAttributes"] == {
        "eventType": {"DataType": "String", "StringValue": "vacuum.completed"}
    }
    message = json.loads(sent["Message"])
    assert set(message) == {"version", "type", "time", "stage", "source", "ids", "detail"}
    assert (message["type"], message["stage"], message["ids"]) == (
        "vacuum.completed",
        "test",
        {"vacuumId": "v1"},
    )
    assert message["detail"]["totals"] == {"items": 3}


def test_secrets_never_leave_even_when_a_caller_passes_them(sns):
    notify.publish(
        "secret.lockout",
        {"secretCode": "s3cr3t", "nested": {"newSecretCode": "n3w", "hash": "h", "kept": 1}, "ok": True},
    )
    message = sns.published[0]["Message"]
    assert "s3cr3t" not in message and "n3w" not in message and '"h"' not in message
    assert json.loads(message)["detail"] == {"nested": {"kept": 1}, "ok": True}


def test_unit_progress_is_not_an_event_but_every_maintenance_action_is(sns):
    assert notify.vacuum_event({"vacuumId": "v1", "action": "unit-done"}) is False
    assert notify.maintenance_event({"maintenanceId": "mw-1", "action": "auto-end"})
    assert notify.maintenance_event({"maintenanceId": "mw-1", "action": "not-effective"})
    types = [json.loads(p["Message"])["type"] for p in sns.published]
    assert types == ["maintenance.ended", "maintenance.not-effective"]


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "AuthorizationError", "Message": "no"}}, "Publish"),
        ConnectTimeoutError(endpoint_url="https://sns"),
    ],
    ids=["refused", "timeout"],
)
def test_a_failed_publish_is_logged_and_counted_never_raised(sns, error, monkeypatch):
    sns.error = error
    counted = []
    monkeypatch.setattr(notify.metrics, "add_metric", lambda **kwargs: counted.append(kwargs["name"]))
    assert notify.publish("vacuum.failed", {"vacuumId": "v1"}) is False
    assert counted == ["NotificationFailed"]


def test_no_topic_configured_means_no_publish(sns, monkeypatch):
    monkeypatch.setenv("OPS_EVENTS_TOPIC_ARN", "")
    settings.cache_clear()
    assert notify.publish("vacuum.failed", {"vacuumId": "v1"}) is False
    assert sns.published == []


def test_an_oversized_detail_is_cut_to_its_ids(sns):
    notify.publish("vacuum.failed", {"vacuumId": "v1", "action": "failed", "error": "x" * 300_000})
    message = json.loads(sns.published[0]["Message"])
    assert message["detail"] == {"vacuumId": "v1", "action": "failed", "truncated": True}


def test_the_execution_status_event_is_parsed_and_a_malformed_one_dropped(sns):
    event = {
        "detail": {
            "executionArn": "arn:aws:states:us-east-1:1:execution:m:e",
            "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m",
            "status": "TIMED_OUT",
            "error": "States.Timeout",
            "cause": "took too long",
        }
    }
    ended = execution_status.parse(event)
    assert execution_status.reason(ended) == (
        "the execution ended TIMED_OUT outside OPS (States.Timeout: took too long)"
    )
    assert execution_status.handle(event)["closed"] is None  # not one of OPS's state machines
    with pytest.raises(InvalidInput):
        execution_status.parse({"detail": {"status": "FAILED"}})
    answer = execution_status_handler.handler({"detail": {}}, _Context())
    assert answer["error"]["code"] == "invalid-input"


class _Context:
    function_name = "g3n-test-ops-execution-status"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:g3n-test-ops-execution-status"
    aws_request_id = "1"
