"""The maintenance window lifecycle.

    scheduled ──start──▶ active ──end / auto-end──▶ ended
        │                  └──overrun (past its expected end, no auto-end; stays active)
        └──cancel──▶ cancelled

Every change is a conditional write on the record (status and version as read), appended to
its ``history`` and written as one audit line. Starting, updating and ending also write the
state item the guard reads, in the same transaction, so at most one window is ever active.

The lifecycle state machine times a window (wait for the start → start → wait for the expected
end → auto-end or flag the overrun). Operators may act at any point; each step looks at the
record first and only does what is still due, so the execution and the record stay consistent
whatever happened by hand in between.

A window may be narrower than "every API service answers 503" (all of it is on the state item the
guard already reads, so none of it costs a read):

- ``services``: the registry codes it applies to (None: every API service);
- ``allowMethods``: HTTP methods that still pass (e.g. GET, HEAD: read-only maintenance);
- an operator bypass: a random token, returned once by the call that issued it, whose SHA-256
  alone is kept (``bypassSha256``, on the record and the state item; never shown by any read).
  It ends with the window (the state goes inactive and the record forgets the digest); rotating
  issues a new one and voids the old.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.contract.errors import (
    InvalidInput,
    InvalidTransition,
    MaintenanceAlreadyActive,
    MaintenanceNotFound,
    MaintenanceStartFailed,
)
from g3n_ops.contract.ids import MAINTENANCE_ID_HINT, MAINTENANCE_ID_PATTERN, MAINTENANCE_ID_PREFIX
from g3n_ops.contract.maintenance import (
    HTTP_METHODS,
    MAX_DESCRIPTION_LENGTH,
    MAX_DURATION_SECONDS,
    MAX_TEXT_LENGTH,
    MIN_DURATION_SECONDS,
)
from g3n_ops.contract.metrics import Metric, maintenance_action
from g3n_ops.contract.statuses import MAINTENANCE_STATUSES
from g3n_ops.contract.timestamps import iso, iso_seconds, parse_iso, utc_now
from g3n_ops.domain import audit, paging, step_caller
from g3n_ops.gateways import executions
from g3n_ops.observability import logger, metrics
from g3n_ops.registry import load_registry
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as store
from g3n_ops.store import maintenance_state

STATUSES = MAINTENANCE_STATUSES

# A start slightly in the past is an operator saying "now" with a little typing or clock skew.
START_TOLERANCE_SECONDS = 60
MAX_START_AHEAD = timedelta(days=90)
MAX_UPDATES = 100  # keeps a record far below DynamoDB's 400 KB item limit
# Timers may fire up to a second early (the local interpreter truncates to whole seconds); a
# window must never be closed or flagged before its expected end, so the end timer gets 1 s slack.
END_TIMER_SLACK = timedelta(seconds=1)
# How much earlier than its time a step is still believed (Step Functions and Lambda keep their own clocks).
CLOCK_SLACK = timedelta(seconds=1)
RACE_ATTEMPTS = 3
BYPASS_TOKEN_BYTES = 32  # 256 bits, 43 URL-safe characters
# The record and state fields that are OPS's own, never shown by a read (ping, get, list, MCP).
PRIVATE_FIELDS = ("bypassSha256",)

# Who acts when nobody typed a command: the lifecycle state machine's own steps.
STATE_MACHINE_SOURCE = "state-machine"

T = TypeVar("T")

_ID_PATTERN = re.compile(MAINTENANCE_ID_PATTERN)


@dataclass(frozen=True)
class Actor:
    """Who asked: the surface (cli, mcp, console, schedule, state-machine) and, if known, the
    principal or execution."""

    source: str
    actor: str | None = None


class _Raced(Exception):
    """The record changed between our read and our write; read again and decide again."""


# -- time ----------------------------------------------------------------------------------------
def now() -> datetime:
    return utc_now()


def _end_timer(expected_end: str) -> str:
    moment = parse_iso(expected_end)
    whole = moment.replace(microsecond=0) + timedelta(seconds=math.ceil(moment.microsecond / 1e6))
    return iso_seconds(whole + END_TIMER_SLACK)


# -- validation ----------------------------------------------------------------------------------
def check_description(description: str) -> str:
    description = description.strip()
    if not 1 <= len(description) <= MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"the description must be 1 to {MAX_DESCRIPTION_LENGTH} characters")
    return description


def check_text(text: str, what: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= MAX_TEXT_LENGTH:
        raise InvalidInput(f"the {what} must be 1 to {MAX_TEXT_LENGTH} characters")
    return text


def check_duration(duration: int) -> int:
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise InvalidInput("the duration must be a whole number of seconds")
    if not MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS:
        raise InvalidInput(
            f"the duration must be from {MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS} seconds (7 days)"
        )
    return duration


def parse_start(text: str, moment: datetime) -> datetime:
    """An ISO 8601 start with a timezone, not in the past (beyond a minute), at most 90 days out."""
    try:
        start = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("the start must be an ISO 8601 time, e.g. 2026-12-01T02:00:00Z") from None
    if start.tzinfo is None:
        raise InvalidInput("the start must include a timezone, e.g. 2026-12-01T02:00:00Z or +01:00")
    if start < moment - timedelta(seconds=START_TOLERANCE_SECONDS):
        raise InvalidInput("the start is in the past; give a future time (or now)")
    if start > moment + MAX_START_AHEAD:
        raise InvalidInput(f"the start must be within {MAX_START_AHEAD.days} days from now")
    return start.astimezone(UTC)


def check_id(maintenance_id: str) -> str:
    if not _ID_PATTERN.match(maintenance_id or ""):
        raise InvalidInput(MAINTENANCE_ID_HINT)
    return maintenance_id


def new_id(moment: datetime) -> str:
    return f"{MAINTENANCE_ID_PREFIX}{moment:%Y%m%d}-{secrets.token_hex(4)}"


def api_service_codes() -> list[str]:
    """The codes of the API services (those behind the guard), in registry order."""
    return [service.code for service in load_registry().api_services]


def check_services(services: list[str] | str | None) -> list[str] | None:
    """A window's scope: registry codes of API services, given as a list or ``"pay,ord"``.
    Blanks are skipped and duplicates collapsed; an unknown code is refused with the known ones
    listed. None (or every API service named) is the whole platform: None."""
    if services is None:
        return None
    given = services.split(",") if isinstance(services, str) else services
    if not isinstance(given, list | tuple) or not all(isinstance(code, str) for code in given):
        raise InvalidInput("services must be service codes, e.g. pay,ord")
    known = api_service_codes()
    wanted = {code.strip().lower() for code in given} - {""}
    if not wanted:
        raise InvalidInput("name at least one service (or leave services out for all of them)")
    unknown = sorted(wanted - set(known))
    if unknown:
        shown = ", ".join(code[:32] for code in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise InvalidInput(f"unknown service code(s): {shown}; the known ones are {', '.join(known)}")
    if wanted == set(known):
        return None
    return [code for code in known if code in wanted]


def check_methods(methods: list[str] | str | None) -> list[str] | None:
    """The HTTP methods a window lets through, as a list or ``"GET,HEAD"``: a proper subset of
    HTTP_METHODS (case-insensitive, blanks skipped, duplicates collapsed). None: nothing passes."""
    if methods is None:
        return None
    given = methods.split(",") if isinstance(methods, str) else methods
    if not isinstance(given, list | tuple) or not all(isinstance(method, str) for method in given):
        raise InvalidInput("allowMethods must be HTTP methods, e.g. GET,HEAD")
    wanted = {method.strip().upper() for method in given} - {""}
    unknown = sorted(wanted - set(HTTP_METHODS))
    if unknown:
        shown = ", ".join(method[:16] for method in unknown[:5])
        raise InvalidInput(f"unknown HTTP method(s): {shown}; use some of {', '.join(HTTP_METHODS)}")
    if not wanted:
        return None
    if wanted == set(HTTP_METHODS):
        raise InvalidInput("allowing every HTTP method blocks nothing; leave some out (e.g. GET,HEAD)")
    return [method for method in HTTP_METHODS if method in wanted]


def new_bypass_token() -> str:
    """A fresh operator bypass token (shown once; only its SHA-256 is kept)."""
    return secrets.token_urlsafe(BYPASS_TOKEN_BYTES)


def bypass_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mode(document: dict) -> str:
    """``read-only`` when a window lets some methods through, else ``full``."""
    return "read-only" if document.get("allowMethods") else "full"


def shown(document: dict) -> dict:
    """A record or state as any read shows it: without the bypass digest, saying whether there is
    a bypass and what kind of window it is."""
    if not isinstance(document, dict) or not document.get("maintenanceId"):
        return document
    visible = {key: value for key, value in document.items() if key not in PRIVATE_FIELDS}
    visible.setdefault("services", None)
    visible.setdefault("allowMethods", None)
    visible["bypass"] = bool(document.get("bypassSha256")) or bool(document.get("bypass"))
    visible["mode"] = mode(document)
    return visible


# -- records -------------------------------------------------------------------------------------
def history_entry(
    action: str, from_status: str | None, to_status: str, at: str, by: Actor, message: str | None
):
    return {
        "action": action,
        "from": from_status,
        "to": to_status,
        "at": at,
        "source": by.source,
        "actor": by.actor,
        "message": message,
    }


def new_record(
    *,
    description: str,
    duration: int,
    start: datetime,
    auto_end: bool,
    by: Actor,
    moment: datetime,
    services: list[str] | None = None,
    allow_methods: list[str] | None = None,
    bypass_token: str | None = None,
) -> dict:
    created = iso(moment)
    return {
        "maintenanceId": new_id(moment),
        "status": "scheduled",
        "description": description,
        "start": iso_seconds(start),
        "duration": duration,
        "autoEnd": auto_end,
        "services": services,  # None: every API service
        "allowMethods": allow_methods,  # None: every method answers 503
        "bypass": bypass_token is not None,
        "bypassSha256": bypass_sha256(bypass_token) if bypass_token else None,
        "overrunning": False,
        "createdAt": created,
        "source": by.source,
        "actor": by.actor,
        "executionArn": None,
        "startedAt": None,
        "expectedEnd": None,
        "endedAt": None,
        "cancelledAt": None,
        "endMessage": None,
        "latestUpdate": None,
        # What the probes prove after the start and after the end (domain.maintenance_effect).
        "effectiveAt": None,
        "allBlockedAt": None,
        "notEffective": None,
        "recoveredAt": None,
        "allRecoveredAt": None,
        "notRecovered": None,
        "updates": [],
        "history": [history_entry("schedule", None, "scheduled", created, by, None)],
        "version": 1,
    }


def active_state(record: dict) -> dict:
    """What the guard and ping see while ``record`` is the active window."""
    return {
        "active": True,
        "maintenanceId": record["maintenanceId"],
        "description": record["description"],
        "latestUpdate": record.get("latestUpdate"),
        "startedAt": record["startedAt"],
        "expectedEnd": record["expectedEnd"],
        "overrunning": bool(record.get("overrunning")),
        "services": record.get("services"),
        "allowMethods": record.get("allowMethods"),
        "bypassSha256": record.get("bypassSha256"),
    }


def audit_action(action: str, record: dict, entry: dict) -> None:
    audit.write(
        {
            "action": action,
            "maintenanceId": record["maintenanceId"],
            "description": record["description"],
            "from": entry.get("from"),
            "to": entry.get("to"),
            "at": entry["at"],
            "source": entry["source"],
            "actor": entry["actor"],
            "message": entry.get("message") or entry.get("text"),
        }
    )
    metrics.add_metric(name=maintenance_action(action), unit="Count", value=1)


def get(maintenance_id: str) -> dict:
    record = store.get(check_id(maintenance_id))
    if record is None:
        raise MaintenanceNotFound(f"no maintenance window {maintenance_id}")
    return record


def _with_fresh_record(maintenance_id: str, attempt: Callable[[dict], T]) -> T:
    """Run ``attempt`` on the current record; if another writer got in first, read and decide again."""
    for _ in range(RACE_ATTEMPTS):
        try:
            return attempt(get(maintenance_id))
        except _Raced:
            continue
    raise InvalidTransition(
        f"maintenance {maintenance_id} kept changing while we tried; look at it and retry"
    )


def _apply(record: dict, change: store.Change, state: store.StateChange | None = None) -> None:
    """A failed condition is a race (re-read and retry), except when a start finds another window
    active: that ``StateConditionFailed`` is the caller's to answer."""
    try:
        store.apply(record["maintenanceId"], change, state)
    except store.RecordConditionFailed:
        raise _Raced() from None
    except store.StateConditionFailed:
        if state is not None and state.require == "owned":  # the window stopped being ours
            raise _Raced() from None
        raise


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
) -> dict:
    """Create a scheduled window and start the execution that times it (named after its id).
    ``bypass_token``: the operator bypass the caller issued (only its SHA-256 is kept)."""
    moment = now()
    record = new_record(
        description=check_description(description),
        duration=check_duration(duration),
        start=parse_start(start, moment),
        auto_end=auto_end,
        by=by,
        moment=moment,
        services=check_services(services),
        allow_methods=check_methods(allow_methods),
        bypass_token=bypass_token,
    )
    store.create(record)
    audit_action("schedule", record, record["history"][0])
    maintenance_id = record["maintenanceId"]
    try:
        execution_arn = _start_execution(maintenance_id, maintenance_id)
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
) -> dict:
    """A window asked for by an execution itself (console or EventBridge Scheduler): IAM on
    StartExecution was the gate, the execution is its timer, and the start defaults to now.
    No bypass: nobody would see its token (``maintenance-update --rotate-bypass`` adds one)."""
    moment = now()
    by = Actor(source, execution_arn)
    record = new_record(
        description=check_description(description),
        duration=check_duration(duration),
        start=parse_start(start, moment) if start else moment,
        auto_end=auto_end,
        by=by,
        moment=moment,
        services=check_services(services),
        allow_methods=check_methods(allow_methods),
    )
    record["executionArn"] = execution_arn
    store.create(record)
    audit_action("schedule", record, record["history"][0])
    return record


