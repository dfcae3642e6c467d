"""vacuum-all --with-maintenance through the real ASL on the local stack: a maintenance window is
active (the stand-ins answer 503) while the run deletes, and ends when the run ends, however it
ends; a request refused for the flag changes nothing. What the public sees of the window (the
status page, the 503 bodies) is fixed text: never the run's id nor the operator's reason."""

from __future__ import annotations

import copy
import json
import urllib.request
from datetime import UTC, datetime

import boto3
import pytest

from g3n_ops import settings as settings_module
from g3n_ops.contract.errors import AwsServerError
from g3n_ops.domain import maintenance
from g3n_ops.domain.vacuum.maintenance_bracket import PUBLIC_DESCRIPTION, PUBLIC_END_MESSAGE
from g3n_ops.observability import metrics
from g3n_ops.store import maintenance_state
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET, wait_until
from tests.vacuum_support import (
    PHRASE,
    mutex,
    plant_dry_run,
    put_registry,
    registry,
    wait_done,
    wait_status,
)
from tests.workflow.test_maintenance_lifecycle import standin_status

pytestmark = pytest.mark.stack(env={"VACUUM_SETTLE_SECONDS": "0.2"})


def window_of(client, record: dict) -> dict:
    return client.maintenance.get(record["maintenanceId"])


def ended_window(client, record: dict, outcome: str) -> dict:
    """The run's window, once ended with the fixed public end message; how the run ended is in the
    run's audit trail, and the window's history names the run (neither is public)."""
    window = wait_until(
        lambda: (found := window_of(client, record))["status"] == "ended" and found,
        timeout=30,  # the outside-OPS path goes through the status watcher: slower under load
        message="the run's window to end",
    )
    assert window["endMessage"] == PUBLIC_END_MESSAGE, window
    assert window["history"][-1]["actor"] == f"vacuum:{record['vacuumId']}", window["history"]
    ended = wait_until(  # audited right after the window ended
        lambda: [
            event
            for event in client.vacuum.events(record["vacuumId"], limit=500)["events"]  # all of it
            if event["action"] == "maintenance-ended"
        ],
        timeout=10,
        message="the run's maintenance-ended event",
    )
    assert outcome in ended[-1]["outcome"], ended
    assert maintenance_state.active_id() is None
    return window


def public_surfaces(local_stack, *, service: str | None = None) -> dict[str, str]:
    """What anyone can read without signing: the status page (HTML and JSON) and, when given, a
    guarded stand-in's answer (its 503 body while a window is active)."""

    def fetch(url: str, accept: str | None = None) -> str:
        request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode()

    page = local_stack.info.api_url + "/status"
    found = {"status HTML": fetch(page), "status JSON": fetch(page, "application/json")}
    if service:
        found[f"{service} 503"] = json.dumps(standin_status(local_stack.info.services_url, service)[2])
    return found


def assert_public_text_only(local_stack, record: dict, reason: str, *, service: str | None = None) -> None:
    """Neither the run's id nor the operator's reason is on a public surface; the window's fixed
    description is."""
    surfaces = public_surfaces(local_stack, service=service)
    private = (record["vacuumId"], reason)
    leaks = {(name, text) for name, body in surfaces.items() for text in private if text in body}
    assert leaks == set(), surfaces
    assert all(PUBLIC_DESCRIPTION in body for body in surfaces.values()), surfaces


def windows(client) -> list[dict]:
    return client.maintenance.list()["items"]


def test_the_window_is_active_while_the_run_deletes_and_ends_when_it_completes(stack, local_stack, client):
    plant_dry_run()
    reason = "wipe under maintenance for ticket Zq7-internal-note"
    requested = client.vacuum.all(SECRET, reason, PHRASE, with_maintenance=True)
    assert requested["withMaintenance"] is True and requested["status"] == "pending"
    window = window_of(client, requested)
    # Open before the execution deletes anything: active now, with the fixed public description
    # (the record names the run in its actor, which is not public).
    assert window["status"] == "active" and window["description"] == PUBLIC_DESCRIPTION
    assert window["actor"] == f"vacuum:{requested['vacuumId']}"
    assert window["autoEnd"] is False
    code = "cat"
    wait_until(
        lambda: standin_status(local_stack.info.services_url, code)[0] == 503,
        timeout=5,
        interval=0.1,
        message="the stand-in to answer 503",
    )
    # The status page and the 503 body show the fixed text only.
    assert_public_text_only(local_stack, requested, reason, service=code)
    assert client.vacuum.status(requested["vacuumId"])["status"] in ("pending", "running")

    final = wait_done(client, requested)
    assert final["status"] == "completed", final.get("error")
    window = ended_window(client, final, "completed")
    assert_public_text_only(local_stack, final, reason)
    assert PUBLIC_END_MESSAGE in public_surfaces(local_stack)["status JSON"]
    assert window["startedAt"] <= final["startedAt"] and window["endedAt"] >= final["finishedAt"]
    actions = [event["action"] for event in client.vacuum.events(final["vacuumId"], limit=500)["events"]]
    assert actions.index("maintenance-ended") > actions.index("completed"), actions
    assert mutex() is None


