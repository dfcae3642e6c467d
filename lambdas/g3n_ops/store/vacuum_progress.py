"""Data access for a running vacuum's progress, on its record in the OPS table.

Per unit, ``progress.<unitId>`` = {seq, cursor, done, startedAt, counts}: a chunk's checkpoint
commits that progress and its counts in one conditional update; ``inFlight`` = {token: lease end}
names the chunks running now (each chunk holds a lease while it runs).
"""

from __future__ import annotations

from typing import Any

from g3n_ops.store import table
from g3n_ops.store.vacuum import record_pk


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
    running = table.conditional(
        table.dynamodb().update_item,
        **update,
        ConditionExpression=f"{condition} AND #status = :running",
        ExpressionAttributeValues=values | {":running": {"S": "running"}},
        ExpressionAttributeNames=names | {"#status": "status"},
    )
    if running is not None:
        return True, "running"
    response = table.conditional(
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
    response = table.conditional(
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