def admit(maintenance_id: str, execution_arn: str) -> dict:
    """The first step for a window that maintenance-schedule (or a manual start) already recorded."""
    record = get(maintenance_id)
    # Usually already set by the request handler (or a hand-over): then the record keeps its own.
    with contextlib.suppress(store.RecordConditionFailed):
        store.set_execution_arn(maintenance_id, execution_arn, only_if_absent=True)
    return timing(record)


def timing(record: dict) -> dict:
    """Where the execution stands for ``record``: what to wait for next."""
    waiting = record["status"] == "scheduled"
    return {
        "maintenanceId": record["maintenanceId"],
        "status": record["status"],
        "waitUntil": record["start"] if waiting else iso_seconds(now()),
    }


# -- start ---------------------------------------------------------------------------------------
def _activate(record: dict, by: Actor, message: str | None, bypass_token: str | None = None) -> dict:
    if record["status"] == "active":
        raise MaintenanceAlreadyActive(
            f"maintenance {record['maintenanceId']} is already active (since {record['startedAt']})"
        )
    if record["status"] != "scheduled":
        raise InvalidTransition(
            f"maintenance {record['maintenanceId']} is {record['status']}; only a scheduled window can start"
        )
    moment = now()
    fields = {
        "status": "active",
        "startedAt": iso(moment),
        "expectedEnd": iso(moment + timedelta(seconds=record["duration"])),
        "overrunning": False,
    }
    if bypass_token:  # a start with --bypass: a new token (it replaces one issued at schedule)
        fields |= {"bypass": True, "bypassSha256": bypass_sha256(bypass_token)}
    entry = history_entry("start", "scheduled", "active", fields["startedAt"], by, message)
    state = active_state({**record, **fields})
    try:
        _apply(
            record,
            store.Change("scheduled", record["version"], fields, history_entry=entry),
            store.StateChange(state, "inactive", record["maintenanceId"]),
        )
    except store.StateConditionFailed:
        other = maintenance_state.active_id()
        raise MaintenanceAlreadyActive(
            f"maintenance {other} is active; end it before starting {record['maintenanceId']}"
        ) from None
    audit_action("start", record, entry)
    return {**record, **fields}


