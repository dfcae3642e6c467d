"""A run bound to its plan, aborted while running, and resumed after a failure: executing the real
vacuum state machine on the seeded local stack."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from g3n_ops.store import vacuum as vacuum_store
from g3n_ops.store import vacuum_audit
from infra import catalogue
from tests.support import SECRET, wait_for_execution, wait_until
from tests.vacuum_support import (
    deleted_by_org,
    expected_org_stats,
    milestones,
    mutex,
    plant_dry_run,
    put_registry,
    registry,
    service_counters,
    snapshot,
    stop_vacuum_executions,
    wait_done,
    wait_status,
)

ORG = "TESTORG"
STEPS_FUNCTION = catalogue.function_name("local", "vacuum-steps")


# Many chunks: the run lasts long enough to meddle.
pytestmark = pytest.mark.stack(env={"VACUUM_CHUNK_ITEMS": "5"})


def _invoke_steps(event: dict) -> tuple[str | None, dict]:
    """Invoke the steps function directly, as anyone allowed lambda:InvokeFunction could."""
    response = boto3.client("lambda").invoke(FunctionName=STEPS_FUNCTION, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_forged_step_events_are_refused_audited_and_delete_nothing(stack, client, monkeypatch):
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "20")
    reg = registry()
    before = snapshot(reg)
    dry = client.vacuum.org(SECRET, ORG, "a dry-run holds the mutex", dry_run=True)
    running = wait_status(client, dry, {"running"})
    arn = running["executionArn"]
    users = next(t for t in reg.service("uas").tables)
    whole_users = {
        "kind": "table",
        "service": "uas",
        "table": users.name,
        "keyNames": list(users.key_names),
        "lookup": "all",
    }
    forged = {
        "unknown unit": {"unitId": "u9999"},
        "a unit id that is not a string id": {"unitId": "../u0000"},
        "another unit than the plan's": {"unitId": "u0000", "unit": whole_users},
        "dryRun contradicting the record": {"unitId": "u0000", "dryRun": False},
    }
    for why, fields in forged.items():
        event = {"step": "purge-chunk", "vacuumId": dry["vacuumId"], "executionArn": arn} | fields
        error, payload = _invoke_steps(event)
        assert error and payload["errorType"] == "VacuumPlanViolation", (why, payload)
        assert "nothing was deleted" in payload["errorMessage"], why
    # An execution Step Functions does not know is refused before the record is even read.
    event = {
        "step": "purge-chunk",
        "vacuumId": dry["vacuumId"],
        "executionArn": arn + "-forged",
        "unitId": "u0000",
    }
    error, payload = _invoke_steps(event)
    assert error and payload["errorType"] == "StepCallerRefused", payload
    # The old event shape (unit and dryRun, no execution) is not even a valid step event.
    error, payload = _invoke_steps(
        {"step": "purge-chunk", "vacuumId": dry["vacuumId"], "dryRun": False, "unit": whole_users}
    )
    assert error and payload["errorType"] == "InvalidInput"

    final = wait_done(client, dry, timeout=120)
    assert final["status"] == "completed", final.get("error")
    assert service_counters(final) == expected_org_stats(stack, reg, ORG), "forged events added nothing"
    assert snapshot(reg) == before, "nothing was deleted"
    actions = [entry["action"] for entry in vacuum_audit.audit_entries(dry["vacuumId"])]
    assert actions.count("plan-violation") == len(forged)
    assert actions.count("step-caller-refused") == 1
    assert mutex() is None


def test_a_start_whose_result_was_lost_is_retried_without_harm(seeded, local_stack, client):
    """Mark running did its work but its answer never arrived (a crash): the state machine's
    retry finds the run already running as this execution's, and it goes on from there."""
    reg = registry()
    plant_dry_run(ORG)
    requested = client.vacuum.org(SECRET, ORG, "a start retried")
    pending = wait_until(
        lambda: (
            (record := vacuum_store.get_record(requested["vacuumId"]).document()).get("executionArn")
            and record
        ),
        timeout=10,
        interval=0.05,
        message="the execution admits the run",
    )
    assert pending["status"] == "pending"
    # The domain holds the pending window too: the start is sent the moment the window is over,
    # just ahead of the execution's own (whose Wait began when it admitted the run, a little later).
    window_over = datetime.fromisoformat(pending["createdAt"]) + timedelta(
        seconds=local_stack.pending_seconds
    )
    time.sleep(max(0.0, (window_over - datetime.now(UTC)).total_seconds()))
    error, first = _invoke_steps(
        {"step": "start", "vacuumId": requested["vacuumId"], "executionArn": pending["executionArn"]}
    )
    assert error is None and first["started"] is True, first  # the attempt whose result is lost
    try:
        final = wait_done(client, requested, timeout=120)  # the execution's own start is the retry
    finally:
        stop_vacuum_executions()
    assert final["status"] == "completed", final.get("error")
    assert service_counters(final) == expected_org_stats(seeded, reg, ORG)
    assert milestones(requested["vacuumId"]) == ["requested", "started", "completed"]


