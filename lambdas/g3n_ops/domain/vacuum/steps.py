"""The vacuum state machine's steps (workflows/vacuum.asl.json).

Every step derives what it may touch from the record: the plan bound to it when the run
started, the dry-run flag, the execution the run belongs to. A step event names a unit by id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from g3n_ops import retry
from g3n_ops.contract.errors import (
    CODE_BY_CLASS_NAME,
    InvalidInput,
    VacuumIncomplete,
    VacuumNotAdmitted,
    VacuumStepFailed,
)
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.timestamps import parse_iso
from g3n_ops.domain import dry_run_binding, purge, step_caller
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.domain.vacuum import rounds
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.checks import check_request
from g3n_ops.domain.vacuum.maintenance_bracket import close_window
from g3n_ops.domain.vacuum.mutex import renew_mutex
from g3n_ops.domain.vacuum.records import (
    Scope,
    execution_name,
    get,
    iso,
    new_record,
    new_vacuum_id,
    state_machine_of,
    utc_now,
)
from g3n_ops.domain.vacuum.records import (
    execution_arn as execution_arn_of,
)
from g3n_ops.domain.vacuum.requests import mark_failed, open_record
from g3n_ops.domain.vacuum.settle import CHUNK_LEASE_SECONDS, drain_and_settle
from g3n_ops.gateways import executions
from g3n_ops.observability import metrics
from g3n_ops.registry import load_registry
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_mutex, vacuum_progress

# The vacuum ASL's state whose task records a failure (every Catch leads there).
FAIL_STATE = "Record failure"
# How much earlier than its window's end a start is still believed (Step Functions' and Lambda's
# clocks are not the same clock).
CLOCK_SLACK_SECONDS = 1.0


class ConsoleStart(BaseModel):
    """A console (or other IAM-authorised) start: the execution input describes the run."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", str_strip_whitespace=True)

    scope: Scope
    orgcode: str | None = None
    dry_run: bool = Field(default=False, alias="dryRun")
    reason: str = Field(default="started from the Step Functions console", min_length=1, max_length=500)
    confirmation_phrase: str | None = Field(default=None, alias="confirmationPhrase")
    dry_run_id: str | None = Field(default=None, alias="dryRunId", max_length=64)


def _run(record: dict, *, admitted: bool, phase: str = "pending") -> dict:
    return {
        "vacuumId": record["vacuumId"],
        "scope": record["scope"],
        "orgcode": record.get("orgcode"),
        "dryRun": bool(record["dryRun"]),
        "pendingSeconds": settings().vacuum_pending_seconds,
        "admitted": admitted,
        "phase": phase,
    }


# -- admit and start -----------------------------------------------------------------------------
def admit(execution_input: dict, execution_arn: str) -> dict:
    """The first step. With a vacuumId: the request handler's pending record, bound to this
    execution; or a running record that names this execution already (a resumed attempt or a
    continuation), which goes straight to the next round. Without: a console start — check it
    like a request, take the mutex, write the record."""
    vacuum_id = execution_input.get("vacuumId")
    if not vacuum_id:
        return _admit_console_start(execution_input, execution_arn)
    record = store.update_record(
        vacuum_id,
        set_fields={"executionArn": execution_arn},
        from_statuses=("pending",),
        execution_arn=execution_arn,
        execution_arn_unset_ok=True,
    )
    if record is None:
        current = store.get_record(vacuum_id)
        if (
            current
            and current["status"] == "cancelled"
            and current.get("executionArn") in (None, execution_arn)
        ):
            return _run(current, admitted=False)  # cancelled before this execution began
        if current and _runs_in(current, execution_arn):
            # A resumed attempt or a continuation (the record names this execution), or a retried
            # admit whose first attempt bound the run, which has started since.
            renew_mutex(vacuum_id)
            return _run(current, admitted=True, phase="running")
        state = current["status"] if current else "missing"
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is not a pending run of this execution ({state})")
    renew_mutex(vacuum_id, extra_seconds=settings().vacuum_pending_seconds)
    audit(record, "admitted", execution=execution_arn.rsplit(":", 1)[-1])
    return _run(record, admitted=True)