def start(maintenance_id: str, by: Actor, *, bypass_token: str | None = None) -> dict:
    """Start a scheduled window now (before its scheduled time); ``bypass_token``: issue this
    operator bypass with it (replacing any issued at schedule)."""
    record = _with_fresh_record(
        maintenance_id,
        lambda current: _activate(
            current, by, "started by hand before its scheduled time", bypass_token=bypass_token
        ),
    )
    _hand_timing_to_new_execution(record)
    return get(maintenance_id)


def start_when_due(maintenance_id: str, execution_arn: str) -> dict:
    """The state machine's start step, at the scheduled time. It starts the window unless it was
    started by hand, cancelled or ended meanwhile; if another window is active it cancels this
    one (windows never overlap) and says why in the history."""
    by = Actor(STATE_MACHINE_SOURCE, execution_arn)
    record = get(maintenance_id)
    if record["status"] == "scheduled":
        _refuse_before(record["start"], "start", record, execution_arn)
    outcome = {"scheduled": "started", "active": "already-active"}.get(record["status"], "not-started")
    if record["status"] == "scheduled":
        try:
            record = _with_fresh_record(
                maintenance_id, lambda current: _activate(current, by, "started at its scheduled time")
            )
        except MaintenanceAlreadyActive as refusal:
            if get(maintenance_id)["status"] == "scheduled":  # another window holds the platform
                with contextlib.suppress(InvalidTransition):  # unless started or cancelled by hand meanwhile
                    cancel(maintenance_id, by, message=f"not started: {refusal.message}")
            record = get(maintenance_id)
            outcome = "already-active" if record["status"] == "active" else "not-started"
        except InvalidTransition:
            record = get(maintenance_id)  # cancelled or ended while we looked
            outcome = "not-started"
    result = {"maintenanceId": maintenance_id, "status": record["status"], "outcome": outcome}
    if record["status"] == "active":
        result["waitUntil"] = _end_timer(record["expectedEnd"])
    return result


