"""A real vacuum is bound to a completed dry-run of the same scope; run history (vacuum-list,
vacuum-events) on the same runs. Real ASL on the local stack."""

from __future__ import annotations

import json

import boto3
import pytest

from g3n_ops.settings import settings
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET, run_cli, run_cli_json, wait_for_execution, wait_until
from tests.vacuum_support import (
    PHRASE,
    dry_run_first,
    force_fields,
    mutex,
    pending_window,
    plant_dry_run,
    put_registry,
    registry,
    service_counters,
    snapshot,
    wait_done,
)


def _refused(call) -> OpsClientError:
    with pytest.raises(OpsClientError) as refused:
        call()
    return refused.value


@pytest.mark.stack(seed=False)
def test_a_real_run_without_a_matching_completed_dry_run_is_refused_and_changes_nothing(
    stack, client, monkeypatch
):
    refused = _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "no dry-run"))
    assert refused.code == "dry-run-required" and "--dry-run" in refused.message
    assert _refused(lambda: client.vacuum.all(SECRET, "no dry-run", PHRASE)).code == "dry-run-required"
    assert vacuum_store.newest_records(5) == [] and mutex() is None

    other_org = plant_dry_run("testorg")  # case-sensitive: testorg is not TESTORG
    all_scope = plant_dry_run(None)
    assert _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "wrong org")).code == "dry-run-required"
    named = _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "named", dry_run_id=other_org))
    assert named.code == "dry-run-required" and "vacuum-org testorg" in named.message
    named = _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "named", dry_run_id=all_scope))
    assert named.code == "dry-run-required"
    missing = _refused(
        lambda: client.vacuum.org(SECRET, "TESTORG", "named", dry_run_id="20260101-000000-abcdef")
    )
    assert missing.code == "dry-run-required" and "not a dry-run" in missing.message

    # A dry-run that did not complete is no review.
    failed = plant_dry_run("TESTORG")
    force_fields(failed, {"status": "failed"})
    assert _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "failed dry-run")).code == "dry-run-required"
    # Too old: the setting (24 h by default) bounds the implicit choice.
    plant_dry_run("TESTORG")
    monkeypatch.setenv("VACUUM_DRY_RUN_MAX_AGE_SECONDS", "0")
    settings.cache_clear()
    try:
        old = _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "stale dry-run"))
    finally:
        monkeypatch.delenv("VACUUM_DRY_RUN_MAX_AGE_SECONDS")
        settings.cache_clear()
    assert old.code == "dry-run-required" and "last 0 h" in old.message
    assert [r.dry_run for r in vacuum_store.newest_records(10)] == [True] * 4, "nothing real was written"
    assert mutex() is None

    # A console start is bound the same way: it fails before writing or locking anything.
    sfn = boto3.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=settings().vacuum_state_machine_arn,
        name="console-unbound",
        input=json.dumps({"scope": "org", "orgcode": "Globex_EU"}),
    )
    described = wait_for_execution(started["executionArn"], timeout=30, expect="FAILED")
    assert described["error"] == "DryRunRequired"
    assert len(vacuum_store.newest_records(10)) == 4 and mutex() is None


