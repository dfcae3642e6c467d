"""Data access for vacuum runs in the OPS table: the record (``records.vacuum.VacuumRecord``).

Items:
  vacuum#<id>                       the record (kind=vacuum, sortKey=createdAt → newest first)

A running record also holds its bound plan and, per unit, its progress (``vacuum_progress``).
The mutex (``vacuum_mutex``) and the audit trail (``vacuum_audit``) are items of their own.

Every state change is a conditional write, so two writers (a cancel and the state machine, two
requests, a retried step) can never both win; the condition of each is the record's
(``records.vacuum.TRANSITIONS``), built into a ConditionExpression here. Functions answer
``None``/``False`` when their condition did not hold and leave the decision to the domain layer.
"""

from __future__ import annotations

from typing import Any

from g3n_ops.contract.keys import VACUUM_PREFIX, Kind
from g3n_ops.records.vacuum import TRANSITIONS, Holder, Owner, Transition, VacuumRecord, attribute, changes_of
from g3n_ops.store import table

KIND = Kind.VACUUM
RECORD_PREFIX = VACUUM_PREFIX


def record_pk(vacuum_id: str) -> str:
    return f"{RECORD_PREFIX}{vacuum_id}"


def get_record(vacuum_id: str) -> VacuumRecord | None:
    item = table.get(record_pk(vacuum_id))
    return VacuumRecord.from_item(item) if item else None


RUN_FIELDS = ("vacuumId", "status", "scope", "orgcode", "dryRun", "executionArn", "plan", "attempt")


def get_run(vacuum_id: str, unit_id: str | None = None) -> VacuumRecord | None:
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
    return VacuumRecord.from_item(table.deserialize(item)) if item else None


def create_record(record: VacuumRecord) -> bool:
    """Write a new record; False if one with that id exists already."""
    item = {
        "pk": record_pk(record.vacuum_id),
        "kind": KIND,
        "sortKey": record.created_at,
        **record.document(),
    }
    written = table.conditional(
        table.dynamodb().put_item,
        Item=table.serialize(item),
        ConditionExpression="attribute_not_exists(pk)",
    )
    return written is not None


class Condition:
    """A transition's ConditionExpression, with its names and values."""

    def __init__(self, transition: Transition, *, caller: str | None, holder: str | None) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        parts = ["attribute_exists(pk)"]
        if transition.from_statuses:
            self.names["#status"] = "status"
            placeholders = []
            for index, status in enumerate(transition.from_statuses):
                self.values[f":s{index}"] = {"S": status.value}
                placeholders.append(f":s{index}")
            parts.append(f"#status IN ({', '.join(placeholders)})")
        parts += self._owner(transition.owner, caller)
        for index, name in enumerate(transition.requires):
            self.names[f"#q{index}"] = attribute(name)
            parts.append(f"attribute_exists(#q{index})")
        if transition.dry_run is not None:
            self.names["#dryRun"] = "dryRun"
            self.values[":dryRun"] = {"BOOL": transition.dry_run}
            parts.append("#dryRun = :dryRun")
        if transition.claim is not None:
            if holder is None:
                raise ValueError("a claim needs its holder")
            name, rule = transition.claim
            self.names["#holder"] = attribute(name)
            self.values[":holder"] = {"S": holder}
            held = "#holder = :holder"
            parts.append(
                f"(attribute_not_exists(#holder) OR {held})" if rule is Holder.FREE_OR_MINE else held
            )
        self.expression = " AND ".join(parts)

    def _owner(self, owner: Owner, caller: str | None) -> list[str]:
        if owner is Owner.ANY or (owner is Owner.EXECUTION_IF_NAMED and caller is None):
            return []
        if caller is None:
            raise ValueError(f"the condition ({owner}) needs the caller's execution")
        self.names["#executionArn"] = "executionArn"
        self.values[":executionArn"] = {"S": caller}
        owned = "#executionArn = :executionArn"
        return [
            f"(attribute_not_exists(#executionArn) OR {owned})"
            if owner is Owner.EXECUTION_OR_UNBOUND
            else owned
        ]


def apply(
    vacuum_id: str,
    name: str,
    *,
    caller: str | None = None,
    holder: str | None = None,
    **values: Any,
) -> VacuumRecord | None:
    """The transition ``name`` (``TRANSITIONS``) with ``values`` (snake_case attributes), under its
    condition (``caller``: the execution asking, ``holder``: the run claiming). Returns the updated
    record, or None if the condition did not hold."""
    transition = TRANSITIONS[name]
    condition = Condition(transition, caller=caller, holder=holder)
    names, values_ = dict(condition.names), dict(condition.values)
    clauses = []
    assignments = []
    for index, (field, value) in enumerate(changes_of(transition, values).items()):
        names[f"#f{index}"] = field
        values_[f":v{index}"] = table.serialize_value(value)
        assignments.append(f"#f{index} = :v{index}")
    if assignments:
        clauses.append("SET " + ", ".join(assignments))
    if transition.removes:
        for index, field in enumerate(transition.removes):
            names[f"#r{index}"] = attribute(field)
        clauses.append("REMOVE " + ", ".join(f"#r{index}" for index in range(len(transition.removes))))
    response = table.conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression=" ".join(clauses),
        ConditionExpression=condition.expression,
        ExpressionAttributeNames=names,
        ReturnValues="ALL_NEW",
        **({"ExpressionAttributeValues": values_} if values_ else {}),
    )
    return VacuumRecord.from_item(table.deserialize(response["Attributes"])) if response else None


def claim_dry_run(dry_run_id: str, vacuum_id: str, *, at: str) -> bool:
    """Mark a completed dry-run as backing ``vacuum_id``: only if it backs no other run (a retry
    of the same run claims it again). True if it is now this run's."""
    claimed = apply(dry_run_id, "claim-dry-run", holder=vacuum_id, consumed_by=vacuum_id, consumed_at=at)
    return claimed is not None


def release_dry_run(dry_run_id: str, vacuum_id: str) -> None:
    """Give a dry-run back (its run was cancelled before it left its pending window)."""
    apply(dry_run_id, "release-dry-run", holder=vacuum_id)


def newest_records(limit: int) -> list[VacuumRecord]:
    items, _ = table.query_kind(KIND, limit=limit, newest_first=True)
    return [VacuumRecord.from_item(item) for item in items]


def records_page(
    *, limit: int, start_key: dict | None = None, status: str | None = None, max_pages: int = 10
) -> tuple[list[VacuumRecord], dict | None]:
    """Up to ``limit`` records, newest first (optionally only ``status``), and the key to go on from."""
    items, last_key = table.newest_of_kind(
        KIND, limit=limit, status=status, start_key=start_key, max_pages=max_pages
    )
    return [VacuumRecord.from_item(item) for item in items], last_key
