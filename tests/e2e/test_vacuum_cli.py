"""`g3n ops vacuum-*` end to end: the CLI, the vacuum Lambda and the state machine on the local stack."""

from __future__ import annotations

import json
import re

import boto3
import pytest

from g3n_ops.settings import settings
from g3n_ops.store import table as ops_table
from g3n_ops.store import vacuum_audit
from g3n_ops_client.cli import common
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET, run_cli, run_cli_json
from tests.vacuum_support import (
    expected_org_stats,
    force_fields,
    plant_dry_run,
    registry,
    service_counters,
)

pytestmark = pytest.mark.stack(env={"G3N_OPS_SECRET_CODE": SECRET})  # the CLI reads the code from there


@pytest.mark.slow
def test_dry_run_then_status_as_json_and_as_live_progress(stack, capsys):
    code, requested = run_cli_json(
        capsys, "ops", "vacuum-org", "--orgcode", "TESTORG", "--reason", "how much is there", "--dry-run"
    )
    assert code == 0, requested
    assert (requested["status"], requested["orgcode"], requested["dryRun"]) == ("pending", "TESTORG", True)

    vacuum_id = requested["vacuumId"]
    code, final = run_cli_json(capsys, "ops", "vacuum-status", "--vacuum-id", vacuum_id, "--watch")
    assert code == 0
    assert final["status"] == "completed" and final["dryRun"] is True
    assert service_counters(final) == expected_org_stats(stack, registry(), "TESTORG")
    assert set(final["stats"]["totals"]) >= {"items", "objects", "bytes"}

    code, out, _ = run_cli(capsys, "ops", "vacuum-status", "--vacuum-id", vacuum_id)
    assert code == 0
    assert f"vacuum {vacuum_id} · org TESTORG (dry-run" in out and "would delete per service" in out
    assert "inv" in out and "uas" not in out

    code, requested = run_cli_json(
        capsys, "ops", "vacuum-org", "--orgcode", "testorg", "--reason", "r", "--dry-run"
    )
    code, out, _ = run_cli(capsys, "ops", "vacuum-status", "--vacuum-id", requested["vacuumId"], "--watch")
    assert code == 0
    assert "completed" in out
    progress_lines = [line for line in out.splitlines() if "units" in line and "items" in line]
    assert {line.split()[0] for line in progress_lines} >= {"org", "cat", "inv", "ntf"}


@pytest.mark.slow
def test_request_and_cancel_in_text_and_errors_as_the_contract_says(stack, capsys):
    code, out, err = run_cli(capsys, "ops", "vacuum-org", "--orgcode", "Globex_EU", "--reason", "oops")
    assert code == 1 and err.startswith("error: dry-run-required: ") and out == ""
    dry_run_id = plant_dry_run("Globex_EU")
    code, out, _ = run_cli(
        capsys, "ops", "vacuum-org", "--orgcode", "Globex_EU", "--reason", "oops", "--dry-run-id", dry_run_id
    )
    assert code == 0 and "pending" in out and "vacuum-cancel --vacuum-id" in out
    assert f"bound to dry-run {dry_run_id}" in out
    vacuum_id = out.split()[1]
    code, out, _ = run_cli(capsys, "ops", "vacuum-cancel", "--vacuum-id", vacuum_id)
    assert code == 0 and "cancelled" in out

    code, document = run_cli_json(capsys, "ops", "vacuum-cancel", "--vacuum-id", vacuum_id)
    assert code == 1 and document["error"]["code"] == "vacuum-not-cancellable"
    code, out, err = run_cli(
        capsys, "ops", "vacuum-all", "--reason", "r", "--confirmation-phrase", "vacuum all data permanently"
    )
    assert code == 1 and err.startswith("error: confirmation-phrase-mismatch: ") and out == ""
    code, document = run_cli_json(capsys, "ops", "vacuum-org", "--orgcode", "Acme!", "--reason", "r")
    assert code == 1 and document["error"]["code"] == "invalid-orgcode"
    code, document = run_cli_json(
        capsys,
        "ops",
        "vacuum-org",
        "--orgcode",
        "TESTORG",
        "--reason",
        "r",
        "--secret-code",
        "wrong-code-123",
    )
    assert code == 1 and document["error"]["code"] == "secret-code-mismatch"
    code, document = run_cli_json(capsys, "ops", "vacuum-status", "--vacuum-id", "20261129-000000-abcdef")
    assert code == 1 and document["error"]["code"] == "vacuum-not-found"


