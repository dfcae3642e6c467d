"""Maintenance rules that need no AWS: input validation, timers, page tokens, write expressions."""

import json
from datetime import UTC, datetime, timedelta

import pytest

import workflows
from g3n_ops.contract import maintenance as limits
from g3n_ops.contract.errors import InvalidInput
from g3n_ops.domain import maintenance, paging
from g3n_ops.records.maintenance import HistoryEntry, Transition
from g3n_ops.store import maintenance as maintenance_store
from g3n_ops.store.maintenance import Change
from tests.maintenance_support import RECORD_FIELDS
from tests.support import asl_states

NOW = datetime(2026, 12, 1, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T03:00:00Z",
        "2026-12-01T04:00:00+01:00",
        "2026-12-01T03:00:00.250Z",
        "2026-12-01T01:59:30Z",  # half a minute ago: "now", typed slowly
    ],
)
def test_start_accepts_iso8601_with_a_timezone(text):
    start = maintenance.parse_start(text, NOW)
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)


def test_start_is_normalised_to_utc():
    assert maintenance.parse_start("2026-12-01T04:00:00+01:00", NOW) == datetime(2026, 12, 1, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("2026-12-01T03:00:00", "timezone"),
        ("tomorrow at three", "ISO 8601"),
        ("", "ISO 8601"),
        ("2026-12-01T01:58:00Z", "past"),
        ("2027-06-01T00:00:00Z", "90 days"),
    ],
)
def test_start_rejects(text, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        maintenance.parse_start(text, NOW)


@pytest.mark.parametrize("duration", [5, 60, 7 * 24 * 3600])
def test_duration_bounds_accept(duration):
    assert maintenance.check_duration(duration) == duration


@pytest.mark.parametrize("duration", [0, 4, -10, 7 * 24 * 3600 + 1, True, 10.5])
def test_duration_bounds_reject(duration):
    with pytest.raises(InvalidInput, match="duration"):
        maintenance.check_duration(duration)


def test_text_lengths():
    assert maintenance.check_description("  Database upgrade  ") == "Database upgrade"
    with pytest.raises(InvalidInput, match="description"):
        maintenance.check_description("   ")
    with pytest.raises(InvalidInput, match="description"):
        maintenance.check_description("x" * (limits.MAX_DESCRIPTION_LENGTH + 1))
    with pytest.raises(InvalidInput, match="end message"):
        maintenance.check_text("x" * (limits.MAX_TEXT_LENGTH + 1), "end message")


def test_ids_are_checked_before_any_lookup():
    assert maintenance.check_id("mw-20261201-3f2a9c1d")
    for bad in ("", "mw-1", "../secret", "maintenance#state"):
        with pytest.raises(InvalidInput):
            maintenance.check_id(bad)


def test_end_timer_never_fires_before_the_expected_end():
    # Whole seconds for TimestampPath, rounded up, plus a second for timers that fire early.
    assert maintenance.end_timer("2026-12-01T02:00:05.000Z") == "2026-12-01T02:00:06Z"
    assert maintenance.end_timer("2026-12-01T02:00:05.001Z") == "2026-12-01T02:00:07Z"
    assert maintenance.end_timer("2026-12-01T02:00:59.900Z") == "2026-12-01T02:01:01Z"


MAINTENANCE_PAGES = {"kind": maintenance_store.KIND, "pk_prefix": maintenance_store.PK_PREFIX}


def test_page_tokens_round_trip_and_reject_tampering():
    key = {
        "pk": {"S": "maintenance#mw-20261201-3f2a9c1d"},
        "kind": {"S": "maintenance"},
        "sortKey": {"S": "x"},
    }
    assert paging.decode_token(paging.encode_token(key), **MAINTENANCE_PAGES) == key
    forged = {**key, "pk": {"S": "secret"}}
    for token in ("not-a-token", paging.encode_token(forged), "e30"):
        with pytest.raises(InvalidInput, match="nextToken"):
            paging.decode_token(token, **MAINTENANCE_PAGES)


def test_a_change_is_conditional_on_status_and_version_and_appends_history():
    entry = HistoryEntry(
        action="start", from_status="scheduled", to="active", at="t", source="cli", actor=None, message=None
    )
    expression = Change(Transition.START, {"status": "active"}, history_entry=entry, version=3).expression()
    assert expression["ConditionExpression"] == "#status = :expected AND #version = :version"
    assert expression["ExpressionAttributeValues"][":expected"] == {"S": "scheduled"}
    assert expression["ExpressionAttributeValues"][":version"] == {"N": "3"}
    assert expression["ExpressionAttributeValues"][":next_version"] == {"N": "4"}
    assert "list_append(if_not_exists(#history, :empty), :history)" in expression["UpdateExpression"]
    assert "#updates" not in expression["ExpressionAttributeNames"]


def test_a_new_record_has_the_contract_fields_and_its_first_history_entry():
    by = maintenance.Actor("cli", "arn:aws:iam::1:user/op")
    record = maintenance.new_record(
        description="Upgrade", duration=60, start=NOW, auto_end=True, by=by, moment=NOW
    )
    document = record.document()
    assert set(document) >= RECORD_FIELDS
    assert document["status"] == "scheduled" and document["start"] == "2026-12-01T02:00:00Z"
    assert document["history"] == [
        {
            "action": "schedule",
            "from": None,
            "to": "scheduled",
            "at": "2026-12-01T02:00:00.000Z",
            "source": "cli",
            "actor": "arn:aws:iam::1:user/op",
            "message": None,
        }
    ]


# -- the state machine definition ----------------------------------------------------------------
def test_every_lifecycle_task_has_the_one_retry_policy_and_never_retries_a_lost_result():
    """docs/architecture.md#retry-policies: one Retry block for every task; a lost result
    (the step may have acted, and a console admit would write a second window) is not retried."""
    definition = json.loads(workflows.read_asl("maintenance-lifecycle.asl.json"))
    tasks = {name: s for name, s in asl_states(definition["States"]).items() if s["Type"] == "Task"}
    assert len(tasks) == 5
    policies = {json.dumps(task["Retry"], sort_keys=True) for task in tasks.values()}
    assert len(policies) == 1
    [policy] = next(iter(tasks.values()))["Retry"]
    assert {"AwsThrottled", "AwsServerError", "Lambda.ServiceException"} <= set(policy["ErrorEquals"])
    lost_result = {"Sandbox.Timedout", "Lambda.Unknown", "States.Timeout"}
    assert not (lost_result | {"States.ALL"}) & set(policy["ErrorEquals"])
    assert (policy["IntervalSeconds"], policy["MaxAttempts"], policy["BackoffRate"]) == (2, 3, 2)