def _admit_console_start(execution_input: dict, execution_arn: str) -> dict:
    try:
        start_ = ConsoleStart.model_validate(execution_input)
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, detail["loc"])) for detail in error.errors(include_input=False))
        raise InvalidInput(
            f"invalid execution input ({fields}); see the vacuum state machine's Comment"
        ) from None
    orgcode = check_request(start_.scope, start_.orgcode, start_.confirmation_phrase)
    record = new_record(
        vacuum_id=new_vacuum_id(utc_now()),
        scope=start_.scope,
        orgcode=orgcode,
        dry_run=start_.dry_run,
        reason=start_.reason,
        source="console",
        actor=f"execution:{execution_arn.rsplit(':', 1)[-1]}",
    )
    record["executionArn"] = execution_arn
    # A console start names its dry-run (dryRunId) in the input; it is bound like a request's.
    record |= dry_run_binding.bind(
        scope=start_.scope, orgcode=orgcode, dry_run=start_.dry_run, dry_run_id=start_.dry_run_id
    )
    open_record(record)
    audit(record, "requested")
    audit(record, "admitted", execution=execution_arn.rsplit(":", 1)[-1])
    return _run(record, admitted=True)


def start(vacuum_id: str, execution_arn: str) -> dict:
    """After the pending window: pending → running with the plan bound to the record (cancel may
    have won: then stop quietly)."""
    current = get(vacuum_id)
    scope, orgcode, dry_run = current["scope"], current.get("orgcode"), bool(current["dryRun"])
    plan = plans.build_plan(load_registry(), scope, orgcode, purge.Limits.from_environment())
    bound = plans.bound_plan(plan, scope=scope, orgcode=orgcode, dry_run=dry_run)
    leaves_window = current["status"] == "pending" and not dry_run
    if leaves_window:
        _refuse_before_window_end(current, execution_arn)
        dry_run_binding.consume(current, bound, at=iso(utc_now()))
    record = store.update_record(
        vacuum_id,
        set_fields={
            "status": "running",
            "startedAt": iso(utc_now()),
            "stats": plans.zero_stats(plan, scope),
            "plan": plans.plan_attribute(bound),
            "progress": plans.initial_progress(bound),
            "inFlight": {},
        },
        from_statuses=("pending",),
        execution_arn=execution_arn,
    )
    if record is None:
        current = get(vacuum_id)
        if current["status"] == "cancelled":
            if leaves_window:
                dry_run_binding.release(current)  # a run cancelled while pending uses no dry-run
            return {"vacuumId": vacuum_id, "dryRun": dry_run, "started": False}
        if _runs_in(current, execution_arn) and current.get("plan"):
            # A retry after a lost result: this execution's first attempt started the run (plan,
            # stats, audit entry); starting it again would reset nothing, so go on from there.
            renew_mutex(vacuum_id)
            return {"vacuumId": vacuum_id, "dryRun": dry_run, "started": True}
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {current['status']}, not pending; not starting it")
    renew_mutex(vacuum_id)
    if leaves_window:
        audit(record, "window-over", pendingSeconds=settings().vacuum_pending_seconds)
    units = [
        {"unitId": entry["id"], "unit": purge.describe(purge.UNIT.validate_python(entry["unit"]))}
        for entry in bound["units"]
    ]
    audit(record, "started", units=units, planDigest=bound["digest"])
    return {"vacuumId": vacuum_id, "dryRun": dry_run, "started": True}


def _refuse_before_window_end(record: dict, execution_arn: str) -> None:
    """The pending window is the domain's rule, not only the ASL's Wait: a start sent early (by
    hand, with the waiting execution's ARN) is refused."""
    created = parse_iso(record["createdAt"])
    ends = created + timedelta(seconds=settings().vacuum_pending_seconds - CLOCK_SLACK_SECONDS)
    if utc_now() < ends:
        step_caller.refuse(
            "vacuum",
            f"its pending window runs until {iso(ends)}",
            _claimed("start", record["vacuumId"], execution_arn),
        )


def _refuse_unless_done(record: dict, step: str, execution_arn: str) -> None:
    """``verify`` and ``finalise`` come after every planned unit is purged (and ``finalise`` of a
    real run after every unit is verified); sent earlier, they would end a run half-way."""
    progress = record.get("progress") or {}
    bound = plans.stored_plan(record) or {"units": []}
    if not all((progress.get(entry["id"]) or {}).get("done") for entry in bound["units"]):
        step_caller.refuse(
            "vacuum", "units of the run are not purged yet", _claimed(step, record["vacuumId"], execution_arn)
        )
    if step == "finalise" and not record["dryRun"]:
        checked = record.get("verifyProgress") or {}
        if not all(checked.get(name, {}).get("done") for name in _verify_units(record)):
            step_caller.refuse(
                "vacuum", "the run is not verified yet", _claimed(step, record["vacuumId"], execution_arn)
            )


def _claimed(step: str, vacuum_id: str, execution_arn: str) -> dict:
    return {"step": step, "vacuumId": vacuum_id, "executionArn": execution_arn}


