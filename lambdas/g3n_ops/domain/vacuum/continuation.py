"""Rounds and continue-as-new: the round step plans the next round from this execution's history
length (``rounds`` holds the arithmetic), or hands the run on to a new execution of the same
state machine when the history nears its budget.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from g3n_ops import retry
from g3n_ops.contract.errors import VacuumNotAdmitted
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.domain.vacuum import rounds
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.mutex import renew_mutex
from g3n_ops.domain.vacuum.records import execution_arn as execution_arn_of
from g3n_ops.domain.vacuum.records import execution_name, get, running, runs_in, state_machine_of
from g3n_ops.gateways import executions
from g3n_ops.store import vacuum as store


def history_length(execution_arn: str) -> int:
    """How many events this execution has: the id of its latest one."""
    latest = retry.call(
        executions.latest_events,
        execution_arn=execution_arn,
        count=1,
        doing="read the vacuum execution's history length",
    )
    return int(latest[0]["id"]) if latest else 0


def next_round(vacuum_id: str, execution_arn: str) -> dict:
    """Which units the next round purges and how many chunks each may run, or what comes next:
    ``continue`` (a new execution: this one's history is near its budget), ``verify``, ``finalise``."""
    record = running(vacuum_id, execution_arn)
    renew_mutex(vacuum_id)
    progress = record.progress or {}
    unfinished = [entry.id for entry in plans.stored_units(record) if not progress[entry.id].done]
    state = {"vacuumId": vacuum_id, "dryRun": bool(record.dry_run)}
    planned: dict[str, Any] = {"units": [], "turns": 0, "concurrency": rounds.concurrency()}
    if not unfinished:
        planned["next"] = "finalise" if record.dry_run else "verify"
        return state | {"round": planned}
    events = history_length(execution_arn)
    sized = rounds.next_round(events, unfinished, budget=rounds.history_budget())
    if sized is None:
        planned["next"] = "continue"
    else:
        planned |= {"next": "purge", "units": sized.units, "turns": sized.turns}
    planned["events"] = events
    return state | {"round": planned}


def continue_run(vacuum_id: str, execution_arn: str) -> dict:
    """Continue-as-new: start the next execution of the same state machine for the same record,
    which then owns the run; this one ends. Idempotent (a retried step starts nothing twice)."""
    record = get(vacuum_id)
    if runs_in(record, execution_arn):
        continuation = int(record.continuation or 0) + 1
        name = execution_name(vacuum_id, attempt=int(record.attempt or 1), continuation=continuation)
        successor = execution_arn_of(state_machine_of(execution_arn), name)
        record = store.apply(
            vacuum_id,
            "continue",
            caller=execution_arn,
            execution_arn=successor,
            continuation=continuation,
            continued_from=execution_arn,
        ) or get(vacuum_id)
    if record.continued_from != execution_arn:
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {record.status}, not running in this execution")
    renew_mutex(vacuum_id)
    successor = str(record.execution_arn)
    audit(
        record,
        "continued",
        once_per=f"c{int(record.continuation or 0)}",
        execution=successor.rsplit(":", 1)[-1],
        continuedFrom=execution_arn.rsplit(":", 1)[-1],
        reason=f"this execution's history neared its budget of {rounds.history_budget()} events",
    )
    try:
        retry.call(
            executions.start,
            state_machine_arn=state_machine_of(successor),
            name=successor.rsplit(":", 1)[-1],
            execution_input={"vacuumId": vacuum_id, "continuation": int(record.continuation or 0)},
            doing="start the vacuum's next execution",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
    return {"vacuumId": vacuum_id, "continuedAs": successor}
