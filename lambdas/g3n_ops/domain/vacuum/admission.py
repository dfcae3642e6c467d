"""Admission and start: the vacuum state machine's first steps (workflows/vacuum.asl.json).

``admit`` binds a run to its execution (or writes the record of a console start), ``start`` ends
the pending window: pending → running, with the plan bound to the record.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from g3n_ops.contract.errors import InvalidInput, VacuumNotAdmitted
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.contract.timestamps import parse_iso
from g3n_ops.domain import dry_run_binding, purge, step_caller
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.checks import check_request
from g3n_ops.domain.vacuum.mutex import renew_mutex
from g3n_ops.domain.vacuum.records import (
    Scope,
    VacuumRecord,
    get,
    iso,
    new_record,
    new_vacuum_id,
    runs_in,
    step_claim,
    utc_now,
)
from g3n_ops.domain.vacuum.requests import open_record
from g3n_ops.registry import load_registry
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as store

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


def _run(record: VacuumRecord, *, admitted: bool, phase: str = "pending") -> dict:
    return {
        "vacuumId": record.vacuum_id,
        "scope": record.scope,
        "orgcode": record.orgcode,
        "dryRun": bool(record.dry_run),
        "pendingSeconds": settings().vacuum_pending_seconds,
        "admitted": admitted,
        "phase": phase,
    }


def admit(execution_input: dict, execution_arn: str) -> dict:
    """The first step. With a vacuumId: the request handler's pending record, bound to this
    execution; or a running record that names this execution already (a resumed attempt or a
    continuation), which goes straight to the next round. Without: a console start — check it
    like a request, take the mutex, write the record."""
    vacuum_id = execution_input.get("vacuumId")
    if not vacuum_id:
        return _admit_console_start(execution_input, execution_arn)
    record = store.apply(vacuum_id, "admit", caller=execution_arn, execution_arn=execution_arn)
    if record is None:
        current = store.get_record(vacuum_id)
        if (
            current
            and current.status == VacuumStatus.CANCELLED
            and current.execution_arn in (None, execution_arn)
        ):
            return _run(current, admitted=False)  # cancelled before this execution began
        if current and runs_in(current, execution_arn):
            # A resumed attempt or a continuation (the record names this execution), or a retried
            # admit whose first attempt bound the run, which has started since.
            renew_mutex(vacuum_id)
            return _run(current, admitted=True, phase="running")
        state = current.status if current else "missing"
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
            f"invalid execution input ({fields}); the shapes: docs/recap.md#vacuum-g3n-stage-ops-vacuum"
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
    record.execution_arn = execution_arn
    # A console start names its dry-run (dryRunId) in the input; it is bound like a request's.
    dry_run_binding.bind(record, dry_run_id=start_.dry_run_id)
    open_record(record)
    audit(record, "requested")
    audit(record, "admitted", execution=execution_arn.rsplit(":", 1)[-1])
    return _run(record, admitted=True)


def start(vacuum_id: str, execution_arn: str) -> dict:
    """After the pending window: pending → running with the plan bound to the record (cancel may
    have won: then stop quietly)."""
    current = get(vacuum_id)
    scope, orgcode, dry_run = current.scope, current.orgcode, bool(current.dry_run)
    plan = plans.build_plan(load_registry(), scope, orgcode, purge.Limits.from_environment())
    bound = plans.bound_plan(plan, scope=scope, orgcode=orgcode, dry_run=dry_run)
    leaves_window = current.status == VacuumStatus.PENDING and not dry_run
    if leaves_window:
        _refuse_before_window_end(current, execution_arn)
        dry_run_binding.consume(current, bound, at=iso(utc_now()))
    record = store.apply(
        vacuum_id,
        "start",
        caller=execution_arn,
        started_at=iso(utc_now()),
        stats=plans.zero_stats(plan, scope),
        plan=plans.plan_attribute(bound),
        progress=plans.initial_progress(bound),
        in_flight={},
    )
    if record is None:
        current = get(vacuum_id)
        if current.status == VacuumStatus.CANCELLED:
            if leaves_window:
                dry_run_binding.release(current)  # a run cancelled while pending uses no dry-run
            return {"vacuumId": vacuum_id, "dryRun": dry_run, "started": False}
        if runs_in(current, execution_arn) and current.plan:
            # A retry after a lost result: this execution's first attempt started the run (plan,
            # stats, audit entry); starting it again would reset nothing, so go on from there.
            renew_mutex(vacuum_id)
            return {"vacuumId": vacuum_id, "dryRun": dry_run, "started": True}
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {current.status}, not pending; not starting it")
    renew_mutex(vacuum_id)
    if leaves_window:
        audit(record, "window-over", pendingSeconds=settings().vacuum_pending_seconds)
    units = [
        {"unitId": entry.id, "unit": purge.describe(purge.UNIT.validate_python(entry.unit))}
        for entry in bound.units
    ]
    audit(record, "started", units=units, planDigest=bound.digest)
    return {"vacuumId": vacuum_id, "dryRun": dry_run, "started": True}


def _refuse_before_window_end(record: VacuumRecord, execution_arn: str) -> None:
    """The pending window is the domain's rule, not only the ASL's Wait: a start sent early (by
    hand, with the waiting execution's ARN) is refused."""
    created = parse_iso(record.created_at)
    ends = created + timedelta(seconds=settings().vacuum_pending_seconds - CLOCK_SLACK_SECONDS)
    if utc_now() < ends:
        step_caller.refuse(
            "vacuum",
            f"its pending window runs until {iso(ends)}",
            step_claim("start", record.vacuum_id, execution_arn),
        )