def _runs_in(record: dict, execution_arn: str) -> bool:
    return record["status"] == "running" and record.get("executionArn") == execution_arn


def _running(vacuum_id: str, execution_arn: str) -> dict:
    """The record, if it is running as this execution's run (else the run stops here)."""
    record = get(vacuum_id)
    if record["status"] != "running" or record.get("executionArn") != execution_arn:
        raise VacuumNotAdmitted(
            f"vacuum {vacuum_id} is {record['status']}"
            + ("" if record.get("executionArn") == execution_arn else " in another execution")
            + ", not running in this one; stopping"
        )
    return record


# -- rounds --------------------------------------------------------------------------------------
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
    record = _running(vacuum_id, execution_arn)
    renew_mutex(vacuum_id)
    progress = record["progress"]
    bound = plans.stored_plan(record) or {"units": []}
    unfinished = [entry["id"] for entry in bound["units"] if not progress[entry["id"]]["done"]]
    state = {"vacuumId": vacuum_id, "dryRun": bool(record["dryRun"])}
    planned: dict[str, Any] = {"units": [], "turns": 0, "concurrency": rounds.concurrency()}
    if not unfinished:
        planned["next"] = "finalise" if record["dryRun"] else "verify"
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
    if record["status"] == "running" and record.get("executionArn") == execution_arn:
        continuation = int(record.get("continuation") or 0) + 1
        name = execution_name(vacuum_id, attempt=int(record.get("attempt") or 1), continuation=continuation)
        successor = execution_arn_of(state_machine_of(execution_arn), name)
        record = store.update_record(
            vacuum_id,
            set_fields={
                "executionArn": successor,
                "continuation": continuation,
                "continuedFrom": execution_arn,
            },
            from_statuses=("running",),
            execution_arn=execution_arn,
        ) or get(vacuum_id)
    if record.get("continuedFrom") != execution_arn:
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {record['status']}, not running in this execution")
    renew_mutex(vacuum_id)
    successor = record["executionArn"]
    audit(
        record,
        "continued",
        once_per=f"c{int(record['continuation'])}",
        execution=successor.rsplit(":", 1)[-1],
        continuedFrom=execution_arn.rsplit(":", 1)[-1],
        reason=f"this execution's history neared its budget of {rounds.history_budget()} events",
    )
    try:
        retry.call(
            executions.start,
            state_machine_arn=state_machine_of(successor),
            name=successor.rsplit(":", 1)[-1],
            execution_input={"vacuumId": vacuum_id, "continuation": int(record["continuation"])},
            doing="start the vacuum's next execution",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
    return {"vacuumId": vacuum_id, "continuedAs": successor}


# -- chunks --------------------------------------------------------------------------------------
class _Superseded(Exception):
    """Another invocation committed this unit's checkpoint first (a retry overlapping a lost one)."""


def purge_chunk(
    vacuum_id: str,
    unit_id: str | None,
    execution_arn: str,
    turns_left: int,
    *,
    claimed: dict[str, Any] | None = None,
) -> dict:
    """One bounded chunk of one planned unit, from the unit's STORED cursor; each checkpoint commits
    progress and counts together, once (see ``vacuum_progress.commit_progress``). ``claimed``: what
    the event said besides the unit id (a unit, a dryRun flag); it must agree with the record."""
    record = store.get_run(vacuum_id, str(unit_id)) or get(vacuum_id)
    if record.get("executionArn") != execution_arn:
        raise plans.violation(record, str(unit_id), "the event does not come from the run's execution")
    unit = plans.planned_unit(record, str(unit_id))
    claimed = claimed or {}
    if "dryRun" in claimed and bool(claimed["dryRun"]) != bool(record["dryRun"]):
        raise plans.violation(record, str(unit_id), "the event's dryRun contradicts the run's")
    if "unit" in claimed and claimed["unit"] != unit.dump():
        raise plans.violation(record, str(unit_id), "the event's unit is not the planned one")
    if record["status"] != "running":
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {record['status']}, no longer running; stopping")
    renew_mutex(vacuum_id)
    progress = (record.get("progress") or {}).get(unit_id)
    if progress is None:
        raise plans.violation(record, str(unit_id), "the unit has no stored progress")
    answer = {"vacuumId": vacuum_id, "unitId": unit_id, "turnsLeft": max(0, turns_left - 1)}
    if progress["done"]:
        return answer | {"done": True, "more": False}
    # The unit's own counts and first start travel with its progress (one write a checkpoint).
    unit_state = {
        "seq": int(progress["seq"]),
        "startedAt": progress.get("startedAt") or iso(utc_now()),
        "counts": dict(progress.get("counts") or {}),
        "finished": False,
    }

    def checkpoint(delta: purge.Counts, cursor: purge.Cursor, done: bool) -> None:
        counts = delta.as_dict() | ({"unitsDone": 1} if done else {})
        unit_counts = dict(unit_state["counts"])
        for name, value in delta.as_dict().items():
            unit_counts[name] = int(unit_counts.get(name, 0)) + int(value)
        committed, status = retry.call(
            vacuum_progress.commit_progress,
            vacuum_id,
            unit_id,
            unit.service,
            seq=unit_state["seq"],
            cursor=None if cursor is None else json.dumps(cursor),
            done=done,
            counts=counts,
            unit_fields={"startedAt": unit_state["startedAt"], "counts": unit_counts},
            doing="record a vacuum checkpoint",
        )
        if not committed:
            raise _Superseded()
        unit_state["seq"] += 1
        unit_state["counts"] = unit_counts
        unit_state["finished"] = done
        if status != "running":
            raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {status}, no longer running; stopping")

    cursor = json.loads(progress["cursor"]) if progress.get("cursor") else None
    token = secrets.token_hex(8)
    lease_ends = int(time.time()) + CHUNK_LEASE_SECONDS
    if not vacuum_progress.enter_chunk(vacuum_id, token, execution_arn=execution_arn, expires_at=lease_ends):
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is no longer running; stopping")
    try:
        result = purge.run_chunk(
            unit,
            cursor,
            dry_run=bool(record["dryRun"]),
            limits=purge.Limits.from_environment(),
            checkpoint=checkpoint,
        )
    except _Superseded:
        return answer | {"done": False, "more": turns_left > 1}  # go on from what is stored
    finally:
        if unit_state["finished"]:
            _unit_done(record, str(unit_id), unit, unit_state)
        retry.call(vacuum_progress.leave_chunk, vacuum_id, token, doing="record that a vacuum chunk ended")
    return answer | {"done": result.done, "more": not result.done and turns_left > 1}


def _unit_done(record: dict, unit_id: str, unit: purge.WorkUnit, state: dict) -> None:
    """One trail entry per unit, from the chunk whose checkpoint finished it (written once)."""
    started = parse_iso(state["startedAt"])
    elapsed = round((utc_now() - started).total_seconds(), 3)
    audit(
        record,
        "unit-done",
        once_per=unit_id,
        unitId=unit_id,
        service=unit.service,
        unit=purge.describe(unit),
        counts=state["counts"],
        startedAt=state["startedAt"],
        elapsedSeconds=elapsed,
    )


# -- verify, finalise, fail ----------------------------------------------------------------------
def verify(vacuum_id: str, execution_arn: str) -> dict:
    """What the run was meant to delete must be gone. One verify chunk: each unit not yet checked
    to its end is read on from its stored verify cursor for at most one chunk (a page that shows
    leftovers is re-read after growing pauses before it is believed: eventual consistency). The
    cursors are stored, so the next chunk, a retry or a later execution goes on from there.
    Answers ``next``: ``verify`` (more to check), ``continue`` (this execution's history is near
    its budget) or ``finalise``; anything left fails the run."""
    record = _running(vacuum_id, execution_arn)
    _refuse_unless_done(record, "verify", execution_arn)
    renew_mutex(vacuum_id)
    started_ms = int(parse_iso(record["startedAt"]).timestamp() * 1000)
    checked = dict(record.get("verifyProgress") or {})
    planned = _verify_units(record)
    units = {name: unit for name, unit in planned.items() if not checked.get(name, {}).get("done")}
    limits = purge.Limits.from_environment()

    def check(name: str) -> purge.VerifyResult:
        cursor = checked.get(name, {}).get("cursor")
        return purge.verify_chunk(
            units[name],
            json.loads(cursor) if cursor else None,
            limits=limits,
            created_before_ms=started_ms,
        )

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="vacuum-verify") as pool:
        results = dict(zip(units, pool.map(check, units), strict=True))
    left = {name: result.left for name, result in results.items() if result.left}
    if left:
        listed = "; ".join(f"{name}: {count}+" for name, count in left.items())
        raise VacuumIncomplete(f"verification found data left in scope: {listed}")
    for name, result in results.items():
        cursor = None if result.cursor is None else json.dumps(result.cursor)
        checked[name] = {"done": result.done, "cursor": cursor}
    stored = store.update_record(
        vacuum_id,
        set_fields={"verifyProgress": checked},
        from_statuses=("running",),
        execution_arn=execution_arn,
    )
    if stored is None:
        _running(vacuum_id, execution_arn)  # raises: cancelled (or taken over) meanwhile
    for name, result in results.items():
        if result.done:
            audit(stored or record, "unit-verified", once_per=_verify_key(name), unit=name, left=0)
    answer = {"vacuumId": vacuum_id, "dryRun": False, "checked": len(results)}
    if all(checked.get(name, {}).get("done") for name in planned):
        audit(stored or record, "verified", units=len(planned), left=0)
        return answer | {"verified": True, "next": "finalise"}
    fits = rounds.verify_turn_fits(history_length(execution_arn), budget=rounds.history_budget())
    return answer | {"verified": False, "next": "verify" if fits else "continue"}


