"""`g3n ops vacuum-*` end to end: the CLI, the vacuum Lambda and the state machine on the local stack."""

from __future__ import annotations

import pytest

from tests.support import SECRET, run_cli, run_cli_json
from tests.vacuum_support import (
    expected_org_stats,
    plant_dry_run,
    registry,
    service_counters,
    stop_vacuum_executions,
)


@pytest.fixture
def stack(seeded, monkeypatch):
    monkeypatch.setenv("G3N_OPS_SECRET_CODE", SECRET)  # the CLI reads the code from the environment
    yield seeded
    stop_vacuum_executions()


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