def _refuse_before(moment: str, step: str, record: dict, execution_arn: str) -> None:
    """The schedule is the domain's rule, not only the ASL's Wait: a start (or expire) sent before
    its time, by hand with the waiting execution's ARN, is refused."""
    if now() < parse_iso(moment) - CLOCK_SLACK:
        claimed = {"step": step, "maintenanceId": record["maintenanceId"], "executionArn": execution_arn}
        step_caller.refuse("maintenance", f"its {step} is due at {moment}, not before", claimed)


# -- update --------------------------------------------------------------------------------------
def active_window_id() -> str | None:
    """The id of the window active now, or None."""
    return maintenance_state.active_id()


def _active_record() -> dict:
    active_id = maintenance_state.active_id()
    if not active_id:
        raise InvalidTransition("no maintenance window is active")
    return get(active_id)


def update(text: str | None, by: Actor, *, rotate_bypass_token: str | None = None) -> dict:
    """Post an update on the active window (the guard's 503 body and ping carry the latest),
    and/or rotate its operator bypass to ``rotate_bypass_token`` (the old token stops passing
    within the guard's TTL; a window without a bypass gets one)."""
    if text is None and rotate_bypass_token is None:
        raise InvalidInput("give the update text, or rotate the bypass (or both)")
    text = None if text is None else check_text(text, "update text")

    def attempt(record: dict) -> dict:
        if record["status"] != "active":
            raise InvalidTransition(f"maintenance {record['maintenanceId']} is {record['status']}")
        if text is not None and len(record.get("updates") or []) >= MAX_UPDATES:
            raise InvalidInput(f"a window takes at most {MAX_UPDATES} updates")
        at = iso(now())
        fields: dict = {}
        entry = history = None
        if text is not None:
            fields["latestUpdate"] = {"text": text, "at": at}
            entry = {**fields["latestUpdate"], "source": by.source, "actor": by.actor}
        if rotate_bypass_token is not None:
            fields |= {"bypass": True, "bypassSha256": bypass_sha256(rotate_bypass_token)}
            message = "operator bypass rotated: the previous token no longer passes"
            history = history_entry("rotate-bypass", "active", "active", at, by, message)
        state = active_state({**record, **fields})
        _apply(
            record,
            store.Change("active", record["version"], fields, history_entry=history, update_entry=entry),
            store.StateChange(state, "owned", record["maintenanceId"]),
        )
        if entry is not None:
            audit_action("update", record, {**entry, "from": "active", "to": "active"})
        if history is not None:
            audit_action("rotate-bypass", record, history)
        return record

    record = _with_fresh_record(_active_record()["maintenanceId"], attempt)
    return get(record["maintenanceId"])