def _verify_key(name: str) -> str:
    """A verify unit's name as part of an audit key (names hold ``/`` and ``:``)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _verify_units(record: dict) -> dict[str, purge.WorkUnit]:
    """The plan's units as verify reads them, by name: a table once, however many segments purged it."""
    units: dict[str, purge.WorkUnit] = {}
    for _, unit in plans.units_of(record):
        if isinstance(unit, purge.TableUnit) and unit.total_segments > 1:
            unit = unit.model_copy(update={"segment": 0, "total_segments": 1})
        units[_describe(unit)] = unit
    return units


def _describe(unit: purge.WorkUnit) -> str:
    if isinstance(unit, purge.TableUnit):
        return unit.table
    if isinstance(unit, purge.BucketUnit):
        return f"s3://{unit.bucket}/{unit.prefix}"
    return unit.log_group


def finalise(vacuum_id: str, execution_arn: str) -> dict:
    """running → completed (the totals were kept by the checkpoints' atomic ADDs); audit; free
    the mutex."""
    current = get(vacuum_id)
    if current["status"] == "running":
        _refuse_unless_done(current, "finalise", execution_arn)
    record = store.update_record(
        vacuum_id,
        set_fields={"status": "completed", "finishedAt": iso(utc_now())},
        from_statuses=("running",),
        execution_arn=execution_arn,
    )
    if record is None:
        record = get(vacuum_id)
        # A retry after a lost result (the Lambda finished, its answer did not arrive): the record
        # is this execution's and completed already, so finish the same way again (both the
        # release and the audit entry are idempotent).
        if not (record["status"] == "completed" and record.get("executionArn") == execution_arn):
            raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {record['status']}; cannot complete it")
    vacuum_mutex.release_mutex(vacuum_id)
    run_totals = record["stats"]["totals"]
    audit(record, "completed", totals=run_totals)
    close_window(record, "completed")
    metrics.add_metric(name=Metric.VACUUM_COMPLETED, unit="Count", value=1)
    return {"vacuumId": vacuum_id, "status": "completed", "totals": run_totals}