def _events(capsys, vacuum_id: str, *args: str) -> dict:
    code, page = run_cli_json(capsys, "ops", "vacuum-events", "--vacuum-id", vacuum_id, *args)
    assert code == 0, page
    return page


@pytest.mark.slow
def test_the_trail_as_a_table_a_page_at_a_time_and_the_slowest_units(stack, capsys, monkeypatch):
    # One table row a line, whatever the terminal (rich reads COLUMNS, but not on a dumb one).
    monkeypatch.setattr(common.stdout, "_width", 400)
    monkeypatch.setattr(common.stdout, "_height", 50)
    code, requested = run_cli_json(
        capsys, "ops", "vacuum-org", "--orgcode", "TESTORG", "--reason", "the trail", "--dry-run"
    )
    assert code == 0, requested
    vacuum_id = requested["vacuumId"]
    code, final = run_cli_json(capsys, "ops", "vacuum-status", "--vacuum-id", vacuum_id, "--watch")
    assert code == 0 and final["status"] == "completed"

    whole = _events(capsys, vacuum_id, "--limit", "500")
    trail = whole["events"]
    assert whole["nextToken"] is None and whole["vacuumId"] == vacuum_id
    done = [event for event in trail if event["action"] == "unit-done"]
    assert len(done) == final["stats"]["totals"]["units"] == len({event["unitId"] for event in done})
    assert [event["at"] for event in trail] == sorted(event["at"] for event in trail)
    # The page ends the trail exactly: no token to an empty page, one short of it has one.
    assert _events(capsys, vacuum_id, "--limit", str(len(trail)))["nextToken"] is None
    assert _events(capsys, vacuum_id, "--limit", str(len(trail) - 1))["nextToken"]

    # Two at a time, through to the end: the same entries, in time order, none twice.
    pages, token = [], None
    while True:
        page = _events(capsys, vacuum_id, "--limit", "2", *(["--next-token", token] if token else []))
        pages.append(page["events"])
        token = page["nextToken"]
        if token is None:
            break
        assert len(page["events"]) == 2
    paged = [event for page in pages for event in page]
    assert 1 <= len(pages[-1]) <= 2 and len(pages) == -(-len(trail) // 2)
    assert [event["at"] for event in paged] == sorted(event["at"] for event in paged)
    keys = [json.dumps(event, sort_keys=True) for event in paged]
    assert len(set(keys)) == len(keys) and sorted(keys) == sorted(
        json.dumps(e, sort_keys=True) for e in trail
    )
    code, document = run_cli_json(
        capsys, "ops", "vacuum-events", "--vacuum-id", plant_dry_run("TESTORG"), "--next-token", token or "x"
    )
    assert code == 1 and document["error"]["code"] == "invalid-input", "a token is its own run's"
    code, document = run_cli_json(
        capsys,
        "ops",
        "vacuum-events",
        "--vacuum-id",
        vacuum_id,
        "--limit",
        "2",
        "--next-token",
        "bm90LWEta2V5",
    )
    assert code == 1 and document["error"]["code"] == "invalid-input"

    # Text: a table row per entry; a unit's row has its service, unit, counts and elapsed time.
    code, out, _ = run_cli(capsys, "ops", "vacuum-events", "--vacuum-id", vacuum_id, "--limit", "500")
    assert code == 0 and out.startswith(f"vacuum {vacuum_id} · org TESTORG (dry-run")
    assert "--next-token" not in out
    for event in done:
        line = next(line for line in out.splitlines() if f" {event['unit']} " in line)
        assert "unit-done" in line and event["service"] in line, line
        for name, value in event["counts"].items():
            assert (f"{name}={value}" in line) == bool(value), line
        assert re.search(r"\s(\d+\.\ds|\d+m\d\ds|\d+h\d\dm)\s", line), line
    last = next(line for line in reversed(out.splitlines()) if "completed" in line)
    assert f"items={final['stats']['totals']['items']}" in last, "the end's row shows the totals"
    code, out, _ = run_cli(capsys, "ops", "vacuum-events", "--vacuum-id", vacuum_id, "--limit", "2")
    assert code == 0 and "requested" in out and "more: --next-token " in out

    # vacuum-status: the five slowest units, from their unit-done entries, slowest first.
    slowest = sorted(done, key=lambda event: (-event["elapsedSeconds"], event["unitId"]))[:5]
    assert [unit["unitId"] for unit in final["slowestUnits"]] == [event["unitId"] for event in slowest]
    assert final["slowestUnits"][0]["counts"] == slowest[0]["counts"]
    code, out, _ = run_cli(capsys, "ops", "vacuum-status", "--vacuum-id", vacuum_id)
    assert code == 0 and "slowest units" in out
    table = out[out.index("slowest units") :]
    positions = [table.index(f" {event['unit']} ") for event in slowest]
    assert positions == sorted(positions), table


def test_pages_split_entries_of_one_millisecond_and_read_older_runs_shared_trail(stack, client):
    """Entries written in the same millisecond, and a run from before runs had their own kind
    (its entries in the shared ``audit#vacuum`` partition, among another run's): every page
    follows the last, nothing repeated or skipped, in time order."""
    same_ms, legacy, other = plant_dry_run("TESTORG"), plant_dry_run("Globex_EU"), plant_dry_run()
    for index, elapsed in enumerate([0.5, 2.0, 1.0, 2.0, 0.1]):
        entry = {
            "vacuumId": same_ms,
            "action": "unit-done",
            "at": "2026-12-01T00:00:00.000Z",
            "unitId": f"u{index}",
            "service": "inv",
            "unit": f"table-{index}",
            "counts": {"items": index},
            "elapsedSeconds": elapsed,
        }
        assert vacuum_audit.put_audit(entry, key=f"2-unit-done-u{index}")
    for index, run in enumerate([legacy, other, legacy, other, legacy]):
        at = f"2026-12-01T00:00:0{index}.000Z"
        item = {
            "pk": f"audit#vacuum#{run}#{index}-x",
            "kind": vacuum_audit.AUDIT_KIND,
            "sortKey": at,
            "vacuumId": run,
            "action": "requested" if index == 0 else "unit-done",
            "at": at,
        }
        boto3.client("dynamodb").put_item(TableName=settings().table_name, Item=ops_table.serialize(item))

    def paged(vacuum_id: str) -> list[dict]:
        found, token = [], None
        while True:
            page = client.vacuum.events(vacuum_id, limit=2, next_token=token)
            assert len(page["events"]) == 2 or page["nextToken"] is None
            found += page["events"]
            token = page["nextToken"]
            if token is None:
                return found

    assert sorted(event["unitId"] for event in paged(same_ms)) == [f"u{index}" for index in range(5)]
    assert [event["at"][-6:-5] for event in paged(legacy)] == ["0", "2", "4"]
    assert client.vacuum.events(legacy)["events"] == paged(legacy)
    token = client.vacuum.events(legacy, limit=1)["nextToken"]
    with pytest.raises(OpsClientError) as refused:
        client.vacuum.events(other, next_token=token)
    assert refused.value.code == "invalid-input", "a token only continues its own run's trail"

    # slowestUnits: slowest first (a tie by unit id), on an ended run; a running one on request.
    ranked = [unit["unitId"] for unit in client.vacuum.status(same_ms)["slowestUnits"]]
    assert ranked == ["u1", "u3", "u2", "u0", "u4"]
    assert force_fields(same_ms, {"status": "running"})
    assert "slowestUnits" not in client.vacuum.status(same_ms)
    assert client.vacuum.status(same_ms, slowest_units=True)["slowestUnits"][0] == {
        "unitId": "u1",
        "service": "inv",
        "unit": "table-1",
        "elapsedSeconds": 2.0,
        "counts": {"items": 1},
        "startedAt": None,
    }