# -- end / overrun ------------------------------------------------------------------------------
def _finish(record: dict, by: Actor, *, action: str, message: str) -> dict:
    if record["status"] != "active":
        raise InvalidTransition(f"maintenance {record['maintenanceId']} is {record['status']}, not active")
    at = iso(now())
    # The bypass ends with the window: the state goes inactive and the record forgets the digest.
    fields = {"status": "ended", "endedAt": at, "endMessage": message, "bypassSha256": None}
    entry = history_entry(action, "active", "ended", at, by, message)
    _apply(
        record,
        store.Change("active", record["version"], fields, history_entry=entry),
        store.StateChange(maintenance_state.INACTIVE, "owned", record["maintenanceId"]),
    )
    audit_action(action, record, entry)
    return {**record, **fields}


def end(end_message: str, by: Actor) -> dict:
    """End the active window: the services recover within the guard's cache TTL."""
    message = check_text(end_message, "end message")
    active = _active_record()
    _with_fresh_record(
        active["maintenanceId"], lambda current: _finish(current, by, action="end", message=message)
    )
    _start_recovery_probe(active["maintenanceId"])
    return get(active["maintenanceId"])


def end_window(maintenance_id: str, end_message: str, by: Actor) -> dict:
    """End this window (not whichever is active): for a caller that opened a window of its own
    (vacuum-all --with-maintenance) and must not end one an operator started since."""
    message = check_text(end_message, "end message")
    _with_fresh_record(
        check_id(maintenance_id), lambda current: _finish(current, by, action="end", message=message)
    )
    _start_recovery_probe(maintenance_id)
    return get(maintenance_id)


