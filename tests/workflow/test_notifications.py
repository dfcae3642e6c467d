"""Lifecycle events on the SNS topic (moto SNS → an SQS subscriber), and records closed at once
when their execution ends outside OPS (the local stand-in for the EventBridge rule)."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from g3n_ops import notify
from g3n_ops.contract import discovery
from g3n_ops.domain import execution_status
from g3n_ops.store import maintenance as maintenance_store
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops.store import vacuum_audit, vacuum_mutex
from tests.maintenance_support import soon
from tests.support import SECRET, wait_in_state, wait_until
from tests.vacuum_support import dry_run_first, wait_done


@pytest.fixture
def subscriber(local_stack):
    """An SQS queue subscribed (raw delivery) to the topic the stack publishes in discovery."""
    topic = boto3.client("ssm").get_parameter(Name=discovery.EVENTS_TOPIC_ARN)["Parameter"]["Value"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"ops-events-{time.monotonic_ns()}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    received: list[dict] = []

    def drain() -> list[dict]:
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return received
            for message in batch:
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    return drain


def _types(events: list[dict]) -> list[str]:
    return [event["type"] for event in sorted(events, key=lambda event: event["time"])]


def test_the_playbook_publishes_every_lifecycle_event_in_order(stack, client, subscriber):
    window = client.maintenance.schedule(SECRET, "notified upgrade", 600, soon(120))
    client.maintenance.start(SECRET, window["maintenanceId"])
    client.maintenance.update(SECRET, "half way")
    client.maintenance.end(SECRET, "done")
    dry = dry_run_first(client, "TESTORG")
    real = wait_done(client, client.vacuum.org(SECRET, "TESTORG", "after the dry-run"))
    assert real["status"] == "completed"

    events = subscriber()
    assert _types(events) == [
        "maintenance.scheduled",
        "maintenance.started",
        "maintenance.updated",
        "maintenance.ended",
        "vacuum.requested",
        "vacuum.started",
        "vacuum.completed",
        "vacuum.requested",
        "vacuum.started",
        "vacuum.completed",
    ]
    for event in events:
        assert event["version"] == notify.ENVELOPE_VERSION and event["stage"] == "local"
        assert event["source"] == "g3n-ops" and event["time"].endswith("Z")
    by_id = [event["ids"].get("maintenanceId") or event["ids"].get("vacuumId") for event in events]
    assert by_id.count(window["maintenanceId"]) == 4
    assert by_id.count(dry["vacuumId"]) == 3 and by_id.count(real["vacuumId"]) == 3
    completed = next(
        e for e in events if e["type"] == "vacuum.completed" and e["ids"]["vacuumId"] == real["vacuumId"]
    )
    assert completed["detail"]["totals"] == real["stats"]["totals"]
    assert completed["detail"]["dryRun"] is False
    assert SECRET not in json.dumps(events), "no secret ever reaches a notification"


def test_a_vacuum_stopped_from_outside_is_closed_at_once_without_a_read(
    stack, client, local_stack, subscriber
):
    dry_run_first(client, "TESTORG")
    watcher = local_stack.provisioner.status_watcher
    # Stopped by OPS itself (a cancel): the ABORTED event arrives and changes nothing.
    cancelled = client.vacuum.org(SECRET, "TESTORG", "cancelled the proper way")
    client.vacuum.cancel(SECRET, cancelled["vacuumId"])
    wait_until(
        lambda: any(d["event"]["resources"] == [cancelled["executionArn"]] for d in watcher.delivered),
        timeout=10,
        message="the ABORTED event of the cancelled run is delivered",
    )
    assert vacuum_store.get_record(cancelled["vacuumId"]).document()["status"] == "cancelled"

    record = client.vacuum.org(SECRET, "TESTORG", "stopped behind OPS's back")
    assert record["status"] == "pending" and vacuum_mutex.read_mutex().owner == record["vacuumId"]
    vacuum_id = record["vacuumId"]
    record = wait_until(
        lambda: (r := vacuum_store.get_record(vacuum_id).document()).get("executionArn") and r, timeout=10
    )
    wait_in_state(record["executionArn"], "Wait pending window")
    boto3.client("stepfunctions").stop_execution(executionArn=record["executionArn"], cause="console")
    began = time.monotonic()
    # The store, not vacuum-status: nothing reads the run through OPS meanwhile.
    closed = wait_until(
        lambda: (r := vacuum_store.get_record(record["vacuumId"]).document())["status"] != "pending" and r,
        timeout=10,
        interval=0.1,
        message="the record is closed",
    )
    assert time.monotonic() - began < 5
    assert closed["status"] == "failed"
    assert closed["error"]["type"] == "ExecutionAborted" and closed["error"]["code"] == "vacuum-step-failed"
    assert "ABORTED outside OPS" in closed["error"]["message"]
    assert vacuum_mutex.read_mutex() is None
    assert [e["action"] for e in vacuum_audit.audit_entries(record["vacuumId"])][-1] == "failed"
    failed = [e for e in subscriber() if e["type"] == "vacuum.failed"]
    assert [e["ids"]["vacuumId"] for e in failed] == [record["vacuumId"]]
    # Delivered again (EventBridge is at-least-once): nothing more happens.
    delivered = next(
        d["event"] for d in watcher.delivered if d["event"]["resources"] == [record["executionArn"]]
    )
    assert execution_status.handle(delivered)["closed"] is None
    assert vacuum_store.get_record(record["vacuumId"]).document() == closed


@pytest.mark.stack(seed=False)  # the maintenance cases need no seed
def test_a_scheduled_window_whose_execution_is_stopped_is_cancelled_with_the_reason(stack, client):
    window = client.maintenance.schedule(SECRET, "timer lost", 600, soon(600))
    arn = maintenance_store.get(window["maintenanceId"]).execution_arn
    wait_in_state(arn, "Wait for the scheduled start")
    boto3.client("stepfunctions").stop_execution(executionArn=arn, cause="deleted by mistake")
    record = wait_until(
        lambda: (r := maintenance_store.get(window["maintenanceId"])).status == "cancelled" and r,
        timeout=10,
        interval=0.1,
        message="the window is cancelled",
    )
    assert "ABORTED outside OPS" in record.history[-1].message


@pytest.mark.stack(seed=False)
def test_an_active_window_whose_timer_is_stopped_keeps_blocking_and_says_so(stack, client, subscriber):
    window = client.maintenance.schedule(SECRET, "timer lost while active", 600, soon(600))
    client.maintenance.start(SECRET, window["maintenanceId"])  # hands timing to <id>-started
    arn = maintenance_store.get(window["maintenanceId"]).execution_arn
    assert arn.endswith("-started")
    boto3.client("stepfunctions").stop_execution(executionArn=arn, cause="console")
    record = wait_until(
        lambda: (r := maintenance_store.get(window["maintenanceId"])).timer_stopped and r,
        timeout=10,
        interval=0.1,
        message="the window is flagged",
    )
    assert record.status == "active" and record.history[-1].action == "timer-stopped"
    assert client.ping()["maintenance"]["active"] is True
    # The first execution (stopped by OPS's own hand-over) changed nothing.
    assert [h.action for h in record.history] == ["schedule", "start", "timer-stopped"]
    assert "maintenance.timer-stopped" in _types(subscriber())
    client.maintenance.end(SECRET, "ended by hand")
