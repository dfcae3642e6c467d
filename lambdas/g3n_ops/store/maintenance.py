"""Maintenance records in the OPS table: create, read, list, and conditional transitions.

Item: ``pk = "maintenance#<id>"``, ``kind = "maintenance"``, ``sortKey = createdAt`` (so the
kind-index lists windows newest first), plus the record document's own fields.

A transition is one conditional write on the record (its status must still be the one the caller
saw). When the window becomes active, gets an update or ends, the state item the guard reads is
written in the same transaction, with its own condition, so the record and what the 14 services
see can never disagree and at most one window is ever active.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.contract.keys import MAINTENANCE_PREFIX, Kind
from g3n_ops.store import maintenance_state, table

PK_PREFIX = MAINTENANCE_PREFIX
KIND = Kind.MAINTENANCE
_STORAGE_ONLY = ("pk", "kind", "sortKey")


class RecordConditionFailed(Exception):
    """The record is missing or no longer in the status (or shape) the caller expected."""


class StateConditionFailed(Exception):
    """The state item refused: another window is active, or the window is not the active one."""


@dataclass(frozen=True)
class StateChange:
    """Write the state item as ``state``, if nothing is active (``require="inactive"``) or if
    ``maintenance_id`` is the active window (``require="owned"``)."""

    state: dict
    require: str
    maintenance_id: str

    def transact_put(self) -> dict:
        names = {"#active": maintenance_state.ACTIVE_ID_ATTRIBUTE}
        put: dict[str, Any] = {
            "TableName": table.table_name(),
            "Item": table.serialize(maintenance_state.item(self.state)),
            "ExpressionAttributeNames": names,
        }
        if self.require == "inactive":
            put["ConditionExpression"] = "attribute_not_exists(#active)"
        elif self.require == "owned":
            put["ConditionExpression"] = "#active = :owner"
            put["ExpressionAttributeValues"] = {":owner": {"S": self.maintenance_id}}
        else:
            raise ValueError(f"unknown state requirement {self.require!r}")
        return {"Put": put}


@dataclass
class Change:
    """One conditional update of a record: the status and version it must have, the fields to
    set, and the entries to append to its ``history`` / ``updates`` lists."""

    expected_status: str
    # Optimistic concurrency: the version the caller read; the write bumps it. Any concurrent
    # change (an update racing an overrun flag, say) makes the later writer re-read and decide.
    expected_version: int
    set_fields: dict[str, Any] = field(default_factory=dict)
    history_entry: dict | None = None
    update_entry: dict | None = None

    def expression(self) -> dict:
        names = {"#status": "status", "#version": "version"}
        values: dict[str, Any] = {
            ":expected": self.expected_status,
            ":version": self.expected_version,
            ":next_version": self.expected_version + 1,
        }
        clauses = ["#version = :next_version"]
        for index, (name, value) in enumerate(self.set_fields.items()):
            names[f"#f{index}"] = name
            values[f":v{index}"] = value
            clauses.append(f"#f{index} = :v{index}")
        for attribute, entry in (("history", self.history_entry), ("updates", self.update_entry)):
            if entry is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = [entry]
                values[":empty"] = []
                clauses.append(
                    f"#{attribute} = list_append(if_not_exists(#{attribute}, :empty), :{attribute})"
                )
        condition = "#status = :expected AND #version = :version"
        return {
            "UpdateExpression": "SET " + ", ".join(clauses),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {key: table.serialize_value(value) for key, value in values.items()},
        }


def pk(maintenance_id: str) -> str:
    return PK_PREFIX + maintenance_id


def document(item: dict) -> dict:
    """The record as callers see it (storage keys removed)."""
    return {key: value for key, value in item.items() if key not in _STORAGE_ONLY}


def create(record: dict) -> None:
    item = {"pk": pk(record["maintenanceId"]), "kind": KIND, "sortKey": record["createdAt"], **record}
    try:
        table.dynamodb().put_item(
            TableName=table.table_name(),
            Item=table.serialize(item),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            raise RecordConditionFailed(record["maintenanceId"]) from error
        raise


def get(maintenance_id: str) -> dict | None:
    item = table.get(pk(maintenance_id))
    return document(item) if item else None


def set_execution_arn(maintenance_id: str, execution_arn: str, *, only_if_absent: bool = False) -> None:
    """Remember the execution that times the window (``only_if_absent``: never replace one)."""
    condition = "attribute_exists(pk)"
    if only_if_absent:
        condition += " AND (attribute_not_exists(executionArn) OR executionArn = :null)"
    values = {":arn": {"S": execution_arn}}
    if only_if_absent:
        values[":null"] = {"NULL": True}
    try:
        table.dynamodb().update_item(
            TableName=table.table_name(),
            Key={"pk": {"S": pk(maintenance_id)}},
            UpdateExpression="SET executionArn = :arn",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            raise RecordConditionFailed(maintenance_id) from error
        raise


def apply(maintenance_id: str, change: Change, state: StateChange | None = None) -> None:
    """Apply ``change`` (and ``state``, atomically with it). Raises Record/StateConditionFailed."""
    key = {"pk": {"S": pk(maintenance_id)}}
    expression = change.expression()
    try:
        if state is None:
            table.dynamodb().update_item(TableName=table.table_name(), Key=key, **expression)
            return
        table.dynamodb().transact_write_items(
            TransactItems=[
                {"Update": {"TableName": table.table_name(), "Key": key, **expression}},
                state.transact_put(),
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
) -> tuple[list[dict], dict | None]:
    """Up to ``limit`` records, newest first, optionally only those in ``status``.

    With a status filter a DynamoDB page may hold fewer matches than asked for, so this reads on
    (at most ``max_pages`` pages, to bound the latency) and returns the key to continue from.
    """
    found, key = table.newest_of_kind(
        KIND, limit=limit, status=status, start_key=start_key, max_pages=max_pages
    )
    return [document(item) for item in found], key


def record_effect(maintenance_id: str, fields: dict[str, Any], *, expected_status: str) -> None:
    """Write what the probes saw (``effectiveAt`` and the like) while the record is still in
    ``expected_status``. Observations only: no version bump, so they never make a transition
    re-read, and transitions never touch these fields. Raises RecordConditionFailed."""
    names = {"#status": "status", **{f"#e{index}": name for index, name in enumerate(fields)}}
    values = {
        ":expected": expected_status,
        **{f":e{index}": value for index, value in enumerate(fields.values())},
    }
    try:
        table.dynamodb().update_item(
            TableName=table.table_name(),
            Key={"pk": {"S": pk(maintenance_id)}},
            UpdateExpression="SET " + ", ".join(f"#e{index} = :e{index}" for index in range(len(fields))),
            ConditionExpression="#status = :expected",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={key: table.serialize_value(value) for key, value in values.items()},
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            raise RecordConditionFailed(maintenance_id) from error
        raise
