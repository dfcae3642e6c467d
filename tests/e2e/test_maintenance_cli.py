"""`g3n ops maintenance-*` against the embedded local stack: the CLI contract in docs/recap.md."""

from __future__ import annotations

import json

import pytest

from tests.maintenance_support import RECORD_FIELDS, soon
from tests.support import SECRET, run_cli, run_cli_json


def schedule(capsys, description: str, *extra: str) -> dict:
    code, record = run_cli_json(
        capsys,
        "ops",
        "maintenance-schedule",
        "--secret-code",
        SECRET,
        "--description",
        description,
        "--duration",
        "600",
        "--start",
        soon(600),
        *extra,
    )
    assert code == 0, record
    return record


@pytest.mark.slow
def test_a_window_from_schedule_to_end_through_the_cli(ops, capsys, monkeypatch):
    record = schedule(capsys, "Database upgrade", "--auto-end")
    assert record["status"] == "scheduled" and record["autoEnd"] is True and record["duration"] == 600
    assert set(record) >= RECORD_FIELDS
    window = record["maintenanceId"]

    code, out, _ = run_cli(capsys, "ops", "maintenance-get", "--maintenance-id", window)
    assert code == 0 and f"maintenance {window}: SCHEDULED" in out and "Database upgrade" in out
    code, page = run_cli_json(capsys, "ops", "maintenance-list", "--status", "scheduled")
    assert code == 0 and [r["maintenanceId"] for r in page["items"]] == [window] and page["nextToken"] is None
    code, out, _ = run_cli(capsys, "ops", "maintenance-list")
    assert code == 0 and window in out and "scheduled" in out

    monkeypatch.setenv("G3N_OPS_SECRET_CODE", SECRET)  # the other way to give the secret code
    code, started = run_cli_json(capsys, "ops", "maintenance-start", "--maintenance-id", window)
    assert code == 0 and started["status"] == "active"
    code, out, _ = run_cli(capsys, "ops", "maintenance-update", "--text", "Halfway [50%] there")
    assert code == 0 and "Halfway [50%] there" in out  # free text is printed as typed, not as markup
    code, out, _ = run_cli(capsys, "ops", "ping")
    assert code == 0 and f"MAINTENANCE ACTIVE: {window}" in out and "Halfway [50%] there" in out

    code, ended = run_cli_json(capsys, "ops", "maintenance-end", "--end-message", "Upgrade complete")
    assert code == 0 and ended["status"] == "ended" and ended["endMessage"] == "Upgrade complete"
    assert [e["action"] for e in ended["history"]] == ["schedule", "start", "end"]
    assert [u["text"] for u in ended["updates"]] == ["Halfway [50%] there"]
    code, out, _ = run_cli(capsys, "ops", "maintenance-get", "--maintenance-id", window)
    assert code == 0 and "ENDED" in out and "Upgrade complete" in out and "scheduled → active" in out


def test_cancel_through_the_cli(ops, capsys):
    window = schedule(capsys, "Not needed")["maintenanceId"]
    code, out, _ = run_cli(
        capsys, "ops", "maintenance-cancel", "--secret-code", SECRET, "--maintenance-id", window
    )
    assert code == 0 and "CANCELLED" in out
    code, document = run_cli_json(
        capsys, "ops", "maintenance-cancel", "--secret-code", SECRET, "--maintenance-id", window
    )
    assert code == 1 and document["error"]["code"] == "invalid-transition"


def test_errors_are_codes_with_a_non_zero_exit_and_never_echo_the_secret(ops, capsys):
    wrong = "wrong-secret-code-123"
    code, out, err = run_cli(
        capsys, "ops", "maintenance-end", "--secret-code", wrong, "--end-message", "done"
    )
    assert code == 1 and err.startswith("error: secret-code-mismatch: ") and wrong not in out + err
    code, out, err = run_cli(
        capsys, "ops", "maintenance-end", "--secret-code", SECRET, "--end-message", "done"
    )
    assert code == 1 and "error: invalid-transition: no maintenance window is active" in err
    code, document = run_cli_json(
        capsys,
        "ops",
        "maintenance-schedule",
        "--secret-code",
        SECRET,
        "--description",
        "x",
        "--duration",
        "600",
        "--start",
        "2026-12-01T02:00:00",
    )
    assert (
        code == 1
        and document["error"]["code"] == "invalid-input"
        and "timezone" in document["error"]["message"]
    )
    code, out, _ = run_cli(capsys, "ops", "maintenance-schedule", "--secret-code", SECRET, "--output", "json",
                           "--description", "x", "--duration", "soon", "--start", soon(60))  # fmt: skip
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid-input"
    code, document = run_cli_json(
        capsys, "ops", "maintenance-get", "--maintenance-id", "mw-20261201-00000000"
    )
    assert code == 1 and document["error"]["code"] == "maintenance-not-found"
