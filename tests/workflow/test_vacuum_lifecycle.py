"""Cancel, the mutex, failures and console starts, executing the real vacuum state machine."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from g3n_ops.settings import settings
from g3n_ops.store import table as ops_table
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops.store import vacuum_mutex
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET, wait_for_execution, wait_until
from tests.vacuum_support import (
    PHRASE,
    deleted_by_org,
    execution,
    force_fields,
    milestones,
    mutex,
    plant_dry_run,
    put_registry,
    registry,
    service_counters,
    snapshot,
    table_keys,
    wait_done,
)


def _audit_actions(vacuum_id: str) -> list[str]:
    return milestones(vacuum_id)


def test_cancel_during_the_pending_window_deletes_nothing_and_frees_the_mutex(stack, client):
    reg = registry()
    before = snapshot(reg)
    plant_dry_run("TESTORG")
    requested = client.vacuum.org(SECRET, "TESTORG", "changed my mind")
    assert requested["status"] == "pending" and mutex()["owner"] == requested["vacuumId"]

    cancelled = client.vacuum.cancel(SECRET, requested["vacuumId"])
    assert cancelled["status"] == "cancelled" and cancelled["finishedAt"]
    wait_for_execution(requested["executionArn"], timeout=20, expect="ABORTED")
    assert mutex() is None
    assert client.vacuum.status(requested["vacuumId"])["status"] == "cancelled"
    assert snapshot(reg) == before
    assert _audit_actions(requested["vacuumId"]) == ["requested", "cancelled"]

    with pytest.raises(OpsClientError) as again:
        client.vacuum.cancel(SECRET, requested["vacuumId"])
    assert again.value.code == "vacuum-not-cancellable"
    assert "cancelled" in again.value.message


def test_a_cancel_that_wins_without_stopping_the_execution_still_ends_it_cleanly(stack, client):
    """If StopExecution never arrives, the state machine's own check after the window sees it."""
    reg = registry()
    before = snapshot(reg)
    plant_dry_run("TESTORG")
    requested = client.vacuum.org(SECRET, "TESTORG", "stopped by the record alone")
    sfn = boto3.client("stepfunctions")

    def waiting() -> bool:
        history = sfn.get_execution_history(executionArn=requested["executionArn"], maxResults=1000)
        return any(e["type"] == "WaitStateEntered" for e in history["events"])

    wait_until(waiting, timeout=20, interval=0.1, message="the execution waits out the pending window")
    assert force_fields(requested["vacuumId"], {"status": "cancelled"}, from_status="pending")
    wait_for_execution(requested["executionArn"], timeout=30, expect="SUCCEEDED")
    history = sfn.get_execution_history(executionArn=requested["executionArn"], maxResults=1000)
    names = [e.get("stateEnteredEventDetails", {}).get("name") for e in history["events"]]
    assert "Cancelled during pending window" in names and "Purge tables" not in names
    assert client.vacuum.status(requested["vacuumId"])["status"] == "cancelled"
    assert snapshot(reg) == before


def _warm_client(endpoint_url: str) -> OpsClient:
    ops = OpsClient(ClientConfig(endpoint_url=endpoint_url))
    _ = ops.parameters, ops.actor  # discovery done before the race starts
    return ops


def test_one_vacuum_at_a_time_and_the_next_one_after_it(stack, client, local_stack):
    clients = [_warm_client(local_stack.endpoint_url) for _ in range(2)]
    start_together = threading.Barrier(2)

    def request(pair):
        ops, org = pair
        start_together.wait()
        try:
            return ops.vacuum.org(SECRET, org, "race", dry_run=True)
        except OpsClientError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(request, zip(clients, ("TESTORG", "testorg"), strict=True)))
    runs = [result for result in results if isinstance(result, dict)]
    refused = [result for result in results if isinstance(result, OpsClientError)]
    assert len(runs) == 1 and len(refused) == 1
    assert refused[0].code == "vacuum-mutex-locked"
    assert runs[0]["vacuumId"] in refused[0].message and "lease until" in refused[0].message
    assert [r.vacuum_id for r in vacuum_store.newest_records(10)] == [runs[0]["vacuumId"]]

    assert wait_done(client, runs[0])["status"] == "completed"
    assert mutex() is None
    following = client.vacuum.org(SECRET, "testorg", "after the first", dry_run=True)
    assert wait_done(client, following)["status"] == "completed"


def _put_mutex(owner: str, lease_expires_at: int) -> None:
    item = {"pk": vacuum_mutex.MUTEX_PK, "owner": owner, "leaseExpiresAt": lease_expires_at}
    boto3.client("dynamodb").put_item(TableName=settings().table_name, Item=ops_table.serialize(item))


def test_a_live_lease_blocks_and_an_expired_lease_is_taken_over(stack, client):
    _put_mutex("20261129-000000-crashed", int(time.time()) + 600)
    with pytest.raises(OpsClientError) as locked:
        client.vacuum.org(SECRET, "TESTORG", "blocked", dry_run=True)
    assert locked.value.code == "vacuum-mutex-locked"
    assert "20261129-000000-crashed" in locked.value.message

    _put_mutex("20261129-000000-crashed", int(time.time()) - 1)  # a run that died long ago
    taken = client.vacuum.org(SECRET, "TESTORG", "takes over", dry_run=True)
    assert mutex()["owner"] == taken["vacuumId"]
    assert wait_done(client, taken)["status"] == "completed"
    assert mutex() is None