def _start_recovery_probe(maintenance_id: str) -> None:
    """The execution timing the window is asleep until the expected end; a fresh one (named
    ``<id>-ended``) proves the services recover now. Best effort: the timing execution probes
    the recovery too when it wakes."""
    try:
        _start_execution(maintenance_id, f"{maintenance_id}-ended")
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "recovery probe not started", extra={"maintenanceId": maintenance_id, "error": str(error)}
        )


def _flag_overrun(record: dict, by: Actor) -> dict:
    message = f"still active past its expected end ({record['expectedEnd']}); end it with maintenance-end"
    at = iso(now())
    entry = history_entry("overrun", "active", "active", at, by, message)
    state = active_state({**record, "overrunning": True})
    _apply(
        record,
        store.Change("active", record["version"], {"overrunning": True}, history_entry=entry),
        store.StateChange(state, "owned", record["maintenanceId"]),
    )
    audit_action("overrun", record, entry)
    metrics.add_metric(name=Metric.MAINTENANCE_OVERRUNNING, unit="Count", value=1)  # what the alarm watches
    return {**record, "overrunning": True}


def expire(maintenance_id: str, execution_arn: str) -> dict:
    """The state machine's step at the expected end: auto-end the window if asked, otherwise
    flag it overrunning (ping and the guard show it). A window already ended is left alone."""
    by = Actor(STATE_MACHINE_SOURCE, execution_arn)
    current = get(maintenance_id)
    if current["status"] == "active":
        _refuse_before(current["expectedEnd"], "expire", current, execution_arn)

    def attempt(record: dict) -> tuple[dict, str]:
        if record["status"] != "active":
            return record, f"already-{record['status']}"
        if record.get("overrunning"):
            return record, "overrunning"
        if record["autoEnd"]:
            message = "ended automatically after its duration"
            return _finish(record, by, action="auto-end", message=message), "auto-ended"
        return _flag_overrun(record, by), "overrunning"

    record, outcome = _with_fresh_record(maintenance_id, attempt)
    return {
        "maintenanceId": maintenance_id,
        "status": record["status"],
        "overrunning": bool(record.get("overrunning")),
        "outcome": outcome,
    }


