"""Exact under faults: with throttling, 5xx errors and lost Lambda results injected into the local
stack, the real state machine's org dry-run, org run and vacuum-all count and delete exactly what
was seeded (a crash after a committed checkpoint is retried and goes on from the stored cursor),
and an abort mid-run leaves exactly what was deleted on the record."""

from __future__ import annotations

import pytest

from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET, wait_until
from tests.vacuum_support import (
    PHRASE,
    deleted_by_org,
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
    _mutex_freed()


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
    _mutex_freed()


@pytest.mark.parametrize("spec", [FAULTS, "latency=300"], ids=["faults", "latency"])
def test_an_abort_mid_run_is_exact_from_its_first_cancelled_read(
    faulty, local_stack, client, monkeypatch, spec
):
    """vacuum-cancel of a running run while calls are throttled, fail and lose their results, or
    are slow: the run reads cancelling while its chunks in flight finish, and from the first read
    that says cancelled, its stats are exactly what is gone (no wait on the execution first)."""
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "5")  # many chunks: the run is still going when cancelled
    local_stack.set_faults(spec, seed=20261130)
    reg = registry()
    before = snapshot(reg)
    plant_dry_run(ORG)
    requested = _insisting(lambda: client.vacuum.org(SECRET, ORG, "abort under faults"))

    def deleting():
        record = _insisting(lambda: client.vacuum.status(requested["vacuumId"]))
        return record["status"] == "running" and record["stats"]["totals"].get("items", 0) > 0

    wait_until(deleting, timeout=60, interval=0.05, message="the run deletes")
    try:
        _insisting(lambda: client.vacuum.cancel(SECRET, requested["vacuumId"]))
    except OpsClientError as error:  # an earlier attempt cancelled it, then met a fault
        assert error.code == "vacuum-not-cancellable", error
    seen: list[str] = []

    def cancelled():
        record = _insisting(lambda: client.vacuum.status(requested["vacuumId"]))
        seen.append(record["status"])
        return record["status"] == "cancelled" and record

    final = wait_until(cancelled, timeout=120, interval=0.05, message="the cancel settles")
    gone = deleted_by_org(reg, before, snapshot(reg), ORG)
    assert set(seen) <= {"cancelling", "cancelled"} and final["cancelledWhile"] == "running", seen
    assert service_counters(final, ("items", "objects")) == gone
    _mutex_freed()
    expected = expected_org_stats(faulty, reg, ORG)
    assert final["stats"]["totals"]["items"] < sum(e["items"] for e in expected.values()), "it stopped early"
    injected = local_stack.fault_counts()
    assert injected.get("throttle" if spec == FAULTS else "latency", 0) > 0, injected
    local_stack.set_faults(None)
    wait_until(lambda: local_stack.invocations_in_flight("vacuum-steps") == 0, timeout=60)
    assert client.vacuum.status(requested["vacuumId"])["stats"] == final["stats"], "final means final"


def _mutex_freed() -> None:
    """The run's end frees the mutex. Under faults the step that freed it after marking the record
    completed may have been throttled and retried (by the state machine, seconds later): the record
    reads completed a moment before the mutex is free. It must be freed, not left held."""
    wait_until(lambda: mutex() is None, timeout=30, interval=0.1, message="the finished run frees the mutex")


def _insisting(call, attempts: int = 5):
    """What an operator does when the account throttles a command: run it again."""
    for attempt in range(attempts):
        try:
            return call()
        except OpsClientError as error:
            if error.code not in {"aws-throttled", "aws-unavailable"} or attempt + 1 == attempts:
                raise
