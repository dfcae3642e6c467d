"""Data access for a running vacuum's progress, on its record in the OPS table.

Per unit, ``progress.<unitId>`` = {seq, cursor, done, startedAt, counts}: a chunk's checkpoint
commits that progress and its counts in one conditional update; ``inFlight`` = {token: lease end}
names the chunks running now (each chunk holds a lease while it runs).
"""

from __future__ import annotations

from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.records.vacuum import TRANSITIONS, UnitProgress, VacuumRecord
from g3n_ops.store import table
from g3n_ops.store.vacuum import Condition, record_pk


def commit_progress(
    vacuum_id: str,
    unit_id: str,
    service: str,
    *,
    seq: int,
    progress: UnitProgress,
    counts: dict[str, int],
) -> tuple[bool, VacuumStatus | None]:
    """One checkpoint of one unit, atomically: its ``progress`` (seq + 1, cursor, done, its own
    counts so far and when it began) and its counts ADDed to its service and the totals, if the
    unit's stored ``seq`` is still ``seq``.

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
            progress.model_dump(by_alias=True, exclude_unset=True, mode="json")
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
        ExpressionAttributeValues=values | {":running": {"S": VacuumStatus.RUNNING.value}},
        ExpressionAttributeNames=names | {"#status": "status"},
    )
    if running is not None:
        return True, VacuumStatus.RUNNING
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
    return True, VacuumRecord.from_item(table.deserialize(response["Attributes"])).status


def enter_chunk(vacuum_id: str, token: str, *, execution_arn: str, expires_at: int) -> bool:
    """Announce a chunk in flight (``inFlight.<token>`` = when its lease ends), only while the run
    is running in ``execution_arn``: a run that is cancelling or failing starts no chunk, and
    settles only once every announced chunk has left (or its lease has ended: a crashed one)."""
    condition = Condition(TRANSITIONS["enter-chunk"], caller=execution_arn, holder=None)
    response = table.conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression="SET #inFlight.#token = :expires",
        ConditionExpression=condition.expression,
        ExpressionAttributeNames=condition.names | {"#inFlight": "inFlight", "#token": token},
        ExpressionAttributeValues=condition.values | {":expires": {"N": str(expires_at)}},
    )
    return response is not None


def leave_chunk(vacuum_id: str, token: str) -> None:
    table.dynamodb().update_item(
        TableName=table.table_name(),
        Key={"pk": {"S": record_pk(vacuum_id)}},
        UpdateExpression="REMOVE #inFlight.#token",
        ExpressionAttributeNames={"#inFlight": "inFlight", "#token": token},
    )