def test_cancel_while_running_stops_within_a_chunk_with_exact_partial_stats(stack, client):
    reg = registry()
    before = snapshot(reg)
    plant_dry_run(ORG)  # the real run binds to a reviewed dry-run (its own tests: dry-run binding)
    requested = client.vacuum.org(SECRET, ORG, "abort half-way")

    def deleting():
        record = client.vacuum.status(requested["vacuumId"])
        return record["status"] == "running" and record["stats"]["totals"].get("items", 0) > 0 and record

    wait_until(deleting, timeout=30, interval=0.05, message="the run deletes")
    cancelling = client.vacuum.cancel(SECRET, requested["vacuumId"])
    assert (cancelling["status"], cancelling["cancelledWhile"]) == ("cancelling", "running")
    assert cancelling["cancelledBy"] and cancelling["finishedAt"] is None

    # What the operator reads: cancelling until nothing is in flight, then cancelled, final from
    # that first read (no wait on the execution in between).
    seen = []

    def settled():
        record = client.vacuum.status(requested["vacuumId"])
        seen.append(record["status"])
        return record["status"] == "cancelled" and record

    final = wait_until(settled, timeout=60, interval=0.05, message="the cancel settles")
    after = snapshot(reg)
    assert set(seen) <= {"cancelling", "cancelled"}
    assert service_counters(final, ("items", "objects")) == deleted_by_org(reg, before, after, ORG)
    assert mutex() is None
    expected = expected_org_stats(stack, reg, ORG)
    assert final["stats"]["totals"]["items"] < sum(e["items"] for e in expected.values()), "it stopped early"
    wait_for_execution(cancelling["executionArn"], timeout=30, expect="SUCCEEDED")
    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=cancelling["executionArn"], maxResults=1000
    )
    names = {e.get("stateEnteredEventDetails", {}).get("name") for e in history["events"]}
    assert "Cancelled while running" in names and "Finalise" not in names
    assert client.vacuum.status(requested["vacuumId"])["stats"] == final["stats"], "final means final"
    trail = vacuum_audit.audit_entries(final["vacuumId"])
    actions = [e["action"] for e in trail]
    assert actions[:3] == ["requested", "admitted", "window-over"] and actions[3] == "started"
    assert actions[-2:] == ["cancel-requested", "cancelled"] or actions[-1] == "cancelled", actions
    assert trail[-1]["totals"] == final["stats"]["totals"] and trail[-1]["by"] == cancelling["cancelledBy"]
    done = [e for e in trail if e["action"] == "unit-done"]
    assert sum(e["counts"].get("items", 0) for e in done) <= final["stats"]["totals"]["items"]


def test_a_failed_run_resumes_from_its_cursors_and_completes_exactly(stack, client, monkeypatch):
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "20")
    reg = registry()
    before = snapshot(reg)
    original = reg.to_document()
    broken = copy.deepcopy(original)
    missing = "g3n-local-123456789012-missing-bucket"
    next(s for s in broken["services"] if s["buckets"])["buckets"].append(missing)
    put_registry(broken)
    try:
        plant_dry_run(ORG)
        requested = client.vacuum.org(SECRET, ORG, "fails on a missing bucket")
        failed = wait_done(client, requested, timeout=120)
        assert failed["status"] == "failed" and failed["error"]["type"] == "NoSuchBucket", failed["error"]
        assert mutex() is None

        def partial_stats_are_exact():
            record = client.vacuum.status(requested["vacuumId"])
            return service_counters(record, ("items", "objects")) == deleted_by_org(
                reg, before, snapshot(reg), ORG
            )

        wait_until(partial_stats_are_exact, timeout=10, message="partial stats equal the deletions")

        boto3.client("s3").create_bucket(Bucket=missing)  # the cause is fixed
        resumed = client.vacuum.resume(SECRET, requested["vacuumId"])
        assert (resumed["status"], resumed["attempt"]) == ("running", 2)
        assert resumed["executionArn"].endswith(f":vacuum-{requested['vacuumId']}-r2")
        final = wait_done(client, resumed, timeout=120)
    finally:
        put_registry(original)
    assert final["status"] == "completed", final.get("error")
    assert final["vacuumId"] == requested["vacuumId"] and final["attempt"] == 2
    assert service_counters(final) == expected_org_stats(stack, reg, ORG), "everything counted once"
    assert final["stats"]["totals"]["unitsDone"] == final["stats"]["totals"]["units"]
    after = snapshot(reg)
    assert deleted_by_org(reg, before, after, ORG) == service_counters(final, ("items", "objects"))
    for name, keys in before["tables"].items():
        assert {org: k for org, k in after["tables"][name].items()} == {
            org: k for org, k in keys.items() if org != ORG or name not in _org_tables(reg)
        }, name
    assert mutex() is None
    assert milestones(requested["vacuumId"]) == [
        "requested", "started", "failing", "failed", "resumed", "completed"
    ]  # fmt: skip

    with pytest.raises(Exception) as again:
        client.vacuum.resume(SECRET, requested["vacuumId"])
    assert getattr(again.value, "code", None) == "vacuum-not-resumable"


