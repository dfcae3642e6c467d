"""The typed vacuum record: absent stays absent, the stored order is kept, and each transition's
condition is built from the one table beside the record."""

from __future__ import annotations

import pytest

from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.domain.vacuum.records import public
from g3n_ops.records.vacuum import TRANSITIONS, VacuumError, VacuumRecord, changes_of
from g3n_ops.store.vacuum import Condition

ITEM = {
    "pk": "vacuum#v1",
    "kind": "vacuum",
    "sortKey": "2026-11-29T10:00:00.000Z",
    "vacuumId": "v1",
    "status": "failed",
    "scope": "org",
    "orgcode": None,
    "dryRun": False,
    "reason": "r",
    "source": "cli",
    "actor": None,
    "createdAt": "2026-11-29T10:00:00.000Z",
    "stats": {"services": {"cat": {"items": 3, "units": 1}}, "totals": {"items": 3, "units": 1}},
    "requestId": "req",
    "error": {"code": "vacuum-step-failed", "message": "m"},
    "plan": "{}",
    "progress": {"u0000": {"seq": 2, "cursor": None, "done": True}},
    "inFlight": {"abc": 1},
    "failingAt": "2026-11-29T10:01:00.000Z",
    "cancelledBy": None,
    "somethingNewer": {"kept": True},
}


def test_a_record_is_stored_as_it_was_read_absent_and_null_alike():
    record = VacuumRecord.from_item(ITEM)
    assert record.status is VacuumStatus.FAILED and record.orgcode is None and record.execution_arn is None
    stored = {key: value for key, value in ITEM.items() if key not in ("pk", "kind", "sortKey")}
    assert record.document() == stored and list(record.document()) == list(stored)
    assert "executionArn" not in record.document() and "startedAt" not in record.document()
    record.maintenance_id = "mw-1"  # set since: after what was read
    assert list(record.document())[-1] == "maintenanceId"


def test_the_public_document_orders_contract_fields_and_keeps_the_rest_in_stored_order():
    shown = public(VacuumRecord.from_item(ITEM))
    assert list(shown) == [
        "vacuumId", "status", "scope", "orgcode", "dryRun", "reason", "source", "actor", "createdAt",
        "startedAt", "finishedAt", "executionArn", "error", "stats",
        "requestId", "failingAt", "cancelledBy", "somethingNewer", "chunksInFlight",
    ]  # fmt: skip
    assert shown["startedAt"] is None and shown["executionArn"] is None and shown["chunksInFlight"] == 1
    assert shown["error"] == {"code": "vacuum-step-failed", "message": "m"}


def test_a_transition_writes_its_status_and_only_what_it_declares():
    written = changes_of(
        TRANSITIONS["fail-pending"],
        {"finished_at": "t", "error": VacuumError(code="c", message="m")},
    )
    assert written == {"status": "failed", "finishedAt": "t", "error": {"code": "c", "message": "m"}}
    with pytest.raises(ValueError, match="plan"):
        changes_of(TRANSITIONS["fail-pending"], {"plan": "{}"})


@pytest.mark.parametrize(
    ("name", "caller", "expression"),
    [
        ("start", "arn", "attribute_exists(pk) AND #status IN (:s0) AND #executionArn = :executionArn"),
        (
            "admit",
            "arn",
            "attribute_exists(pk) AND #status IN (:s0) AND "
            "(attribute_not_exists(#executionArn) OR #executionArn = :executionArn)",
        ),
        ("fail-running", None, "attribute_exists(pk) AND #status IN (:s0)"),
        (
            "fail-running",
            "arn",
            "attribute_exists(pk) AND #status IN (:s0) AND #executionArn = :executionArn",
        ),
        (
            "enter-chunk",
            "arn",
            "attribute_exists(pk) AND #status IN (:s0) AND #executionArn = :executionArn "
            "AND attribute_exists(#q0)",
        ),
    ],
)
def test_each_transition_is_written_under_its_declared_condition(name, caller, expression):
    condition = Condition(TRANSITIONS[name], caller=caller, holder=None)
    assert condition.expression == expression
    assert condition.values.get(":s0") == {"S": TRANSITIONS[name].from_statuses[0].value}


def test_a_dry_run_claim_is_conditional_on_a_completed_dry_run_free_or_ours():
    condition = Condition(TRANSITIONS["claim-dry-run"], caller=None, holder="v2")
    assert condition.expression == (
        "attribute_exists(pk) AND #status IN (:s0) AND #dryRun = :dryRun "
        "AND (attribute_not_exists(#holder) OR #holder = :holder)"
    )
    assert condition.names["#holder"] == "consumedBy" and condition.values[":holder"] == {"S": "v2"}
    with pytest.raises(ValueError):
        Condition(TRANSITIONS["start"], caller=None, holder=None)  # a step's change names its execution