def test_a_failure_mid_run_marks_it_failed_keeps_partial_stats_and_frees_the_mutex(stack, client):
    reg = registry()
    original = reg.to_document()
    broken = copy.deepcopy(original)
    # A bucket that does not exist, first in the bucket phase: every table has been purged by
    # then, so the run fails half-way with real deletions behind it.
    first_with_buckets = next(s for s in broken["services"] if s["buckets"])
    first_with_buckets["buckets"].insert(0, "g3n-local-123456789012-missing-bucket")
    before = snapshot(reg)
    put_registry(broken)
    plant_dry_run("TESTORG")  # counted over the broken registry: the run's plan is the dry-run's
    try:
        requested = client.vacuum.org(SECRET, "TESTORG", "doomed")
        final = wait_done(client, requested)  # the first read that says it has ended
        gone = deleted_by_org(reg, before, snapshot(reg), "TESTORG")
    finally:
        put_registry(original)
    assert service_counters(final, ("items", "objects")) == gone, "failed means final"

    assert final["status"] == "failed"
    assert final["error"]["code"] == "vacuum-step-failed", final["error"]
    assert final["error"]["type"] == "NoSuchBucket"
    described = wait_for_execution(final["executionArn"], timeout=20, expect="FAILED")
    assert described["error"] == "NoSuchBucket"
    assert mutex() is None
    assert _audit_actions(final["vacuumId"]) == ["requested", "started", "failing", "failed"]

    def stats_match_what_was_deleted():
        record = client.vacuum.status(final["vacuumId"])
        deleted = {}
        for service in reg.services:
            if service.org_scoped:
                left = {t.name: len(table_keys(t).get("TESTORG", ())) for t in service.tables}
                deleted[service.code] = sum(stack["tables"][name]["TESTORG"] - n for name, n in left.items())
        recorded = {code: entry["items"] for code, entry in record["stats"]["services"].items()}
        return recorded == deleted and record

    # Chunks already running when the failure is recorded may still report for a moment.
    record = wait_until(stats_match_what_was_deleted, timeout=10, message="stats equal the deletions")
    expected_items = sum(
        stack["tables"][t.name]["TESTORG"] for s in reg.services if s.org_scoped for t in s.tables
    )
    assert record["stats"]["totals"]["items"] == expected_items, (
        "the tables phase finished before the failure"
    )
    assert record["stats"]["totals"]["unitsDone"] < record["stats"]["totals"]["units"]


def _console_name() -> str:
    return f"console-{uuid.uuid4().hex[:12]}"  # (moto names every unnamed execution "None")


def test_a_console_start_writes_its_own_record(stack, client):
    sfn = boto3.client("stepfunctions")
    arn = settings().vacuum_state_machine_arn
    started = sfn.start_execution(
        name=_console_name(),
        stateMachineArn=arn,
        input=json.dumps({"scope": "org", "orgcode": "Globex_EU", "dryRun": True}),
    )
    wait_for_execution(started["executionArn"], timeout=30)
    record = vacuum_store.newest_records(1)[0].document()
    assert record["source"] == "console" and record["executionArn"] == started["executionArn"]
    assert (record["status"], record["scope"], record["orgcode"], record["dryRun"]) == (
        "completed",
        "org",
        "Globex_EU",
        True,
    )
    assert record["stats"]["totals"]["items"] > 0
    assert mutex() is None

    # A stray execution for a record that is not its own fails without touching that record.
    stray = sfn.start_execution(
        name=_console_name(), stateMachineArn=arn, input=json.dumps({"vacuumId": record["vacuumId"]})
    )
    described = wait_for_execution(stray["executionArn"], timeout=30, expect="FAILED")
    assert described["error"] == "VacuumNotAdmitted"
    assert vacuum_store.get_record(record["vacuumId"]).document() == record


def test_a_console_start_of_vacuum_all_needs_the_phrase(stack, client):
    sfn = boto3.client("stepfunctions")
    arn = settings().vacuum_state_machine_arn
    refused = sfn.start_execution(
        name=_console_name(), stateMachineArn=arn, input=json.dumps({"scope": "all", "dryRun": True})
    )
    described = wait_for_execution(refused["executionArn"], timeout=30, expect="FAILED")
    assert described["error"] == "ConfirmationPhraseMismatch"
    assert vacuum_store.newest_records(1) == [] and mutex() is None

    _put_mutex("20261129-000000-busy", int(time.time()) + 600)
    busy = sfn.start_execution(
        name=_console_name(),
        stateMachineArn=arn,
        input=json.dumps({"scope": "all", "confirmationPhrase": PHRASE, "dryRun": True}),
    )
    described = wait_for_execution(busy["executionArn"], timeout=30, expect="FAILED")
    assert described["error"] == "VacuumMutexLocked"
    assert mutex()["owner"] == "20261129-000000-busy"
    assert execution({"executionArn": busy["executionArn"]})["status"] == "FAILED"