def test_a_run_cancelled_while_pending_ends_its_window(stack, local_stack, client):
    plant_dry_run()
    reason = "cancelled under maintenance for ticket Kx9-internal-note"
    requested = client.vacuum.all(SECRET, reason, PHRASE, with_maintenance=True)
    assert window_of(client, requested)["status"] == "active"
    assert_public_text_only(local_stack, requested, reason)
    cancelled = client.vacuum.cancel(SECRET, requested["vacuumId"])
    assert cancelled["status"] == "cancelled"
    ended_window(client, requested, "cancelled while pending")
    assert_public_text_only(local_stack, requested, reason)  # the ended window: recentlyEnded
    assert mutex() is None


def test_a_run_cancelled_while_running_ends_its_window_when_it_has_wound_down(stack, client, monkeypatch):
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "10")  # many checkpoints: the run is caught running
    plant_dry_run()
    requested = client.vacuum.all(SECRET, "cancelled mid-run", PHRASE, with_maintenance=True)
    wait_status(client, requested, {"running"}, timeout=15)
    cancelling = client.vacuum.cancel(SECRET, requested["vacuumId"])
    assert (cancelling["status"], cancelling["cancelledWhile"]) == ("cancelling", "running")
    wait_status(client, requested, {"cancelled"}, timeout=60)
    ended_window(client, requested, "cancelled while running")
    wait_until(lambda: mutex() is None, timeout=10, message="the mutex to be freed")


def test_a_run_failed_mid_way_ends_its_window(stack, client):
    reg = registry()
    original = reg.to_document()
    broken = copy.deepcopy(original)
    # A bucket that does not exist: the run fails in its bucket phase, after real deletions.
    next(s for s in broken["services"] if s["buckets"])["buckets"].insert(0, "g3n-local-123456789012-missing")
    put_registry(broken)
    plant_dry_run()  # counted over the broken registry: the run's plan is the dry-run's
    try:
        requested = client.vacuum.all(SECRET, "fails under maintenance", PHRASE, with_maintenance=True)
        final = wait_done(client, requested)
    finally:
        put_registry(original)
    assert final["status"] == "failed" and final["error"]["type"] == "NoSuchBucket", final["error"]
    ended_window(client, final, "failed (vacuum-step-failed)")
    assert mutex() is None


def test_a_start_that_failed_ends_its_window(stack, client, monkeypatch):
    monkeypatch.setenv(
        "VACUUM_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:missing"
    )
    settings_module.settings.cache_clear()
    plant_dry_run()
    try:
        with pytest.raises(OpsClientError) as refused:
            client.vacuum.all(SECRET, "cannot start", PHRASE, with_maintenance=True)
    finally:
        monkeypatch.undo()
        settings_module.settings.cache_clear()
    assert refused.value.code == "vacuum-start-failed"
    [listed] = [r for r in client.vacuum.list()["items"] if not r["dryRun"]]
    record = client.vacuum.status(listed["vacuumId"])
    assert record["status"] == "failed" and record["maintenanceId"]
    ended_window(client, record, "failed (vacuum-start-failed)")
    assert mutex() is None


def test_an_execution_stopped_outside_ops_ends_the_window(stack, client):
    """The execution-status handler closes the run (failed) and, with it, the window."""
    plant_dry_run()
    requested = client.vacuum.all(SECRET, "aborted under maintenance", PHRASE, with_maintenance=True)
    boto3.client("stepfunctions").stop_execution(executionArn=requested["executionArn"], cause="console")
    # Not through vacuum-status (its read reconciles too): the window is watched, then the record.
    ended_window(client, requested, "failed")
    final = vacuum_store.get_record(requested["vacuumId"]).document()
    assert final["status"] == "failed" and "outside OPS" in final["error"]["message"], final["error"]
    assert mutex() is None


