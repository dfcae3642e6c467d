"""Data access for vacuum runs in the OPS table: the record, the mutex and the audit entries.

Items:
  vacuum#<id>                       the record (kind=vacuum, sortKey=createdAt → newest first)
  vacuum#mutex                      owner (a vacuum id) + leaseExpiresAt (epoch seconds)
  audit#vacuum#<id>#<key>           one entry per lifecycle action (kind=audit#vacuum#<id>, so a
                                    run's trail is one keyed query on the kind index, in time order)

A running record also holds its bound plan and, per unit, ``progress.<unitId>`` = {seq, cursor,
done, startedAt, counts}: a chunk's checkpoint commits that progress and its counts in one
conditional update; ``inFlight`` = {token: lease end} names the chunks running now.

Every state change is a conditional write, so two writers (a cancel and the state machine, two
requests, a retried step) can never both win. Functions answer ``None``/``False`` when their
condition did not hold and leave the decision to the domain layer.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.contract.keys import VACUUM_MUTEX_PK, VACUUM_PREFIX, Kind
from g3n_ops.store import table

KIND = Kind.VACUUM
AUDIT_KIND = Kind.VACUUM_AUDIT
MUTEX_PK = VACUUM_MUTEX_PK
RECORD_PREFIX = VACUUM_PREFIX


def record_pk(vacuum_id: str) -> str:
    return f"{RECORD_PREFIX}{vacuum_id}"


def _names(*names: str) -> dict[str, str]:
    return {f"#{name}": name for name in names}


def _conditional(call, **kwargs) -> dict | None:
    """Run a conditional write; ``None`` when the condition did not hold."""
    try:
        return call(TableName=table.table_name(), **kwargs)
    except ClientError as error:
        if table.is_conditional_failure(error):
            return None
        raise


# -- the record ----------------------------------------------------------------------------------
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
    written = _conditional(
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
    response = _conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression=expression,
        ConditionExpression=" AND ".join(conditions),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return table.deserialize(response["Attributes"]) if response else None


def commit_progress(
    vacuum_id: str,
    unit_id: str,
    service: str,
    *,
    seq: int,
    cursor: str | None,
    done: bool,
    counts: dict[str, int],
    unit_fields: dict[str, Any] | None = None,
) -> tuple[bool, str | None]:
    """One checkpoint of one unit, atomically: its progress (seq + 1, cursor, done, and
    ``unit_fields``: its own counts so far and when it began) and its counts ADDed to its service
    and the totals, if the unit's stored ``seq`` is still ``seq``.

    Returns (committed, the record's status). Not committed means another invocation already
    committed this checkpoint (a retried chunk whose result was lost): nothing is added twice.
    Counts are added whatever the status: what was deleted is always on the record."""
    counts = {name: value for name, value in counts.items() if value}
    names = {
        "#stats": "stats",
        "#services": "services",
        "#service": service,
        "#progress": "progress",
        "#unit": unit_id,
        "#seq": "seq",
    }
    values = {
        ":seq": {"N": str(seq)},
        ":progress": table.serialize_value(
            {**(unit_fields or {}), "seq": seq + 1, "cursor": cursor, "done": done}
        ),
    }
    additions = []
    for name, value in counts.items():
        names[f"#{name}"] = name
        values[f":{name}"] = {"N": str(value)}
        additions.append(f"#stats.#services.#service.#{name} :{name}")
        additions.append(f"#stats.#totals.#{name} :{name}")
    expression = "SET #progress.#unit = :progress"
    if additions:
        names["#totals"] = "totals"
        expression += " ADD " + ", ".join(additions)
    condition = "#progress.#unit.#seq = :seq AND attribute_exists(#stats.#services.#service)"
    update = {
        "Key": {"pk": {"S": record_pk(vacuum_id)}},
        "UpdateExpression": expression,
    }
    # Usually the run is running: one write. Otherwise commit anyway, and say what it is now.
    running = _conditional(
        table.dynamodb().update_item,
        **update,
        ConditionExpression=f"{condition} AND #status = :running",
        ExpressionAttributeValues=values | {":running": {"S": "running"}},
        ExpressionAttributeNames=names | {"#status": "status"},
    )
    if running is not None:
        return True, "running"
    response = _conditional(
        table.dynamodb().update_item,
        **update,
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    if response is None:
        return False, None
    return True, response["Attributes"]["status"]["S"]


def enter_chunk(vacuum_id: str, token: str, *, execution_arn: str, expires_at: int) -> bool:
    """Announce a chunk in flight (``inFlight.<token>`` = when its lease ends), only while the run
    is running in ``execution_arn``: a run that is cancelling or failing starts no chunk, and
    settles only once every announced chunk has left (or its lease has ended: a crashed one)."""
    response = _conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression="SET #inFlight.#token = :expires",
        ConditionExpression="#status = :running AND #executionArn = :arn AND attribute_exists(#inFlight)",
        ExpressionAttributeNames={
            "#inFlight": "inFlight", "#token": token, "#status": "status", "#executionArn": "executionArn"
        },
        ExpressionAttributeValues={
            ":expires": {"N": str(expires_at)}, ":running": {"S": "running"}, ":arn": {"S": execution_arn}
        },
    )  # fmt: skip
    return response is not None


def leave_chunk(vacuum_id: str, token: str) -> None:
    table.dynamodb().update_item(
        TableName=table.table_name(),
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression="REMOVE #inFlight.#token",
        ExpressionAttributeNames={"#inFlight": "inFlight", "#token": token},
    )


def claim_dry_run(dry_run_id: str, vacuum_id: str, *, at: str) -> bool:
    """Mark a completed dry-run as backing ``vacuum_id``: only if it backs no other run (a retry
    of the same run claims it again). True if it is now this run's."""
    response = _conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(dry_run_id)}},
        UpdateExpression="SET #by = :by, #at = :at",
        ConditionExpression=(
            "attribute_exists(pk) AND #dryRun = :true AND #status = :completed "
            "AND (attribute_not_exists(#by) OR #by = :by)"
        ),
        ExpressionAttributeNames=_names("dryRun", "status") | {"#by": "consumedBy", "#at": "consumedAt"},
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
    _conditional(
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


# -- the mutex -----------------------------------------------------------------------------------
def read_mutex() -> dict | None:
    return table.get(MUTEX_PK)


def take_mutex(owner: str, *, now: int, lease_expires_at: int) -> bool:
    """Take the mutex if it is free or its lease ran out (a crashed run does not lock forever)."""
    item = {"pk": MUTEX_PK, "owner": owner, "leaseExpiresAt": lease_expires_at, "takenAt": now}
    written = _conditional(
        table.dynamodb().put_item,
        Item=table.serialize(item),
        ConditionExpression="attribute_not_exists(pk) OR leaseExpiresAt < :now",
        ExpressionAttributeValues={":now": {"N": str(now)}},
    )
    return written is not None


def renew_mutex(owner: str, *, lease_expires_at: int) -> bool:
    """Extend the lease; False if ``owner`` no longer holds the mutex."""
    renewed = _conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": MUTEX_PK}},
        UpdateExpression="SET leaseExpiresAt = :expires",
        ConditionExpression="#owner = :owner",
        ExpressionAttributeNames=_names("owner"),
        ExpressionAttributeValues={":owner": {"S": owner}, ":expires": {"N": str(lease_expires_at)}},
    )
    return renewed is not None


def release_mutex(owner: str) -> bool:
    """Free the mutex if ``owner`` holds it (never someone else's)."""
    released = _conditional(
        table.dynamodb().delete_item,
        Key={"pk": {"S": MUTEX_PK}},
        ConditionExpression="#owner = :owner",
        ExpressionAttributeNames=_names("owner"),
        ExpressionAttributeValues={":owner": {"S": owner}},
    )
    return released is not None


# -- audit ---------------------------------------------------------------------------------------
def put_audit(entry: dict, *, key: str) -> bool:
    """Write one audit entry; idempotent per ``key`` (a retried step does not write it twice)."""
    pk = f"{AUDIT_KIND}#{entry['vacuumId']}#{key}"
    item = {"pk": pk, "kind": audit_kind(entry["vacuumId"]), "sortKey": entry["at"], **entry}
    written = _conditional(
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


# -- listing -------------------------------------------------------------------------------------
def records_page(
    *, limit: int, start_key: dict | None = None, status: str | None = None, max_pages: int = 10
) -> tuple[list[dict], dict | None]:
    """Up to ``limit`` records, newest first (optionally only ``status``), and the key to go on from."""
    return table.newest_of_kind(KIND, limit=limit, status=status, start_key=start_key, max_pages=max_pages)
