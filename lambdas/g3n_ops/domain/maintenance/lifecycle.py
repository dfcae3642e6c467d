"""The transitions: schedule, start, update, end, overrun, cancel, and listing."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.contract.errors import (
    InvalidInput,
    InvalidTransition,
    MaintenanceAlreadyActive,
    MaintenanceStartFailed,
)
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.contract.timestamps import iso, iso_seconds, parse_iso
from g3n_ops.domain import step_caller
from g3n_ops.domain.maintenance.records import (
    active_record,
    active_state,
    apply_change,
    audit_action,
    create_window,
    get,
    history_entry,
    with_fresh_record,
)
from g3n_ops.domain.maintenance.rules import (
    CLOCK_SLACK,
    MAX_UPDATES,
    STATE_MACHINE_SOURCE,
    Actor,
    bypass_sha256,
    check_id,
    check_text,
    end_timer,
    now,
)
from g3n_ops.domain.maintenance.timers import hand_timing_to_new_execution, start_execution, stop_execution
from g3n_ops.observability import logger, metrics
from g3n_ops.records.maintenance import LatestUpdate, MaintenanceRecord, Transition, UpdateEntry
from g3n_ops.store import maintenance as store
from g3n_ops.store import maintenance_state


# -- schedule ------------------------------------------------------------------------------------
def schedule(
    *,
    description: str,
    duration: int,
    start: str,
    auto_end: bool,
    by: Actor,
    services: list[str] | str | None = None,
    allow_methods: list[str] | str | None = None,
    bypass_token: str | None = None,
) -> MaintenanceRecord:
    """Create a scheduled window and start the execution that times it (named after its id).
    ``bypass_token``: the operator bypass the caller issued (only its SHA-256 is kept)."""
    record = create_window(
        description, duration, start, auto_end, by, services, allow_methods, bypass_token=bypass_token
    )
    maintenance_id = record.maintenance_id
    try:
        execution_arn = start_execution(maintenance_id, maintenance_id)
    except (ClientError, BotoCoreError) as error:
        logger.error("lifecycle execution not started", extra={"maintenanceId": maintenance_id})
        cancel(maintenance_id, Actor(by.source, by.actor), message="cancelled: its execution could not start")
        raise MaintenanceStartFailed(
            f"the lifecycle execution could not be started, so the window was cancelled: {error}"
        ) from None
    store.set_execution_arn(maintenance_id, execution_arn)
    return get(maintenance_id)


def schedule_from_execution(
    *,
    description: str,
    duration: int,
    start: str | None,
    auto_end: bool,
    source: str,
    execution_arn: str,
    services: list[str] | str | None = None,
    allow_methods: list[str] | str | None = None,
) -> MaintenanceRecord:
    """A window asked for by an execution itself (console or EventBridge Scheduler): IAM on
    StartExecution was the gate, the execution is its timer, and the start defaults to now.
    No bypass: nobody would see its token (``maintenance-update --rotate-bypass`` adds one)."""
    by = Actor(source, execution_arn)
    return create_window(
        description,
        duration,
        start or None,
        auto_end,
        by,
        services,
        allow_methods,
        execution_arn=execution_arn,
    )


def admit(maintenance_id: str, execution_arn: str) -> dict:
    """The first step for a window that maintenance-schedule (or a manual start) already recorded."""
    record = get(maintenance_id)
    # Usually already set by the request handler (or a hand-over): then the record keeps its own.
    with contextlib.suppress(store.RecordConditionFailed):
        store.set_execution_arn(maintenance_id, execution_arn, only_if_absent=True)
    return timing(record)


def timing(record: MaintenanceRecord) -> dict:
    """Where the execution stands for ``record``: what to wait for next."""
    waiting = record.status == MaintenanceStatus.SCHEDULED
    return {
        "maintenanceId": record.maintenance_id,
        "status": record.status.value,
        "waitUntil": record.start if waiting else iso_seconds(now()),
    }


# -- start ---------------------------------------------------------------------------------------
def _activate(
    record: MaintenanceRecord, by: Actor, message: str | None, bypass_token: str | None = None
) -> MaintenanceRecord:
    if record.status == MaintenanceStatus.ACTIVE:
        raise MaintenanceAlreadyActive(
            f"maintenance {record.maintenance_id} is already active (since {record.started_at})"
        )
    if record.status != MaintenanceStatus.SCHEDULED:
        raise InvalidTransition(
            f"maintenance {record.maintenance_id} is {record.status}; only a scheduled window can start"
        )
    moment = now()
    fields: dict = {
        "status": MaintenanceStatus.ACTIVE,
        "started_at": iso(moment),
        "expected_end": iso(moment + timedelta(seconds=record.duration)),
        "overrunning": False,
    }
    if bypass_token:  # a start with --bypass: a new token (it replaces one issued at schedule)
        fields |= {"bypass": True, "bypass_sha256": bypass_sha256(bypass_token)}
    started = record.changed(**fields)
    entry = history_entry(
        "start", MaintenanceStatus.SCHEDULED, MaintenanceStatus.ACTIVE, started.started_at, by, message
    )
    try:
        apply_change(
            record, store.Change(Transition.START, fields, history_entry=entry), active_state(started)
        )
    except store.StateConditionFailed:
        other = maintenance_state.active_id()
        raise MaintenanceAlreadyActive(
            f"maintenance {other} is active; end it before starting {record.maintenance_id}"
        ) from None
    audit_action("start", record, entry)
    return started


def start(maintenance_id: str, by: Actor, *, bypass_token: str | None = None) -> MaintenanceRecord:
    """Start a scheduled window now (before its scheduled time); ``bypass_token``: issue this
    operator bypass with it (replacing any issued at schedule)."""
    record = with_fresh_record(
        maintenance_id,
        lambda current: _activate(
            current, by, "started by hand before its scheduled time", bypass_token=bypass_token
        ),
    )
    hand_timing_to_new_execution(record)
    return get(maintenance_id)


def start_when_due(maintenance_id: str, execution_arn: str) -> dict:
    """The state machine's start step, at the scheduled time. It starts the window unless it was
    started by hand, cancelled or ended meanwhile; if another window is active it cancels this
    one (windows never overlap) and says why in the history."""
    by = Actor(STATE_MACHINE_SOURCE, execution_arn)
    record = get(maintenance_id)
    if record.status == MaintenanceStatus.SCHEDULED:
        _refuse_before(record.start, "start", record, execution_arn)
    outcome = {"scheduled": "started", "active": "already-active"}.get(record.status, "not-started")
    if record.status == MaintenanceStatus.SCHEDULED:
        try:
            record = with_fresh_record(
                maintenance_id, lambda current: _activate(current, by, "started at its scheduled time")
            )
        except MaintenanceAlreadyActive as refusal:
            if get(maintenance_id).status == MaintenanceStatus.SCHEDULED:  # another window holds the platform
                with contextlib.suppress(InvalidTransition):  # unless started or cancelled by hand meanwhile
                    cancel(maintenance_id, by, message=f"not started: {refusal.message}")
            record = get(maintenance_id)
            outcome = "already-active" if record.status == MaintenanceStatus.ACTIVE else "not-started"
        except InvalidTransition:
            record = get(maintenance_id)  # cancelled or ended while we looked
            outcome = "not-started"
    result = {"maintenanceId": maintenance_id, "status": record.status.value, "outcome": outcome}
    if record.status == MaintenanceStatus.ACTIVE and record.expected_end:
        result["waitUntil"] = end_timer(record.expected_end)
    return result


def _refuse_before(moment: str, step: str, record: MaintenanceRecord, execution_arn: str) -> None:
    """The schedule is the domain's rule, not only the ASL's Wait: a start (or expire) sent before
    its time, by hand with the waiting execution's ARN, is refused."""
    if now() < parse_iso(moment) - CLOCK_SLACK:
        claimed = {"step": step, "maintenanceId": record.maintenance_id, "executionArn": execution_arn}
        step_caller.refuse("maintenance", f"its {step} is due at {moment}, not before", claimed)


