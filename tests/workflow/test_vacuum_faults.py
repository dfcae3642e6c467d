"""Exact under faults: with throttling, 5xx errors and lost Lambda results injected into the local
stack, the real state machine's org dry-run and org run count and delete exactly what was seeded
(a crash after a committed checkpoint is retried and goes on from the stored cursor)."""

from __future__ import annotations

import pytest

from tests.support import SECRET
from tests.vacuum_support import (
    PHRASE,
    expected_all_stats,
    expected_org_stats,
    log_streams,
    mutex,
    plant_dry_run,
    registry,
    service_counters,
    snapshot,
    stop_vacuum_executions,
    wait_done,
)

ORG = "TESTORG"
FAULTS = "throttle=0.2,server=0.05,crash=0.1"


@pytest.fixture
def faulty(seeded, local_stack, monkeypatch, compressed_retry_waits):
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "50")
    monkeypatch.setenv("VACUUM_SETTLE_SECONDS", "0.2")
    local_stack.set_faults(FAULTS, seed=20261130)
    yield seeded
    local_stack.set_faults(None)
    stop_vacuum_executions()


def test_an_org_dry_run_and_run_are_exact_under_faults(faulty, local_stack, client):
    reg = registry()
    before = snapshot(reg)
    expected = expected_org_stats(faulty, reg, ORG)

    dry = wait_done(client, client.vacuum.org(SECRET, ORG, "dry-run under faults", dry_run=True), timeout=240)
    assert dry["status"] == "completed", dry.get("error")
    assert service_counters(dry) == expected
    assert snapshot(reg) == before

    final = wait_done(client, client.vacuum.org(SECRET, ORG, "run under faults"), timeout=240)
    assert final["status"] == "completed", final.get("error")  # verify found nothing left
    assert service_counters(final) == expected
    injected = local_stack.fault_counts()
    assert injected.get("crash", 0) > 0 and injected.get("throttle", 0) > 0, injected

    after = snapshot(reg)
    org_tables = {t.name for s in reg.services if s.org_scoped for t in s.tables}
    for name, keys in before["tables"].items():
        kept = {org: k for org, k in keys.items() if org != ORG or name not in org_tables}
        assert after["tables"][name] == kept, name
    for bucket, versions in before["buckets"].items():
        assert after["buckets"][bucket] == {o: v for o, v in versions.items() if o != ORG}, bucket
    assert mutex() is None


def test_vacuum_all_is_exact_under_faults(faulty, local_stack, client, monkeypatch):
    monkeypatch.setenv("VACUUM_SEGMENT_ITEMS", "100")  # parallel segments too
    reg = registry()
    expected = expected_all_stats(faulty, reg)
    plant_dry_run(None)
    final = wait_done(client, client.vacuum.all(SECRET, "wipe under faults", PHRASE), timeout=240)
    assert final["status"] == "completed", final.get("error")
    assert service_counters(final, ("items", "objects", "bytes", "logStreams")) == expected
    assert local_stack.fault_counts().get("crash", 0) > 0
    after = snapshot(reg)
    assert all(keys == {} for keys in after["tables"].values())
    assert all(versions == {} for versions in after["buckets"].values())
    assert all(log_streams(group) == [] for group in faulty["logGroups"])
    assert mutex() is None
