"""Maintenance operations through the client on the local stack: the secret, the error codes,
races, idempotent scheduling and the paginated reads. Nothing here waits for a timer."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest

from g3n_ops.settings import settings
from g3n_ops.store import maintenance_state
from g3n_ops_client.errors import OpsClientError
from tests.maintenance_support import RECORD_FIELDS, audit_lines, soon
from tests.support import SECRET

WRONG = "not-the-secret-code"


def error_code(call) -> str:
    with pytest.raises(OpsClientError) as raised:
        call()
    return raised.value.code


def later(ops, description="Planned work", **kwargs) -> dict:
    """A window far enough ahead that no timer fires during the test."""
    return ops.maintenance.schedule(SECRET, description, kwargs.pop("duration", 600), soon(600), **kwargs)


def test_every_change_needs_the_secret_code_and_a_wrong_one_changes_nothing(ops):
    window = later(ops)
    attempts = [
        lambda: ops.maintenance.schedule(WRONG, "x", 60, soon(60)),
        lambda: ops.maintenance.start(WRONG, window["maintenanceId"]),
        lambda: ops.maintenance.update(WRONG, "x"),
        lambda: ops.maintenance.end(WRONG, "x"),
        lambda: ops.maintenance.cancel(WRONG, window["maintenanceId"]),
    ]
    assert [error_code(attempt) for attempt in attempts] == ["secret-code-mismatch"] * 5
    assert [r["maintenanceId"] for r in ops.maintenance.list()["items"]] == [window["maintenanceId"]]
    assert ops.maintenance.get(window["maintenanceId"])["status"] == "scheduled"
    assert len(audit_lines()) == 1  # the schedule only


BAD_SCHEDULES = [
    ({"duration": 0}, "duration"),
    ({"duration": 8 * 24 * 3600}, "duration"),
    ({"start": "2026-12-01T02:00:00"}, "timezone"),
    ({"start": "next tuesday"}, "ISO 8601"),
    ({"start": "2020-01-01T00:00:00Z"}, "past"),
    ({"description": "   "}, "description"),
    ({"description": "x" * 501}, "description"),
]


def test_schedule_rejects_bad_input(ops):
    for fields, complaint in BAD_SCHEDULES:
        arguments = {"description": "Planned work", "duration": 60, "start": soon(60), **fields}
        with pytest.raises(OpsClientError) as raised:
            ops.maintenance.schedule(
                SECRET, arguments["description"], arguments["duration"], arguments["start"]
            )
        assert (raised.value.code, complaint in raised.value.message) == ("invalid-input", True), fields
    assert ops.maintenance.list()["items"] == []


def test_bad_ids_and_texts_are_invalid_input_unknown_ids_not_found(ops):
    later(ops)
    assert error_code(lambda: ops.maintenance.get("not-an-id")) == "invalid-input"
    assert error_code(lambda: ops.maintenance.start(SECRET, "nope")) == "invalid-input"
    unknown = "mw-20261201-00000000"
    assert error_code(lambda: ops.maintenance.get(unknown)) == "maintenance-not-found"
    assert error_code(lambda: ops.maintenance.start(SECRET, unknown)) == "maintenance-not-found"
    assert error_code(lambda: ops.maintenance.cancel(SECRET, unknown)) == "maintenance-not-found"
    assert error_code(lambda: ops.maintenance.update(SECRET, "x" * 1001)) == "invalid-input"
    assert error_code(lambda: ops.maintenance.end(SECRET, "")) == "invalid-input"


def test_end_or_update_with_nothing_active_is_an_invalid_transition(ops):
    later(ops)
    assert error_code(lambda: ops.maintenance.end(SECRET, "done")) == "invalid-transition"
    assert error_code(lambda: ops.maintenance.update(SECRET, "news")) == "invalid-transition"


def test_a_second_start_while_one_is_active_is_refused(ops):
    first, second = later(ops, "First"), later(ops, "Second")
    ops.maintenance.start(SECRET, first["maintenanceId"])
    assert (
        error_code(lambda: ops.maintenance.start(SECRET, second["maintenanceId"]))
        == "maintenance-already-active"
    )
    assert (
        error_code(lambda: ops.maintenance.start(SECRET, first["maintenanceId"]))
        == "maintenance-already-active"
    )
    assert ops.maintenance.get(second["maintenanceId"])["status"] == "scheduled"
    assert error_code(lambda: ops.maintenance.cancel(SECRET, first["maintenanceId"])) == "invalid-transition"
    # Update and end act on the active window, without naming it.
    assert ops.maintenance.update(SECRET, "halfway")["maintenanceId"] == first["maintenanceId"]
    ended = ops.maintenance.end(SECRET, "done")
    assert ended["maintenanceId"] == first["maintenanceId"] and ended["status"] == "ended"
    assert error_code(lambda: ops.maintenance.start(SECRET, first["maintenanceId"])) == "invalid-transition"
    # With the first one over, the second may start.
    assert ops.maintenance.start(SECRET, second["maintenanceId"])["status"] == "active"


def race(*calls) -> list[str]:
    """Run ``calls`` at the same moment; 'ok' or the error code of each."""
    barrier = threading.Barrier(len(calls))
    results: list[str] = [""] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            call()
            results[index] = "ok"
        except OpsClientError as error:
            results[index] = error.code

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)


def test_two_operators_racing_cannot_both_win(ops):
    windows = [later(ops, f"Window {n}") for n in range(3)]
    starts = race(*(lambda w=w: ops.maintenance.start(SECRET, w["maintenanceId"]) for w in windows))
    assert starts == ["maintenance-already-active", "maintenance-already-active", "ok"]
    assert sum(ops.maintenance.get(w["maintenanceId"])["status"] == "active" for w in windows) == 1

    ends = race(lambda: ops.maintenance.end(SECRET, "mine"), lambda: ops.maintenance.end(SECRET, "no, mine"))
    assert ends == ["invalid-transition", "ok"]
    ended = [ops.maintenance.get(w["maintenanceId"]) for w in windows]
    assert [actions for r in ended if (actions := [e["action"] for e in r["history"]]) != ["schedule"]] == [
        ["schedule", "start", "end"]
    ]
    assert maintenance_state.read() == {"active": False}


def test_a_retried_schedule_returns_the_same_window(ops):
    request_id = str(uuid.uuid4())
    fields = {"secretCode": SECRET, "description": "Retried", "duration": 60, "start": soon(600)}
    first = ops.invoke("maintenance", "maintenance-schedule", requestId=request_id, **fields)
    retry = ops.invoke("maintenance", "maintenance-schedule", requestId=request_id, **fields)
    assert retry["maintenanceId"] == first["maintenanceId"]
    assert [r["maintenanceId"] for r in ops.maintenance.list()["items"]] == [first["maintenanceId"]]
    sfn = boto3.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=settings().maintenance_state_machine_arn)["executions"]
    assert len(executions) == 1
    # A new request (a new requestId) is a new window even with the same fields.
    other = ops.invoke("maintenance", "maintenance-schedule", requestId=str(uuid.uuid4()), **fields)
    assert other["maintenanceId"] != first["maintenanceId"]
    # The idempotency record keys on the request, never the secret code.
    items = boto3.client("dynamodb").scan(TableName=settings().table_name)["Items"]
    assert items and all(SECRET not in str(item) for item in items)


def test_list_is_newest_first_paginated_and_filtered(ops):
    windows = [later(ops, f"Window {n}") for n in range(3)]
    ops.maintenance.cancel(SECRET, windows[1]["maintenanceId"])
    newest_first = [w["maintenanceId"] for w in reversed(windows)]

    first_page = ops.maintenance.list(limit=2)
    assert [r["maintenanceId"] for r in first_page["items"]] == newest_first[:2]
    second_page = ops.maintenance.list(limit=2, next_token=first_page["nextToken"])
    assert [r["maintenanceId"] for r in second_page["items"]] == newest_first[2:]
    assert second_page["nextToken"] is None

    scheduled = ops.maintenance.list(status="scheduled", limit=1)
    rest = ops.maintenance.list(status="scheduled", limit=1, next_token=scheduled["nextToken"])
    found = [r["maintenanceId"] for r in scheduled["items"] + rest["items"]]
    assert found == [windows[2]["maintenanceId"], windows[0]["maintenanceId"]]
    assert [r["maintenanceId"] for r in ops.maintenance.list(status="cancelled")["items"]] == [
        windows[1]["maintenanceId"]
    ]
    record = first_page["items"][0]
    assert set(record) >= RECORD_FIELDS
    assert not {"pk", "kind", "sortKey"} & set(record)

    assert error_code(lambda: ops.maintenance.list(status="sleeping")) == "invalid-input"
    assert error_code(lambda: ops.maintenance.list(limit=500)) == "invalid-input"
    assert error_code(lambda: ops.maintenance.list(next_token="forged")) == "invalid-input"
    assert ops.stat()["maintenance"]["byStatus"] == {"cancelled": 1, "scheduled": 2}


def test_an_unwritable_audit_log_does_not_fail_the_action_it_describes(ops):
    boto3.client("logs").delete_log_group(logGroupName=settings().maintenance_audit_log_group)
    window = later(ops)  # the schedule happened; its audit line could not be written
    assert ops.maintenance.get(window["maintenanceId"])["status"] == "scheduled"