def _org_tables(reg) -> set[str]:
    return {t.name for s in reg.services if s.org_scoped for t in s.tables}


def test_a_run_failed_by_an_s3_outage_resumes_exactly_when_it_ends(
    seeded, local_stack, client, monkeypatch, compressed_retry_waits
):
    """The runtime fault switch: S3 fails every call until the retry budgets (the code's and the
    state machine's) are spent, so the run fails with the tables' share deleted and counted; the
    outage ends, vacuum-resume goes on from the stored cursors and ends exact, objects included."""
    monkeypatch.setenv("VACUUM_RETRY_SECONDS", "0.5")
    reg = registry()
    before = snapshot(reg)
    plant_dry_run(ORG)
    local_stack.set_faults("server=1.0@s3")
    try:
        requested = client.vacuum.org(SECRET, ORG, "runs into an S3 outage")
        failed = wait_done(client, requested, timeout=120)
        # The outage lasts until the failed execution's chunks in flight have ended (as Lambda
        # invocations do after a Map fails); a chunk still in flight would go on when S3 returns
        # and delete up to its next checkpoint (where it sees `failed`, counts and stops).
        wait_for_execution(failed["executionArn"], timeout=30, expect="FAILED")
        wait_until(lambda: local_stack.invocations_in_flight("vacuum-steps") == 0, timeout=30)
    finally:
        local_stack.set_faults(None)
    try:
        assert failed["status"] == "failed", failed
        assert failed["error"]["code"] == "aws-unavailable", failed["error"]
        assert mutex() is None
        failed = client.vacuum.status(requested["vacuumId"])
        deleted = deleted_by_org(reg, before, snapshot(reg), ORG)
        assert service_counters(failed, ("items", "objects")) == deleted, "partial stats are exact"
        assert sum(entry["objects"] for entry in deleted.values()) == 0, "no S3 call got through"
        assert sum(entry["items"] for entry in deleted.values()) > 0, "the tables went on meanwhile"
        assert failed["stats"]["totals"]["unitsDone"] < failed["stats"]["totals"]["units"]

        resumed = client.vacuum.resume(SECRET, requested["vacuumId"])
        assert resumed["executionArn"].endswith(f":vacuum-{requested['vacuumId']}-r2")
        final = wait_done(client, resumed, timeout=120)
    finally:
        stop_vacuum_executions()
    assert final["status"] == "completed", final.get("error")
    assert service_counters(final) == expected_org_stats(seeded, reg, ORG), "everything counted once"
    after = snapshot(reg)
    assert deleted_by_org(reg, before, after, ORG) == service_counters(final, ("items", "objects"))
    for bucket, versions in before["buckets"].items():
        assert after["buckets"][bucket] == {o: v for o, v in versions.items() if o != ORG}, bucket
    assert mutex() is None


def test_a_cancelling_run_whose_execution_is_stopped_outside_settles_and_frees_the_mutex(stack, client):
    """Cancelled while running, then its execution stopped from the console before it wound down:
    the execution-status path settles it (no status read involved), so the mutex does not wait for
    its 15-minute lease."""
    plant_dry_run(ORG)
    requested = client.vacuum.org(SECRET, ORG, "cancelled, then stopped from the console")

    def deleting():
        record = vacuum_store.get_record(requested["vacuumId"]).document()
        return record["status"] == "running" and record["stats"]["totals"].get("items", 0) > 0 and record

    running = wait_until(deleting, timeout=30, interval=0.05, message="the run deletes")
    assert client.vacuum.cancel(SECRET, requested["vacuumId"])["status"] == "cancelling"
    boto3.client("stepfunctions").stop_execution(
        executionArn=running["executionArn"], cause="from the console"
    )
    settled = wait_until(
        lambda: (
            (record := vacuum_store.get_record(requested["vacuumId"]).document())["status"] == "cancelled"
            and record
        ),
        timeout=30,
        interval=0.1,
        message="execution-status settles the run",
    )
    assert mutex() is None and "inFlight" not in settled
    assert milestones(requested["vacuumId"])[-2:] == ["cancel-requested", "cancelled"]
