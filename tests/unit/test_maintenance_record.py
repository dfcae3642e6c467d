"""The typed maintenance record: what it shows (absent vs null, key order) and the conditions every
write on it is made under (records.maintenance.WRITTEN_UNDER, turned into DynamoDB expressions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.domain import maintenance
from g3n_ops.records.maintenance import (
    WRITTEN_UNDER,
    LatestUpdate,
    MaintenanceRecord,
    StateRule,
    Transition,
    stored_attributes,
)
from g3n_ops.store.maintenance import Change, record
from tests.maintenance_support import RECORD_FIELDS

NOW = datetime(2026, 12, 1, 2, 0, 0, tzinfo=UTC)
BY = maintenance.Actor("cli", "arn:aws:iam::1:user/op")


def new() -> MaintenanceRecord:
    return maintenance.new_record(
        description="Upgrade", duration=60, start=NOW, auto_end=False, by=BY, moment=NOW
    )


def test_a_new_record_shows_every_field_it_will_have_null_until_it_happens_and_no_other():
    document = new().document()
    assert set(document) >= RECORD_FIELDS
    assert document["startedAt"] is None and document["effectiveAt"] is None
    # Only some windows ever get these: absent, not null, until written.
    for absent in ("othersUnaffected", "collateral", "collateralAt", "timerStopped"):
        assert absent not in document
    assert list(document)[:3] == ["maintenanceId", "status", "description"]


def test_a_stored_item_round_trips_in_its_own_order_with_fields_set_since_at_the_end():
    item = {
        "pk": "maintenance#x",
        "kind": "maintenance",
        "sortKey": "t",
        **new().document(),
        "timerStopped": True,  # written after the probes' ...
        "collateralAt": {"pay": "t"},  # ... in this order: the item keeps it
        "somethingNew": 1,  # an attribute this code does not know is kept, not dropped
    }
    read = record(item)
    assert read.timer_stopped is True and read.collateral_at == {"pay": "t"}
    assert read.document() == {
        key: value for key, value in item.items() if key not in ("pk", "kind", "sortKey")
    }
    assert list(read.document()) == list(item)[3:]
    ended = read.changed(status=MaintenanceStatus.ENDED, ended_at="e", others_unaffected="o")
    assert list(ended.document())[-1] == "othersUnaffected" and ended.document()["endedAt"] == "e"


def test_changes_are_checked_against_the_record_types():
    with pytest.raises(ValidationError):
        new().changed(status="paused")
    with pytest.raises(AttributeError):
        new().changed(startedAt="t")  # attributes, not stored names
    assert stored_attributes({"latest_update": LatestUpdate(text="t", at="a"), "status": "active"}) == {
        "latestUpdate": {"text": "t", "at": "a"},
        "status": "active",
    }


def test_each_transition_is_written_under_its_rule():
    assert set(WRITTEN_UNDER) == set(Transition)
    expected = {
        Transition.START: ("#status = :expected AND #version = :version", "scheduled", StateRule.INACTIVE),
        Transition.UPDATE: ("#status = :expected AND #version = :version", "active", StateRule.OWNED),
        Transition.OVERRUN: ("#status = :expected AND #version = :version", "active", StateRule.OWNED),
        Transition.END: ("#status = :expected AND #version = :version", "active", StateRule.OWNED),
        Transition.CANCEL: ("#status = :expected AND #version = :version", "scheduled", None),
        Transition.TIMER_STOPPED: ("#status = :expected AND #version = :version", "active", None),
        Transition.PROBE_BLOCKED: ("#status = :expected", "active", None),
        Transition.PROBE_RECOVERED: ("#status = :expected", "ended", None),
        Transition.SET_TIMER: ("attribute_exists(pk)", None, None),
        Transition.ADOPT_TIMER: (
            "attribute_exists(pk) AND (attribute_not_exists(#u0) OR #u0 = :null)",
            None,
            None,
        ),
    }
    for transition, (condition, status, state) in expected.items():
        expression = Change(transition, {"execution_arn": "arn"}, version=3).expression()
        assert expression["ConditionExpression"] == condition, transition
        assert expression["ExpressionAttributeValues"].get(":expected") == ({"S": status} if status else None)
        assert WRITTEN_UNDER[transition].state == state
        versioned = "#version = :next_version" in expression["UpdateExpression"]
        assert versioned == WRITTEN_UNDER[transition].version  # only transitions bump the version
    assert Change(Transition.ADOPT_TIMER).expression()["ExpressionAttributeNames"]["#u0"] == "executionArn"
    with pytest.raises(ValueError, match="version"):
        Change(Transition.CANCEL, {"status": "cancelled"}).expression()
