"""Maintenance records in the OPS table: create, read, list, and conditional transitions.

Item: ``pk = "maintenance#<id>"``, ``kind = "maintenance"``, ``sortKey = createdAt`` (so the
kind-index lists windows newest first), plus the record document's own fields.

A transition is one conditional write on the record; what it is conditional on (status, version
as read, …) is ``records.maintenance.WRITTEN_UNDER``, which the expressions here are built from.
When the window becomes active, gets an update or ends, the state item the guard reads is written
in the same transaction, with its own condition, so the record and what the 14 services see can
never disagree and at most one window is ever active.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.contract.keys import MAINTENANCE_PREFIX, Kind
from g3n_ops.records.maintenance import (
    WRITTEN_UNDER,
    HistoryEntry,
    MaintenanceRecord,
    StateRule,
    Transition,
    UpdateEntry,
    stored_attributes,
    stored_name,
)
from g3n_ops.store import maintenance_state, table

PK_PREFIX = MAINTENANCE_PREFIX
KIND = Kind.MAINTENANCE


class RecordConditionFailed(Exception):
    """The record is missing or no longer in the status (or shape) the caller expected."""


class StateConditionFailed(Exception):
    """The state item refused: another window is active, or the window is not the active one."""


@dataclass(frozen=True)
class StateChange:
    """Write the state item as ``state``, if nothing is active (``require=INACTIVE``) or if
    ``maintenance_id`` is the active window (``require=OWNED``)."""

    state: dict
    require: StateRule
    maintenance_id: str

    def transact_put(self) -> dict:
        names = {"#active": maintenance_state.ACTIVE_ID_ATTRIBUTE}
        put: dict[str, Any] = {
            "TableName": table.table_name(),
            "Item": table.serialize(maintenance_state.item(self.state)),
            "ExpressionAttributeNames": names,
        }
        if self.require == StateRule.INACTIVE:
            put["ConditionExpression"] = "attribute_not_exists(#active)"
        elif self.require == StateRule.OWNED:
            put["ConditionExpression"] = "#active = :owner"
            put["ExpressionAttributeValues"] = {":owner": {"S": self.maintenance_id}}
        else:
            raise ValueError(f"unknown state requirement {self.require!r}")
        return {"Put": put}


@dataclass
class Change:
    """One conditional update of a record: the transition (``WRITTEN_UNDER`` says what it is
    conditional on), the attributes to set, and the entries to append to ``history`` / ``updates``.
    ``version``: the one the caller read, for a transition made under it (the write bumps it)."""

    transition: Transition
    fields: Mapping[str, Any] = field(default_factory=dict)
    history_entry: HistoryEntry | None = None
    update_entry: UpdateEntry | None = None
    version: int | None = None

    def expression(self) -> dict:
        rule = WRITTEN_UNDER[self.transition]
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        clauses = []
        conditions = []
        if rule.status is not None:
            names["#status"] = "status"
            values[":expected"] = rule.status.value
            conditions.append("#status = :expected")
        else:
            conditions.append("attribute_exists(pk)")
        if rule.version:
            if self.version is None:
                raise ValueError(f"a {self.transition} is made under the version read; give it")
            names["#version"] = "version"
            values |= {":version": self.version, ":next_version": self.version + 1}
            clauses.append("#version = :next_version")
            conditions.append("#version = :version")
        for index, attribute in enumerate(rule.unset):
            names[f"#u{index}"] = stored_name(attribute)
            values[":null"] = None
            conditions.append(f"(attribute_not_exists(#u{index}) OR #u{index} = :null)")
        for index, (name, value) in enumerate(stored_attributes(self.fields).items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = value
            clauses.append(f"#f{index} = :v{index}")
        for attribute, entry in (("history", self.history_entry), ("updates", self.update_entry)):
            if entry is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = [entry.document()]
                values[":empty"] = []
                clauses.append(
                    f"#{attribute} = list_append(if_not_exists(#{attribute}, :empty), :{attribute})"
                )
        return {
            "UpdateExpression": "SET " + ", ".join(clauses),
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {key: table.serialize_value(value) for key, value in values.items()},
        }


def pk(maintenance_id: str) -> str:
    return PK_PREFIX + maintenance_id


def record(item: dict) -> MaintenanceRecord:
    """The record in a stored item (storage keys dropped)."""
    return MaintenanceRecord.from_item(item)


def create(new: MaintenanceRecord) -> None:
    item = {"pk": pk(new.maintenance_id), "kind": KIND, "sortKey": new.created_at, **new.document()}
    try:
        table.dynamodb().put_item(
            TableName=table.table_name(),
            Item=table.serialize(item),
            ConditionExpression="attribute_not_exists(pk)",  # WRITTEN_UNDER[CREATE]: a new record
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            raise RecordConditionFailed(new.maintenance_id) from error
        raise


def get(maintenance_id: str) -> MaintenanceRecord | None:
    item = table.get(pk(maintenance_id))
    return record(item) if item else None


def set_execution_arn(maintenance_id: str, execution_arn: str, *, only_if_absent: bool = False) -> None:
    """Remember the execution that times the window (``only_if_absent``: never replace one)."""
    transition = Transition.ADOPT_TIMER if only_if_absent else Transition.SET_TIMER
    write(maintenance_id, Change(transition, {"execution_arn": execution_arn}))


def apply(current: MaintenanceRecord, change: Change, state: dict | None = None) -> None:
    """Apply ``change`` to the record as read (its version is the one the write is made under), and
    write the guard's ``state`` atomically with it when the transition changes the state.
    Raises Record/StateConditionFailed."""
    write(current.maintenance_id, replace(change, version=current.version), state)


def write(maintenance_id: str, change: Change, state: dict | None = None) -> None:
    key = {"pk": {"S": pk(maintenance_id)}}
    expression = change.expression()
    require = WRITTEN_UNDER[change.transition].state
    if (require is None) != (state is None):
        raise ValueError(f"a {change.transition} writes the state item if and only if its rule names one")
    try:
        if require is None:
            table.dynamodb().update_item(TableName=table.table_name(), Key=key, **expression)
            return
        table.dynamodb().transact_write_items(
            TransactItems=[
                {"Update": {"TableName": table.table_name(), "Key": key, **expression}},
                StateChange(state, require, maintenance_id).transact_put(),
            ]
        )
    except ClientError as error:
        _raise_condition_failure(error, maintenance_id)
        raise


def _raise_condition_failure(error: ClientError, maintenance_id: str) -> None:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        raise RecordConditionFailed(maintenance_id) from error
    if code == "TransactionCanceledException":
        reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise RecordConditionFailed(maintenance_id) from error
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            raise StateConditionFailed(maintenance_id) from error
        # TransactionConflict: another operator's write on the same items won the race.
        if "TransactionConflict" in reasons:
            raise RecordConditionFailed(maintenance_id) from error


def list_page(
    *, status: str | None, limit: int, start_key: dict | None, max_pages: int = 10
) -> tuple[list[MaintenanceRecord], dict | None]:
    """Up to ``limit`` records, newest first, optionally only those in ``status``.

    With a status filter a DynamoDB page may hold fewer matches than asked for, so this reads on
    (at most ``max_pages`` pages, to bound the latency) and returns the key to continue from.
    """
    found, key = table.newest_of_kind(
        KIND, limit=limit, status=status, start_key=start_key, max_pages=max_pages
    )
    return [record(item) for item in found], key


def record_effect(maintenance_id: str, fields: Mapping[str, Any], *, transition: Transition) -> None:
    """Write what the probes saw (``effective_at`` and the like) while the record is still in the
    status the probe ``transition`` is made under. Raises RecordConditionFailed."""
    write(maintenance_id, Change(transition, fields))