# -- update --------------------------------------------------------------------------------------
def update(text: str | None, by: Actor, *, rotate_bypass_token: str | None = None) -> MaintenanceRecord:
    """Post an update on the active window (the guard's 503 body and ping carry the latest),
    and/or rotate its operator bypass to ``rotate_bypass_token`` (the old token stops passing
    within the guard's TTL; a window without a bypass gets one)."""
    if text is None and rotate_bypass_token is None:
        raise InvalidInput("give the update text, or rotate the bypass (or both)")
    text = None if text is None else check_text(text, "update text")

    def attempt(record: MaintenanceRecord) -> MaintenanceRecord:
        if record.status != MaintenanceStatus.ACTIVE:
            raise InvalidTransition(f"maintenance {record.maintenance_id} is {record.status}")
        if text is not None and len(record.updates) >= MAX_UPDATES:
            raise InvalidInput(f"a window takes at most {MAX_UPDATES} updates")
        at = iso(now())
        fields: dict = {}
        entry = history = None
        if text is not None:
            fields["latest_update"] = LatestUpdate(text=text, at=at)
            entry = UpdateEntry(text=text, at=at, source=by.source, actor=by.actor)
        if rotate_bypass_token is not None:
            fields |= {"bypass": True, "bypass_sha256": bypass_sha256(rotate_bypass_token)}
            message = "operator bypass rotated: the previous token no longer passes"
            active = MaintenanceStatus.ACTIVE
            history = history_entry("rotate-bypass", active, active, at, by, message)
        apply_change(
            record,
            store.Change(Transition.UPDATE, fields, history_entry=history, update_entry=entry),
            active_state(record.changed(**fields)),
        )
        if entry is not None:
            audit_action("update", record, entry)
        if history is not None:
            audit_action("rotate-bypass", record, history)
        return record

    record = with_fresh_record(active_record().maintenance_id, attempt)
    return get(record.maintenance_id)


