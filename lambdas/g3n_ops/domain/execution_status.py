"""Close a record whose execution ended outside OPS, as soon as Step Functions says so.

An execution can end without reaching its own failure step: stopped from the console, timed out,
or failed in a way its Catch did not cover. EventBridge delivers Step Functions' "Execution Status
Change" event for OPS's state machines (the rule matches ``ENDED_OUTSIDE``) to this module:

- vacuum: the run's record, if still pending/running and owned by that execution, becomes
  ``failed`` with the reason, and the mutex is freed (vacuum-status's own reconcile does the same
  on a read; this does it at once).
- maintenance: a window still ``scheduled`` by that execution would never start, so it is
  cancelled with the reason; an ``active`` one keeps blocking (ending it would let traffic in
  mid-maintenance) but nothing will auto-end it or flag its overrun any more, so its history
  says so and the operator is notified to end it by hand.

Every change is conditional on the record still belonging to the execution, so the event of an
execution OPS itself stopped (a cancel, a manual start's timer hand-over) changes nothing.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from g3n_ops.contract import events
from g3n_ops.contract.errors import InvalidInput, InvalidTransition, MaintenanceNotFound, VacuumStepFailed
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.statuses import MaintenanceStatus, VacuumStatus
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.domain import maintenance, step_caller, vacuum
from g3n_ops.observability import logger, metrics
from g3n_ops.records.maintenance import MaintenanceRecord, Transition
from g3n_ops.records.vacuum import VacuumError
from g3n_ops.store import maintenance as maintenance_store
from g3n_ops.store import vacuum as vacuum_store

# What the EventBridge rule matches (the CDK rule and the local stack's watcher use these).
DETAIL_TYPE = events.EXECUTION_STATUS_DETAIL_TYPE
EVENT_SOURCE = events.EXECUTION_STATUS_SOURCE
ENDED_OUTSIDE = events.EXECUTION_ENDED_OUTSIDE
SOURCE = "execution-status"
# A console start has no vacuum id in its name or input: its record is among the newest.
CONSOLE_LOOKBACK = 50
DRAIN_SECONDS = 20.0  # of the function's 30 s; a run left cancelling/failing settles on a read


class ExecutionEnded(BaseModel):
    """The ``detail`` of an "Execution Status Change" event (only what is used)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    execution_arn: str = Field(alias="executionArn", min_length=1)
    state_machine_arn: str = Field(alias="stateMachineArn", min_length=1)
    name: str = ""
    status: str
    input: str | None = None
    error: str | None = None
    cause: str | None = None


def parse(event: dict) -> ExecutionEnded:
    try:
        return ExecutionEnded.model_validate((event or {}).get("detail") or {})
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, d["loc"])) for d in error.errors(include_input=False))
        raise InvalidInput(f"not a Step Functions execution status event ({fields})") from None


def reason(ended: ExecutionEnded) -> str:
    why = ": ".join(part for part in (ended.error, ended.cause) if part)
    return f"the execution ended {ended.status} outside OPS" + (f" ({why})" if why else "")


def handle(event: dict) -> dict:
    claimed = parse(event)
    outcome: dict[str, Any] = {
        "executionArn": claimed.execution_arn,
        "status": claimed.status,
        "closed": None,
    }
    if claimed.status not in ENDED_OUTSIDE:
        return outcome
    lifecycle = _lifecycle(claimed.state_machine_arn)
    if lifecycle is None:
        return outcome
    ended = confirmed(claimed, lifecycle)
    outcome["status"] = ended.status
    if lifecycle == "vacuum":
        outcome["closed"] = close_vacuum(ended)
    else:
        outcome["closed"] = close_maintenance(ended)
    if outcome["closed"]:
        logger.info("record closed after its execution ended", extra=outcome)
        metrics.add_metric(name=Metric.EXECUTION_ENDED_OUTSIDE_OPS, unit="Count", value=1)
    return outcome


def _lifecycle(state_machine_arn: str) -> step_caller.Lifecycle | None:
    for lifecycle in ("vacuum", "maintenance"):
        if state_machine_arn == step_caller.state_machine_arn(lifecycle):
            return lifecycle
    return None


def confirmed(claimed: ExecutionEnded, lifecycle: step_caller.Lifecycle) -> ExecutionEnded:
    """The execution as Step Functions describes it, if it has ended outside OPS: the event only
    says where to look (a hand-made one saying ABORTED for a RUNNING execution is refused)."""
    ids = {"executionArn": claimed.execution_arn, "status": claimed.status}
    execution = step_caller.describe(claimed.execution_arn)
    if execution is None or execution.state_machine_arn != claimed.state_machine_arn:
        step_caller.refuse(lifecycle, "no such execution of this stack's state machine", ids)
    if execution.status not in ENDED_OUTSIDE:
        step_caller.refuse(lifecycle, f"the execution is {execution.status}, not ended outside OPS", ids)
    return ExecutionEnded(
        executionArn=execution.arn,
        stateMachineArn=execution.state_machine_arn,
        name=execution.name,
        status=execution.status,
        input=json.dumps(execution.input),
        error=execution.error,
        cause=execution.cause,
    )