def test_dry_run_then_run_shows_both_columns_and_the_trail(stack, client, capsys):
    dry = dry_run_first(client, "TESTORG")
    counted = service_counters(dry)
    requested = client.vacuum.org(SECRET, "TESTORG", "reviewed")  # the SOP: no id, the newest dry-run
    assert requested["dryRunId"] == dry["vacuumId"]
    final = wait_done(client, requested)
    assert final["status"] == "completed", final.get("error")
    assert final["dryRunId"] == dry["vacuumId"]
    assert service_counters({"stats": final["dryRunStats"]}) == counted
    assert service_counters(final) == counted, "deleted exactly what the dry-run counted"
    assert final["dryRunStats"]["totals"]["items"] == dry["stats"]["totals"]["items"] > 0

    code, document = run_cli_json(capsys, "ops", "vacuum-status", "--vacuum-id", final["vacuumId"])
    assert code == 0 and document["dryRunId"] == dry["vacuumId"]
    assert (
        document["dryRunStats"]["services"]["cat"]["items"] == document["stats"]["services"]["cat"]["items"]
    )
    code, text, _ = run_cli(capsys, "ops", "vacuum-status", "--vacuum-id", final["vacuumId"])
    assert code == 0 and f"bound to dry-run {dry['vacuumId']}" in text
    header = [line for line in text.splitlines() if "┃" in line]
    assert sum(line.count("dry-") for line in header) == 4, text  # beside items, objects, bytes, uploads
    assert "deleted per service" in text

    # The dry-run backed that run: it backs no other, from the CLI or the console.
    assert vacuum_store.get_record(dry["vacuumId"]).document()["consumedBy"] == final["vacuumId"]
    again = _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "again", dry_run_id=dry["vacuumId"]))
    assert again.code == "dry-run-stale" and f"already backed run {final['vacuumId']}" in again.message
    assert _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "again")).code == "dry-run-stale"
    sfn = boto3.client("stepfunctions")
    console = sfn.start_execution(
        stateMachineArn=settings().vacuum_state_machine_arn,
        name="console-bound",
        input=json.dumps({"scope": "org", "orgcode": "TESTORG", "dryRunId": dry["vacuumId"]}),
    )
    assert wait_for_execution(console["executionArn"], timeout=60, expect="FAILED")["error"] == "DryRunStale"
    assert mutex() is None

    # History: newest first, paginated, filtered.
    page = client.vacuum.list(limit=1)
    assert [run["vacuumId"] for run in page["items"]] == [final["vacuumId"]]
    rest = client.vacuum.list(limit=5, next_token=page["nextToken"])
    assert [run["vacuumId"] for run in rest["items"]] == [dry["vacuumId"]] and rest["nextToken"] is None
    assert page["items"][0]["totals"] == final["stats"]["totals"]
    assert client.vacuum.list(status="failed")["items"] == []
    assert _refused(lambda: client.vacuum.list(next_token="bm90LWEta2V5")).code == "invalid-input"
    code, text, _ = run_cli(capsys, "ops", "vacuum-list", "--limit", "1")
    assert code == 0 and final["vacuumId"] not in text and "--next-token" in text

    trail = client.vacuum.events(final["vacuumId"])
    actions = [event["action"] for event in trail["events"]]
    assert actions[0] == "requested" and actions[-1] == "completed" and "started" in actions
    assert [event["at"] for event in trail["events"]] == sorted(event["at"] for event in trail["events"])
    assert trail["events"][-1]["totals"] == final["stats"]["totals"]
    assert "scope" not in trail["events"][0], "the run's context is said once, on the run"
    code, text, _ = run_cli(capsys, "ops", "vacuum-events", "--vacuum-id", final["vacuumId"])
    totals_cell = f"items={final['stats']['totals']['items']}"  # the end's row: the totals, compact
    assert code == 0 and "requested" in text and "completed" in text and totals_cell in text
    assert _refused(lambda: client.vacuum.events("20260101-000000-abcdef")).code == "vacuum-not-found"
    assert SECRET not in json.dumps(trail)


def test_a_dry_run_backs_one_run_recently_and_for_the_same_plan(stack, client):
    reg = registry()
    before = snapshot(reg)
    # Named but older than 24 h: stale.
    old = plant_dry_run("TESTORG")
    force_fields(old, {"createdAt": "2026-01-01T00:00:00.000Z"})
    refused = _refused(lambda: client.vacuum.org(SECRET, "TESTORG", "old", dry_run_id=old))
    assert refused.code == "dry-run-stale" and "older than 24 h" in refused.message

    # A run cancelled while pending does not use its dry-run up: the next run binds to it.
    with pending_window(60):
        dry = plant_dry_run("TESTORG")
        cancelled = client.vacuum.org(SECRET, "TESTORG", "cancelled while pending", dry_run_id=dry)
        assert client.vacuum.cancel(SECRET, cancelled["vacuumId"])["status"] == "cancelled"
    assert "consumedBy" not in vacuum_store.get_record(dry).document()

    # The registry changes between the dry-run and the run: the run is refused as it leaves its
    # pending window, before it deletes anything, and the dry-run stays unused.
    changed = reg.to_document()
    next(s for s in changed["services"] if s["code"] == "cat")["tables"].pop()
    put_registry(changed)
    try:
        requested = client.vacuum.org(SECRET, "TESTORG", "the plan moved", dry_run_id=dry)
        final = wait_done(client, requested)
    finally:
        put_registry(reg.to_document())
    assert final["status"] == "failed" and final["error"]["code"] == "dry-run-stale", final["error"]
    assert "the plan changed since dry-run" in final["error"]["message"]
    assert final.get("startedAt") is None and snapshot(reg) == before and mutex() is None
    assert "consumedBy" not in vacuum_store.get_record(dry).document()

    # Same plan: the run starts and the dry-run is its, once (a second claim by another run loses).
    requested = client.vacuum.org(SECRET, "TESTORG", "the plan held", dry_run_id=dry)
    running = wait_until(
        lambda: vacuum_store.get_record(dry).document().get("consumedBy"),
        timeout=30,
        message="the run claims its dry-run",
    )
    assert running == requested["vacuumId"]
    assert not vacuum_store.claim_dry_run(dry, "20260101-000000-other", at="2026-12-06T00:00:00.000Z")
    assert vacuum_store.claim_dry_run(dry, requested["vacuumId"], at="2026-12-06T00:00:00.000Z"), "a retry"
    final = wait_done(client, requested, timeout=120)
    assert final["status"] == "completed", final.get("error")