# -- end / overrun ------------------------------------------------------------------------------
def _finish(record: MaintenanceRecord, by: Actor, *, action: str, message: str) -> MaintenanceRecord:
    if record.status != MaintenanceStatus.ACTIVE:
        raise InvalidTransition(f"maintenance {record.maintenance_id} is {record.status}, not active")
    at = iso(now())
    # The bypass ends with the window: the state goes inactive and the record forgets the digest.
    fields = {
        "status": MaintenanceStatus.ENDED,
        "ended_at": at,
        "end_message": message,
        "bypass_sha256": None,
    }
    entry = history_entry(action, MaintenanceStatus.ACTIVE, MaintenanceStatus.ENDED, at, by, message)
    apply_change(
        record, store.Change(Transition.END, fields, history_entry=entry), dict(maintenance_state.INACTIVE)
    )
    audit_action(action, record, entry)
    return record.changed(**fields)


def end(end_message: str, by: Actor) -> MaintenanceRecord:
    """End the active window: the services recover within the guard's cache TTL."""
    message = check_text(end_message, "end message")
    maintenance_id = active_record().maintenance_id
    with_fresh_record(maintenance_id, lambda current: _finish(current, by, action="end", message=message))
    _start_recovery_probe(maintenance_id)
    return get(maintenance_id)


def end_window(maintenance_id: str, end_message: str, by: Actor) -> MaintenanceRecord:
    """End this window (not whichever is active): for a caller that opened a window of its own
    (vacuum-all --with-maintenance) and must not end one an operator started since."""
    message = check_text(end_message, "end message")
    with_fresh_record(
        check_id(maintenance_id), lambda current: _finish(current, by, action="end", message=message)
    )
    _start_recovery_probe(maintenance_id)
    return get(maintenance_id)


def _start_recovery_probe(maintenance_id: str) -> None:
    """The execution timing the window is asleep until the expected end; a fresh one (named
    ``<id>-ended``) proves the services recover now. Best effort: the timing execution probes
    the recovery too when it wakes."""
    try:
        start_execution(maintenance_id, f"{maintenance_id}-ended")
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "recovery probe not started", extra={"maintenanceId": maintenance_id, "error": str(error)}
        )


def _flag_overrun(record: MaintenanceRecord, by: Actor) -> MaintenanceRecord:
    message = f"still active past its expected end ({record.expected_end}); end it with maintenance-end"
    at = iso(now())
    active = MaintenanceStatus.ACTIVE
    entry = history_entry("overrun", active, active, at, by, message)
    flagged = record.changed(overrunning=True)
    apply_change(
        record,
        store.Change(Transition.OVERRUN, {"overrunning": True}, history_entry=entry),
        active_state(flagged),
    )
    audit_action("overrun", record, entry)
    metrics.add_metric(name=Metric.MAINTENANCE_OVERRUNNING, unit="Count", value=1)  # what the alarm watches
    return flagged


def expire(maintenance_id: str, execution_arn: str) -> dict:
    """The state machine's step at the expected end: auto-end the window if asked, otherwise
    flag it overrunning (ping and the guard show it). A window already ended is left alone."""
    by = Actor(STATE_MACHINE_SOURCE, execution_arn)
    current = get(maintenance_id)
    if current.status == MaintenanceStatus.ACTIVE and current.expected_end:
        _refuse_before(current.expected_end, "expire", current, execution_arn)

    def attempt(record: MaintenanceRecord) -> tuple[MaintenanceRecord, str]:
        if record.status != MaintenanceStatus.ACTIVE:
            return record, f"already-{record.status}"
        if record.overrunning:
            return record, "overrunning"
        if record.auto_end:
            message = "ended automatically after its duration"
            return _finish(record, by, action="auto-end", message=message), "auto-ended"
        return _flag_overrun(record, by), "overrunning"

    record, outcome = with_fresh_record(maintenance_id, attempt)
    return {
        "maintenanceId": maintenance_id,
        "status": record.status.value,
        "overrunning": bool(record.overrunning),
        "outcome": outcome,
    }


# -- cancel --------------------------------------------------------------------------------------
def cancel(maintenance_id: str, by: Actor, *, message: str | None = None) -> MaintenanceRecord:
    """Cancel a scheduled window and stop the execution waiting to start it."""

    def attempt(record: MaintenanceRecord) -> MaintenanceRecord:
        if record.status == MaintenanceStatus.ACTIVE:
            raise InvalidTransition(
                f"maintenance {maintenance_id} is active; end it with maintenance-end instead of cancelling"
            )
        if record.status != MaintenanceStatus.SCHEDULED:
            raise InvalidTransition(f"maintenance {maintenance_id} is already {record.status}")
        at = iso(now())
        fields = {"status": MaintenanceStatus.CANCELLED, "cancelled_at": at, "bypass_sha256": None}
        cancelled = MaintenanceStatus.CANCELLED
        entry = history_entry("cancel", MaintenanceStatus.SCHEDULED, cancelled, at, by, message)
        apply_change(record, store.Change(Transition.CANCEL, fields, history_entry=entry))
        audit_action("cancel", record, entry)
        return record.changed(**fields)

    record = with_fresh_record(check_id(maintenance_id), attempt)
    if record.execution_arn and by.source != STATE_MACHINE_SOURCE:
        stop_execution(record.execution_arn, cause=f"maintenance {maintenance_id} was cancelled")
    return get(maintenance_id)
