"""Data access for the vacuum audit trail in the OPS table.

Items:
  audit#vacuum#<id>#<key>           one entry per lifecycle action (kind=audit#vacuum#<id>, so a
                                    run's trail is one keyed query on the kind index, in time order)

Entries written before the per-run kind (kind=audit#vacuum, the shared partition) are still read.
"""

from __future__ import annotations

from typing import Any

from g3n_ops.contract.keys import Kind
from g3n_ops.store import table

AUDIT_KIND = Kind.VACUUM_AUDIT


def put_audit(entry: dict, *, key: str) -> bool:
    """Write one audit entry; idempotent per ``key`` (a retried step does not write it twice)."""
    pk = f"{AUDIT_KIND}#{entry['vacuumId']}#{key}"
    item = {"pk": pk, "kind": audit_kind(entry["vacuumId"]), "sortKey": entry["at"], **entry}
    written = table.conditional(
        table.dynamodb().put_item,
        Item=table.serialize(item),
        ConditionExpression="attribute_not_exists(pk)",
    )
    return written is not None


def audit_kind(vacuum_id: str) -> str:
    """One kind-index partition per run: its entries, ordered by time."""
    return f"{AUDIT_KIND}#{vacuum_id}"


def audit_entries(vacuum_id: str) -> list[dict]:
    """A run's audit entries, oldest first (entries written in the same millisecond by pk)."""
    found: list[dict] = []
    start_key = None
    while True:
        items, start_key = table.query_kind(
            audit_kind(vacuum_id), limit=500, newest_first=False, start_key=start_key
        )
        found += items
        if not start_key:
            break
    if not found:
        found = _legacy_audit_entries(vacuum_id)
    return sorted(found, key=lambda item: (item["sortKey"], item["pk"]))


def audit_pk_prefix(vacuum_id: str) -> str:
    """What every audit entry's pk of a run starts with (the per-run kind's and the legacy ones)."""
    return f"{AUDIT_KIND}#{vacuum_id}#"


def _entry_key(item: dict) -> dict:
    """An entry's kind-index key, as ``ExclusiveStartKey`` takes it (and a ``nextToken`` holds)."""
    return {name: {"S": item[name]} for name in ("pk", "kind", "sortKey")}


def _in_time_order(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda item: (item["sortKey"], item["pk"]))


def audit_page(
    vacuum_id: str, *, limit: int, start_key: dict | None = None
) -> tuple[list[dict], dict | None]:
    """Up to ``limit`` of a run's audit entries, oldest first, from after ``start_key``, and the
    key to go on from: ``None`` on the last page (one entry more is read to know it, so a page
    that ends the trail never hands out a key to an empty page)."""
    kind = audit_kind(vacuum_id)
    if start_key is not None and start_key["kind"]["S"] != kind:
        return _legacy_audit_page(vacuum_id, limit=limit, after=start_key)
    found: list[dict] = []
    key = start_key
    while len(found) <= limit:
        items, key = table.query_kind(kind, limit=limit + 1 - len(found), newest_first=False, start_key=key)
        found += items
        if not key:
            break
    if not found and start_key is None:
        return _legacy_audit_page(vacuum_id, limit=limit, after=None)
    page = found[:limit]
    # The key is the last entry of the page in the index's order (entries of the same millisecond
    # are then shown by pk): the next page starts right after it, nothing skipped or repeated.
    return _in_time_order(page), (_entry_key(page[-1]) if len(found) > limit else None)


def _legacy_audit_page(vacuum_id: str, *, limit: int, after: dict | None) -> tuple[list[dict], dict | None]:
    """A page of a run whose entries predate the per-run kind, cut from its whole trail."""
    entries = _in_time_order(_legacy_audit_entries(vacuum_id))
    if after is not None:
        mark = (after["sortKey"]["S"], after["pk"]["S"])
        entries = [entry for entry in entries if (entry["sortKey"], entry["pk"]) > mark]
    page = entries[:limit]
    return page, (_entry_key(page[-1]) if len(entries) > limit else None)


# The fields of a unit-done entry that say how long its unit took (slowest units).
UNIT_TIMING_FIELDS = ("unitId", "service", "unit", "counts", "startedAt", "elapsedSeconds", "at")


def unit_timings(vacuum_id: str) -> list[dict]:
    """A run's ``unit-done`` entries, only their timing fields: one keyed query on the run's kind
    (filtered on the action, projected, so the rest of a long trail is not sent back)."""
    names = {"#kind": "kind", "#action": "action"} | {f"#f{i}": f for i, f in enumerate(UNIT_TIMING_FIELDS)}
    kwargs: dict[str, Any] = {
        "TableName": table.table_name(),
        "IndexName": table.KIND_INDEX,
        "KeyConditionExpression": "#kind = :kind",
        "FilterExpression": "#action = :action",
        "ProjectionExpression": ", ".join(f"#f{i}" for i in range(len(UNIT_TIMING_FIELDS))),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":kind": {"S": audit_kind(vacuum_id)}, ":action": {"S": "unit-done"}},
    }
    found: list[dict] = []
    while True:
        response = table.dynamodb().query(**kwargs)
        found += [table.deserialize(item) for item in response.get("Items", [])]
        if not response.get("LastEvaluatedKey"):
            return found
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _legacy_audit_entries(vacuum_id: str) -> list[dict]:
    """Entries written before the per-run kind (kind=audit#vacuum): the shared partition, read
    through. Only runs older than that change ever get here."""
    found: list[dict] = []
    start_key = None
    while True:
        items, start_key = table.query_kind(AUDIT_KIND, limit=500, newest_first=False, start_key=start_key)
        found += [item for item in items if item.get("vacuumId") == vacuum_id]
        if not start_key:
            return found