# -- vacuum --------------------------------------------------------------------------------------
def _vacuum_id(ended: ExecutionEnded) -> str | None:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        given = json.loads(ended.input or "{}").get("vacuumId")
        if isinstance(given, str) and given:
            return given
    for record in vacuum_store.newest_records(CONSOLE_LOOKBACK):
        if record.execution_arn == ended.execution_arn:
            return record.vacuum_id
    return None


def close_vacuum(ended: ExecutionEnded) -> str | None:
    """pending → failed, running → failing with the reason; a cancelling or failing run then
    settles (cancelled / failed, mutex freed) once no chunk is in flight. None if nothing changed."""
    vacuum_id = _vacuum_id(ended)
    if vacuum_id is None:
        return None
    error = VacuumError(
        code=VacuumStepFailed.code,
        type=f"Execution{ended.status.title().replace('_', '')}",
        message=reason(ended)[:2000],
    )
    # Conditional on pending|running AND this execution: a cancelled, finished or resumed
    # (another execution's) run is left alone.
    changed = vacuum.mark_failed(vacuum_id, error, execution_arn=ended.execution_arn)
    record = vacuum_store.get_record(vacuum_id)
    if not record or record.execution_arn != ended.execution_arn:
        return f"vacuum {vacuum_id}" if changed else None
    if record.status in vacuum.FINAL_OF:
        # The execution has ended; its last chunks may still be finishing (a stopped execution's
        # invocations run on): wait a little for them, within this function's own timeout.
        settled = vacuum.drain_and_settle(vacuum_id, budget=DRAIN_SECONDS) or record
        return f"vacuum {vacuum_id} {settled.status}"
    if record.status == VacuumStatus.CANCELLED:
        # An older record cancelled before runs settled: its window ends now (a no-op if ended).
        vacuum.close_window(record, "was cancelled while running")
    return f"vacuum {vacuum_id}" if changed else None


# -- maintenance ---------------------------------------------------------------------------------
def _maintenance_id(ended: ExecutionEnded) -> str | None:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        given = json.loads(ended.input or "{}").get("maintenanceId")
        if isinstance(given, str) and given:
            return given
    name = ended.name.removesuffix("-started")
    return name if name.startswith("mw-") else None


def close_maintenance(ended: ExecutionEnded) -> str | None:
    maintenance_id = _maintenance_id(ended)
    if maintenance_id is None:
        return None
    try:
        record = maintenance.get(maintenance_id)
    except (MaintenanceNotFound, InvalidInput):
        return None
    if record.execution_arn != ended.execution_arn:
        return None  # not the window's timer any more (a hand-over, or a stray execution)
    by = maintenance.Actor(SOURCE, ended.execution_arn)
    if record.status == MaintenanceStatus.SCHEDULED:
        # maintenance.cancel would stop the (already ended) execution unless the state machine
        # asks; the execution is this window's own timer, so it asks as the state machine.
        with contextlib.suppress(InvalidTransition):
            maintenance.cancel(
                maintenance_id,
                maintenance.Actor(maintenance.STATE_MACHINE_SOURCE, ended.execution_arn),
                message=f"cancelled: {reason(ended)}; it will not start by itself, schedule it again",
            )
            return f"maintenance {maintenance_id} cancelled"
        return None
    if record.status == MaintenanceStatus.ACTIVE and not record.timer_stopped:
        return _flag_timer_stopped(record, by, ended)
    return None


def _flag_timer_stopped(
    record: MaintenanceRecord, by: maintenance.Actor, ended: ExecutionEnded
) -> str | None:
    message = (
        f"{reason(ended)}: the window stays active (services keep answering 503) but will not be "
        "auto-ended or flagged overrunning; end it with maintenance-end"
    )
    at = iso(utc_now())
    active = MaintenanceStatus.ACTIVE
    entry = maintenance.history_entry("timer-stopped", active, active, at, by, message)
    change = maintenance_store.Change(Transition.TIMER_STOPPED, {"timer_stopped": True}, history_entry=entry)
    try:
        maintenance_store.apply(record, change)
    except maintenance_store.RecordConditionFailed:
        return None  # changed meanwhile (ended by hand, say): nothing left to flag
    maintenance.audit_action("timer-stopped", record, entry)
    return f"maintenance {record.maintenance_id} flagged timer-stopped"
