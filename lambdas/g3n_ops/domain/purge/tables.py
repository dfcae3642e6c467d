"""DynamoDB: find a unit's keys with Query/Scan, delete them with BatchWriteItem (25 keys).

Reads of the base table are strongly consistent (ConsistentRead): a count or a delete never
works from a stale page. A GSI (the ``index`` lookup) only offers eventually consistent reads;
verify's settle re-reads cover that."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from g3n_ops import retry
from g3n_ops.aws import client
from g3n_ops.contract.errors import VacuumScopeViolation

from . import calls
from .counting import Checkpoint, ChunkResult, Clock, Counts, Limits
from .pipeline import Page, run_chunk_of
from .units import Cursor, TableUnit

BATCH_WRITE_ITEMS = 25  # DynamoDB BatchWriteItem maximum
TABLE_PAGE_ITEMS = 1000  # Query/Scan page (also capped at 1 MB by DynamoDB)
FIRST_PAGE_ITEMS = 100  # pages start small and double: the writers get work after one short read


@dataclass(frozen=True)
class TablePage:
    keys: list[dict]
    count: int
    cursor: Cursor


def table_request(unit: TableUnit, *, count_only: bool) -> tuple[str, dict]:
    """The Query/Scan call and its arguments (without paging) that find the unit's items."""
    names: dict[str, str] = {}
    request: dict[str, Any] = {"TableName": unit.table}
    if count_only:
        request["Select"] = "COUNT"
    else:
        projected = list(unit.key_names)
        if unit.orgcode and "orgcode" not in projected:
            projected.append("orgcode")  # read back to prove each item belongs to the org
        for index, name in enumerate(projected):
            names[f"#p{index}"] = name
        request["ProjectionExpression"] = ", ".join(f"#p{index}" for index in range(len(projected)))
    operation = "scan"
    if unit.lookup != "index":
        request["ConsistentRead"] = True  # GSIs do not allow it
    if unit.lookup == "all":
        if unit.total_segments > 1:
            request.update(Segment=unit.segment, TotalSegments=unit.total_segments)
    else:
        request["ExpressionAttributeValues"] = {":org": {"S": unit.orgcode}}
        if unit.lookup == "index":
            operation = "query"
            names["#org"] = "orgcode"
            request.update(IndexName=unit.org_index, KeyConditionExpression="#org = :org")
        elif unit.lookup == "partition":
            operation = "query"
            names["#org"] = unit.hash_key  # type: ignore[assignment]  # validated: partition has it
            request["KeyConditionExpression"] = "#org = :org"
        else:  # scan: no way to find the org's items but to look at every item
            names["#org"] = "orgcode"
            request["FilterExpression"] = "#org = :org"
    if names:
        request["ExpressionAttributeNames"] = names
    return operation, request


def read_table_page(
    unit: TableUnit, cursor: Cursor, *, count_only: bool, budget: float, limit: int = TABLE_PAGE_ITEMS
) -> TablePage:
    operation, request = table_request(unit, count_only=count_only)
    request["Limit"] = limit
    if cursor:
        request["ExclusiveStartKey"] = cursor
    response = calls.call(
        getattr(client("dynamodb"), operation), doing=f"reading {unit.table}", budget=budget, **request
    )
    found = response.get("Items", [])
    if unit.orgcode:
        outside = [item for item in found if item.get("orgcode", {}).get("S") != unit.orgcode]
        if outside:
            raise VacuumScopeViolation(
                f"{unit.table}: the {unit.lookup} lookup for '{unit.orgcode}' returned "
                f"{len(outside)} item(s) of another organisation; nothing of this page was deleted"
            )
    keys = [{name: item[name] for name in unit.key_names} for item in found]
    count = response.get("Count", len(keys))
    return TablePage(keys=keys, count=count, cursor=response.get("LastEvaluatedKey"))


def batch_delete(table: str, keys: list[dict], budget: float) -> Counts:
    """One BatchWriteItem (≤ 25 keys); UnprocessedItems and transient errors are retried within
    one budget. Returns the count AWS confirmed: all of them, or it raises."""
    doing = f"deleting items of {table}"
    confirmed = Counts()

    def send(requests: list[dict], left: float) -> list[dict]:
        response = calls.call(
            client("dynamodb").batch_write_item, doing=doing, budget=left, RequestItems={table: requests}
        )
        unprocessed = (response.get("UnprocessedItems") or {}).get(table, [])
        confirmed.items += len(requests) - len(unprocessed)
        return unprocessed

    with calls.reporting(confirmed):
        calls.until_done(send, [{"DeleteRequest": {"Key": key}} for key in keys], doing=doing, budget=budget)
    return confirmed


def _pages(unit: TableUnit, cursor: Cursor, *, dry_run: bool, clock: Clock) -> Iterator[Page]:
    read, size = 0, FIRST_PAGE_ITEMS
    while True:
        limit = clock.page(min(size, TABLE_PAGE_ITEMS))
        page = read_table_page(unit, cursor, count_only=dry_run, budget=clock.retry_budget(), limit=limit)
        size *= 2
        read += page.count
        cursor = page.cursor
        more = bool(cursor)
        yield Page(
            entries=[] if dry_run else page.keys,
            counts=Counts(items=page.count) if dry_run else Counts(),
            cursor=cursor,
            more=more,
        )
        if not more or clock.spent(read):
            return


def table_chunk(
    unit: TableUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint
) -> ChunkResult:
    clock = Clock(limits)
    return run_chunk_of(
        _pages(unit, cursor, dry_run=dry_run, clock=clock),
        lambda keys, budget: batch_delete(unit.table, keys, budget),
        batch_size=BATCH_WRITE_ITEMS,
        clock=clock,
        cursor=cursor,
        checkpoint=checkpoint,
        name=unit.table,
    )


def table_item_count(table: str) -> int:
    """DynamoDB's approximate item count (refreshed about every six hours): enough to size segments."""
    described = calls.call(
        client("dynamodb").describe_table,
        doing=f"describing {table}",
        budget=retry.budget_seconds(),
        TableName=table,
    )
    return int(described["Table"].get("ItemCount", 0))


def segment_count(item_count: int, limits: Limits) -> int:
    """Parallel scan segments for a whole table: one per ``segment_items``, at most ``max_segments``."""
    return max(1, min(limits.max_segments, -(-item_count // limits.segment_items)))