# -- cancel --------------------------------------------------------------------------------------
def cancel(maintenance_id: str, by: Actor, *, message: str | None = None) -> dict:
    """Cancel a scheduled window and stop the execution waiting to start it."""

    def attempt(record: dict) -> dict:
        if record["status"] == "active":
            raise InvalidTransition(
                f"maintenance {maintenance_id} is active; end it with maintenance-end instead of cancelling"
            )
        if record["status"] != "scheduled":
            raise InvalidTransition(f"maintenance {maintenance_id} is already {record['status']}")
        at = iso(now())
        fields = {"status": "cancelled", "cancelledAt": at, "bypassSha256": None}
        entry = history_entry("cancel", "scheduled", "cancelled", at, by, message)
        _apply(record, store.Change("scheduled", record["version"], fields, history_entry=entry))
        audit_action("cancel", record, entry)
        return {**record, **fields}

    record = _with_fresh_record(check_id(maintenance_id), attempt)
    if record.get("executionArn") and by.source != STATE_MACHINE_SOURCE:
        _stop_execution(record["executionArn"], cause=f"maintenance {maintenance_id} was cancelled")
    return get(maintenance_id)


# -- listing -------------------------------------------------------------------------------------
def list_windows(*, status: str | None, limit: int, next_token: str | None) -> dict:
    """One page of windows, newest first, optionally only those in ``status``."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    start_key = (
        paging.decode_token(next_token, kind=store.KIND, pk_prefix=store.PK_PREFIX) if next_token else None
    )
    items, last_key = store.list_page(status=status, limit=limit, start_key=start_key)
    return {"items": items, "nextToken": paging.encode_token(last_key) if last_key else None}


# -- executions ----------------------------------------------------------------------------------
def _start_execution(maintenance_id: str, name: str) -> str:
    response = executions.start(
        state_machine_arn=settings().maintenance_state_machine_arn,
        name=name,
        execution_input={"maintenanceId": maintenance_id},
    )
    return response["executionArn"]


def _stop_execution(execution_arn: str, *, cause: str) -> None:
    """Best effort: an execution that cannot be stopped finds the record changed at its next
    step and ends without touching it."""
    try:
        executions.stop(execution_arn=execution_arn, cause=cause)
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "lifecycle execution not stopped", extra={"executionArn": execution_arn, "error": str(error)}
        )


def _hand_timing_to_new_execution(record: dict) -> None:
    """A window started by hand is timed from its real start: a fresh execution (named
    ``<id>-started``) waits for the expected end, and the one still waiting for the scheduled
    start is stopped. If the fresh one cannot start, the old one times it at the scheduled start."""
    maintenance_id = record["maintenanceId"]
    try:
        new_arn = _start_execution(maintenance_id, f"{maintenance_id}-started")
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "timer hand-over not started", extra={"maintenanceId": maintenance_id, "error": str(error)}
        )
        return
    store.set_execution_arn(maintenance_id, new_arn)
    if record.get("executionArn"):
        _stop_execution(record["executionArn"], cause=f"maintenance {maintenance_id} was started by hand")