def test_the_flag_is_refused_on_a_dry_run_on_vacuum_org_and_while_a_window_is_active_and_optional(
    stack, client
):
    plant_dry_run()
    plant_dry_run("TESTORG")
    before = client.vacuum.list()["items"]

    with pytest.raises(OpsClientError) as refused:
        client.vacuum.all(SECRET, "dry", PHRASE, dry_run=True, with_maintenance=True)
    assert refused.value.code == "invalid-input" and "dry-run" in refused.value.message
    with pytest.raises(OpsClientError) as refused:
        client.invoke(
            "vacuum", "vacuum-org", secretCode=SECRET, orgcode="TESTORG", reason="org", withMaintenance=True
        )
    assert refused.value.code == "invalid-input"
    assert windows(client) == [] and mutex() is None

    operators = client.maintenance.schedule(SECRET, "operator's own window", 600, datetime.now(UTC))
    wait_until(  # its start is now: its own execution starts it
        lambda: client.maintenance.get(operators["maintenanceId"])["status"] == "active",
        timeout=10,
        message="the operator's window to start",
    )
    with pytest.raises(OpsClientError) as refused:
        client.vacuum.all(SECRET, "wipe", PHRASE, with_maintenance=True)
    assert refused.value.code == "maintenance-already-active"
    assert operators["maintenanceId"] in refused.value.message
    # Nothing changed: no new run, the mutex free, the operator's window untouched and active.
    assert client.vacuum.list()["items"] == before and mutex() is None
    assert [w["maintenanceId"] for w in windows(client)] == [operators["maintenanceId"]]
    assert client.maintenance.get(operators["maintenanceId"])["status"] == "active"
    client.maintenance.end(SECRET, "done")

    # Without the flag, no window is opened (the run cancelled while pending, before it deletes).
    plain = client.vacuum.all(SECRET, "plain wipe", PHRASE)
    assert "maintenanceId" not in plain and "withMaintenance" not in plain
    assert maintenance_state.active_id() is None
    client.vacuum.cancel(SECRET, plain["vacuumId"])
    assert [w["maintenanceId"] for w in windows(client)] == [operators["maintenanceId"]]


def test_closing_is_best_effort_and_leaves_an_operators_end_alone(stack, client, monkeypatch):
    """A window the operator ended keeps the operator's message; a window that cannot be ended
    is logged, counted and audited, and the run's own cancel still succeeds."""
    plant_dry_run()
    first = client.vacuum.all(SECRET, "operator ends the window", PHRASE, with_maintenance=True)
    client.maintenance.end(SECRET, "ended by the operator")
    assert client.vacuum.cancel(SECRET, first["vacuumId"])["status"] == "cancelled"
    assert window_of(client, first)["endMessage"] == "ended by the operator"
    assert "maintenance-ended" not in [e["action"] for e in client.vacuum.events(first["vacuumId"])["events"]]

    emitted: list[dict] = []
    monkeypatch.setattr(metrics, "add_metric", lambda **metric: emitted.append(metric))

    def unavailable(*_args, **_kwargs):
        raise AwsServerError("AWS failed ending the window (InternalError)")

    end_window = maintenance.end_window
    monkeypatch.setattr(maintenance, "end_window", unavailable)
    second = client.vacuum.all(SECRET, "the window cannot be ended", PHRASE, with_maintenance=True)
    assert client.vacuum.cancel(SECRET, second["vacuumId"])["status"] == "cancelled"
    assert mutex() is None
    try:
        # Every terminal path that tried (the cancel, then the execution's wind-down) says so.
        left_open = [
            e
            for e in client.vacuum.events(second["vacuumId"])["events"]
            if e["action"] == "maintenance-left-open"
        ]
        assert left_open
        assert all(e["maintenanceId"] == second["maintenanceId"] for e in left_open)
        assert all("InternalError" in e["error"] for e in left_open)
        assert {"name": "VacuumMaintenanceNotEnded", "unit": "Count", "value": 1} in emitted
        assert window_of(client, second)["status"] == "active"  # the operator ends it by hand
    finally:  # never leave a window active for the next test on this stack
        monkeypatch.setattr(maintenance, "end_window", end_window)
        if maintenance_state.active_id():  # (a failed assertion above must not be hidden by this)
            try:
                client.maintenance.end(SECRET, "ended by hand")
            except OpsClientError as error:
                # The execution's wind-down, still closing, may end it first now it can.
                if error.code != "invalid-transition":
                    raise
