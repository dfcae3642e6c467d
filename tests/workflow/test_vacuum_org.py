"""vacuum-org on the local stack, executing the real state machine on seeded data."""

from __future__ import annotations

import json

import boto3
import pytest

from g3n_ops.store import vacuum_audit
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET
from tests.vacuum_support import (
    execution,
    expected_org_stats,
    log_events,
    milestones,
    mutex,
    plant_dry_run,
    registry,
    service_counters,
    snapshot,
    wait_done,
)

ORG = "TESTORG"


# Small chunks: every table with more than 50 of the org's items needs several chunks, so the
# state machine's loop and the cursors between chunks are exercised.
pytestmark = pytest.mark.stack(env={"VACUUM_CHUNK_ITEMS": "50"})


def test_dry_run_counts_exactly_the_org_and_the_real_run_deletes_exactly_that(stack, client):
    reg = registry()
    before = snapshot(reg)
    # The seed's TESTORG beside a testorg: org codes are matched exactly, case-sensitively.
    assert {ORG, ORG.lower()} <= set(stack["orgs"])
    expected = expected_org_stats(stack, reg, ORG)
    assert set(expected) == {s.code for s in reg.services} - {"uas", "usm"}

    requested = client.vacuum.org(SECRET, ORG, "dry-run first", dry_run=True)
    assert (requested["status"], requested["scope"], requested["orgcode"]) == ("pending", "org", ORG)
    dry = wait_done(client, requested)
    assert dry["status"] == "completed" and dry["dryRun"] is True
    assert service_counters(dry) == expected
    assert dry["stats"]["totals"]["items"] == sum(e["items"] for e in expected.values())
    assert dry["stats"]["totals"]["bytes"] == sum(e["bytes"] for e in expected.values())
    assert snapshot(reg) == before, "a dry-run must delete nothing"
    assert mutex() is None

    requested = client.vacuum.org(SECRET, ORG, "the real thing")
    assert requested["status"] == "pending" and requested["dryRun"] is False
    final = wait_done(client, requested)
    assert final["status"] == "completed", final.get("error")
    assert service_counters(final) == expected
    assert final["stats"]["totals"]["unitsDone"] == final["stats"]["totals"]["units"]

    after = snapshot(reg)
    org_scoped = {t.name for s in reg.services if s.org_scoped for t in s.tables}
    for name, keys in before["tables"].items():
        if name in org_scoped:
            assert after["tables"][name] == {org: k for org, k in keys.items() if org != ORG}, name
            assert after["tables"][name][ORG.lower()] == keys[ORG.lower()], f"{name}: testorg is whole"
        else:  # users and sessions are cross-org: TESTORG's included, every item stays
            assert after["tables"][name] == keys, name
    for bucket, versions in before["buckets"].items():
        kept = {owner: v for owner, v in versions.items() if owner != ORG}
        assert after["buckets"][bucket] == kept, bucket
    for group, seeded_group in stack["logGroups"].items():
        assert log_events(group) == seeded_group["events"], "vacuum-org never touches log groups"
    assert mutex() is None

    with pytest.raises(OpsClientError) as refused:
        client.vacuum.cancel(SECRET, requested["vacuumId"])
    assert refused.value.code == "vacuum-not-cancellable"


def test_the_run_is_recorded_audited_and_never_carries_the_secret(stack, client):
    plant_dry_run("testorg")
    requested = client.vacuum.org(SECRET, "testorg", "audit trail")
    final = wait_done(client, requested)
    assert final["status"] == "completed"
    assert final["source"] == "cli" and final["reason"] == "audit trail"
    assert final["createdAt"] <= final["startedAt"] <= final["finishedAt"]

    described = execution(final)
    assert described["name"] == f"vacuum-{final['vacuumId']}"
    assert json.loads(described["input"]) == {
        "vacuumId": final["vacuumId"],
        "scope": "org",
        "orgcode": "testorg",
        "dryRun": False,
    }
    history = boto3.client("stepfunctions").get_execution_history(
        executionArn=final["executionArn"], maxResults=1000
    )
    assert SECRET not in json.dumps(history, default=str)
    chunks = [
        e for e in history["events"] if e.get("stateEnteredEventDetails", {}).get("name") == "Purge a chunk"
    ]
    table_units = sum(1 for s in registry().services if s.org_scoped for _ in s.tables)
    assert len(chunks) > table_units, "tables over the chunk size loop through several chunks"

    entries = vacuum_audit.audit_entries(final["vacuumId"])
    assert milestones(final["vacuumId"]) == ["requested", "started", "completed"]
    assert entries[-1]["totals"] == final["stats"]["totals"]
    # The trail shows every unit: its end with its own counts and time, its verify, in time order.
    actions = [e["action"] for e in entries]
    assert actions[:4] == ["requested", "admitted", "window-over", "started"], actions
    [started] = [e for e in entries if e["action"] == "started"]
    done = {e["unitId"]: e for e in entries if e["action"] == "unit-done"}
    assert set(done) == {unit["unitId"] for unit in started["units"]}, "one entry per unit, not per chunk"
    assert all(e["elapsedSeconds"] >= 0 and e["unit"] for e in done.values())
    for counter in ("items", "objects"):
        assert sum(e["counts"].get(counter, 0) for e in done.values()) == final["stats"]["totals"][counter]
    verified = [e for e in entries if e["action"] == "unit-verified"]
    assert verified and actions.index("verified") > max(i for i, a in enumerate(actions) if a == "unit-done")
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert all(SECRET not in json.dumps(e) for e in entries)
