"""vacuum-all on the local stack, executing the real state machine on seeded data."""

from __future__ import annotations

import boto3
import pytest

from g3n_ops.settings import settings
from g3n_ops.store import table as ops_table
from tests.support import SECRET
from tests.vacuum_support import (
    PHRASE,
    bucket_versions,
    expected_all_stats,
    log_events,
    log_streams,
    mutex,
    ops_items,
    registry,
    service_counters,
    snapshot,
    table_keys,
    wait_done,
)

MAINTENANCE_RECORD = {
    "pk": "maintenance#20261129-kept",
    "kind": "maintenance",
    "sortKey": "2026-11-29T10:00:00Z",
    "maintenanceId": "20261129-kept",
    "status": "ended",
    "description": "a past window that must outlive any vacuum",
}


# Split whole-table scans into parallel segments (one per 100 items) and keep chunks small, so
# segments and cursors both run through the real state machine.
pytestmark = pytest.mark.stack(env={"VACUUM_SEGMENT_ITEMS": "100", "VACUUM_CHUNK_ITEMS": "60"})


def test_vacuum_all_empties_every_service_and_keeps_the_ops_table(stack, client):
    reg = registry()
    ddb = boto3.client("dynamodb")
    ddb.put_item(TableName=settings().table_name, Item=ops_table.serialize(MAINTENANCE_RECORD))
    ops_before = ops_items()
    before = snapshot(reg)
    expected = expected_all_stats(stack, reg)

    dry = wait_done(client, client.vacuum.all(SECRET, "dry-run first", PHRASE, dry_run=True))
    assert dry["status"] == "completed" and dry["dryRun"] is True and dry["scope"] == "all"
    assert service_counters(dry, ("items", "objects", "bytes", "logStreams")) == expected
    # No logBytes: AWS reports a stream's storedBytes as 0 (see domain/purge/counting.py).
    assert "logBytes" not in dry["stats"]["totals"]
    assert snapshot(reg) == before, "a dry-run must delete nothing"
    whole_units = len(before["tables"]) + len(before["buckets"]) + len(stack["logGroups"])
    assert dry["stats"]["totals"]["units"] > whole_units, "big tables are scanned in parallel segments"

    requested = client.vacuum.all(SECRET, "wipe the dev stack", PHRASE)
    seen: list[dict] = []
    final = client.vacuum.wait(requested["vacuumId"], timeout=90, poll=0.1, on_update=seen.append)
    assert final["status"] == "completed", final.get("error")
    total = final["stats"]["totals"]["items"]
    assert any(r["status"] == "running" and 0 < r["stats"]["totals"]["items"] < total for r in seen), (
        "the stats grow on the record while the run goes (what --watch shows)"
    )
    assert service_counters(final, ("items", "objects", "bytes", "logStreams")) == expected

    for service in reg.services:
        for tbl in service.tables:
            assert table_keys(tbl) == {}, tbl.name
            assert ddb.describe_table(TableName=tbl.name)["Table"]["TableStatus"] == "ACTIVE"
        for bucket in service.buckets:
            assert bucket_versions(bucket) == {}, bucket  # versions and delete markers too
        for group in service.log_groups:
            assert log_events(group) == 0 and log_streams(group) == [], group
            assert boto3.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"], group

    ops_after = ops_items()
    assert ops_after[MAINTENANCE_RECORD["pk"]] == ops_before[MAINTENANCE_RECORD["pk"]]
    assert set(ops_before) <= set(ops_after), "nothing of OPS's own table is deleted"
    assert mutex() is None