def _error_message(error: dict) -> str:
    """Step Functions hands a Lambda error's Cause as the function's JSON error payload."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause


def fail(state: dict, execution_arn: str) -> dict:
    """Every Catch ends here. A run cancelled while running winds down (the mutex is freed here,
    once no chunk of it runs any more); otherwise the record → failed with the error."""
    caught = state.get("error") or {}
    name = caught.get("Error", "States.Unknown")
    # A stable code for the record (as every other answer has); the raw name stays in ``type``.
    code = CODE_BY_CLASS_NAME.get(name, VacuumStepFailed.code)
    error = {"code": code, "type": name, "message": _error_message(caught)[:2000]}
    vacuum_id = state.get("vacuumId")
    record = store.get_record(vacuum_id) if vacuum_id else None
    if record and record["status"] == "cancelling" and record.get("executionArn") == execution_arn:
        drain_and_settle(vacuum_id)  # cancelled once the chunks in flight are done
        return {"vacuumId": vacuum_id, "outcome": "cancelled"}
    if record and record["status"] == "cancelled" and record.get("executionArn") == execution_arn:
        vacuum_mutex.release_mutex(vacuum_id)  # cancelled before runs settled (an older record)
        close_window(record, "was cancelled while running")
        return {"vacuumId": vacuum_id, "outcome": "cancelled"}
    recorded = bool(record) and mark_failed(vacuum_id, error, execution_arn=execution_arn)
    if recorded:
        drain_and_settle(vacuum_id)  # failing → failed once the chunks in flight are done
    return {
        "vacuumId": vacuum_id,
        "outcome": "failed",
        "error": {"Error": name, "Cause": error["message"]},
        "recorded": recorded,
    }
