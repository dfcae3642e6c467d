"""Data access for vacuum runs in the OPS table: the record.

Items:
  vacuum#<id>                       the record (kind=vacuum, sortKey=createdAt → newest first)

A running record also holds its bound plan and, per unit, its progress (``vacuum_progress``).
The mutex (``vacuum_mutex``) and the audit trail (``vacuum_audit``) are items of their own.

Every state change is a conditional write, so two writers (a cancel and the state machine, two
requests, a retried step) can never both win. Functions answer ``None``/``False`` when their
condition did not hold and leave the decision to the domain layer.
"""

from __future__ import annotations

from typing import Any

from g3n_ops.contract.keys import VACUUM_PREFIX, Kind
from g3n_ops.store import table

KIND = Kind.VACUUM
RECORD_PREFIX = VACUUM_PREFIX


def record_pk(vacuum_id: str) -> str:
    return f"{RECORD_PREFIX}{vacuum_id}"


def get_record(vacuum_id: str) -> dict | None:
    return table.get(record_pk(vacuum_id))


RUN_FIELDS = ("vacuumId", "status", "scope", "orgcode", "dryRun", "executionArn", "plan", "attempt")


def get_run(vacuum_id: str, unit_id: str | None = None) -> dict | None:
    """What a step needs of the record (not its stats), and one unit's progress."""
    names = {f"#f{index}": field for index, field in enumerate(RUN_FIELDS)}
    projection = list(names)
    if unit_id is not None:
        names |= {"#progress": "progress", "#unit": unit_id}
        projection.append("#progress.#unit")
    response = table.dynamodb().get_item(
        TableName=table.table_name(),
        Key={"pk": {"S": record_pk(vacuum_id)}},
        ConsistentRead=True,
        ProjectionExpression=", ".join(projection),
        ExpressionAttributeNames=names,
    )
    item = response.get("Item")
    return table.deserialize(item) if item else None


def create_record(record: dict) -> bool:
    """Write a new record; False if one with that id exists already."""
    item = {"pk": record_pk(record["vacuumId"]), "kind": KIND, "sortKey": record["createdAt"], **record}
    written = table.conditional(
        table.dynamodb().put_item,
        Item=table.serialize(item),
        ConditionExpression="attribute_not_exists(pk)",
    )
    return written is not None


def update_record(
    vacuum_id: str,
    *,
    set_fields: dict[str, Any],
    from_statuses: tuple[str, ...] | None = None,
    execution_arn: str | None = None,
    execution_arn_unset_ok: bool = False,
    remove_fields: tuple[str, ...] = (),
) -> dict | None:
    """SET ``set_fields`` (and REMOVE ``remove_fields``) on the record if it exists, its status is
    one of ``from_statuses`` and (when given) it belongs to ``execution_arn``. Returns the updated
    record, or None."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    assignments = []
    for index, (field, value) in enumerate(set_fields.items()):
        names[f"#f{index}"] = field
        values[f":v{index}"] = table.serialize_value(value)
        assignments.append(f"#f{index} = :v{index}")
    conditions = ["attribute_exists(pk)"]
    if from_statuses:
        names["#status"] = "status"
        placeholders = []
        for index, status in enumerate(from_statuses):
            values[f":s{index}"] = {"S": status}
            placeholders.append(f":s{index}")
        conditions.append(f"#status IN ({', '.join(placeholders)})")
    if execution_arn is not None:
        names["#executionArn"] = "executionArn"
        values[":executionArn"] = {"S": execution_arn}
        owned = "#executionArn = :executionArn"
        if execution_arn_unset_ok:
            owned = f"(attribute_not_exists(#executionArn) OR {owned})"
        conditions.append(owned)
    expression = "SET " + ", ".join(assignments)
    if remove_fields:
        for index, field in enumerate(remove_fields):
            names[f"#r{index}"] = field
        expression += " REMOVE " + ", ".join(f"#r{index}" for index in range(len(remove_fields)))
    response = table.conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression=expression,
        ConditionExpression=" AND ".join(conditions),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return table.deserialize(response["Attributes"]) if response else None


def claim_dry_run(dry_run_id: str, vacuum_id: str, *, at: str) -> bool:
    """Mark a completed dry-run as backing ``vacuum_id``: only if it backs no other run (a retry
    of the same run claims it again). True if it is now this run's."""
    response = table.conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(dry_run_id)}},
        UpdateExpression="SET #by = :by, #at = :at",
        ConditionExpression=(
            "attribute_exists(pk) AND #dryRun = :true AND #status = :completed "
            "AND (attribute_not_exists(#by) OR #by = :by)"
        ),
        ExpressionAttributeNames={
            "#dryRun": "dryRun",
            "#status": "status",
            "#by": "consumedBy",
            "#at": "consumedAt",
        },
        ExpressionAttributeValues={
            ":by": {"S": vacuum_id},
            ":at": {"S": at},
            ":true": {"BOOL": True},
            ":completed": {"S": "completed"},
        },
    )
    return response is not None


def release_dry_run(dry_run_id: str, vacuum_id: str) -> None:
    """Give a dry-run back (its run was cancelled before it left its pending window)."""
    table.conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(dry_run_id)}},
        UpdateExpression="REMOVE #by, #at",
        ConditionExpression="#by = :by",
        ExpressionAttributeNames={"#by": "consumedBy", "#at": "consumedAt"},
        ExpressionAttributeValues={":by": {"S": vacuum_id}},
    )


def newest_records(limit: int) -> list[dict]:
    items, _ = table.query_kind(KIND, limit=limit, newest_first=True)
    return items


def records_page(
    *, limit: int, start_key: dict | None = None, status: str | None = None, max_pages: int = 10
) -> tuple[list[dict], dict | None]:
    """Up to ``limit`` records, newest first (optionally only ``status``), and the key to go on from."""
    return table.newest_of_kind(KIND, limit=limit, status=status, start_key=start_key, max_pages=max_pages)
