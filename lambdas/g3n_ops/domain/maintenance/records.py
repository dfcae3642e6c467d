"""The window record: its history entries, the guard's state for it, audit lines, and writes
conditional on the record as read (a lost race reads again and decides again)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from g3n_ops.contract.errors import (
    InvalidInput,
    InvalidTransition,
    MaintenanceNotFound,
)
from g3n_ops.contract.metrics import maintenance_action
from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.contract.timestamps import iso, iso_seconds
from g3n_ops.domain import audit, paging
from g3n_ops.domain.maintenance.rules import (
    RACE_ATTEMPTS,
    STATUSES,
    Actor,
    Raced,
    T,
    bypass_sha256,
    check_description,
    check_duration,
    check_id,
    check_methods,
    check_services,
    new_id,
    now,
    parse_start,
)
from g3n_ops.observability import metrics
from g3n_ops.records.maintenance import (
    WRITTEN_UNDER,
    HistoryEntry,
    MaintenanceRecord,
    StateRule,
    UpdateEntry,
)
from g3n_ops.store import maintenance as store
from g3n_ops.store import maintenance_state


# -- records -------------------------------------------------------------------------------------
def history_entry(
    action: str,
    from_status: MaintenanceStatus | None,
    to_status: MaintenanceStatus,
    at: str,
    by: Actor,
    message: str | None,
) -> HistoryEntry:
    return HistoryEntry(
        action=action,
        from_status=from_status,
        to=to_status,
        at=at,
        source=by.source,
        actor=by.actor,
        message=message,
    )


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
    execution_arn: str | None = None,
) -> MaintenanceRecord:
    """A scheduled window. Every field it will ever show is set (most to null until they happen)."""
    created = iso(moment)
    return MaintenanceRecord(
        maintenance_id=new_id(moment),
        status=MaintenanceStatus.SCHEDULED,
        description=description,
        start=iso_seconds(start),
        duration=duration,
        auto_end=auto_end,
        services=services,  # None: every API service
        allow_methods=allow_methods,  # None: every method answers 503
        bypass=bypass_token is not None,
        bypass_sha256=bypass_sha256(bypass_token) if bypass_token else None,
        overrunning=False,
        created_at=created,
        source=by.source,
        actor=by.actor,
        execution_arn=execution_arn,
        started_at=None,
        expected_end=None,
        ended_at=None,
        cancelled_at=None,
        end_message=None,
        latest_update=None,
        # What the probes prove after the start and after the end (domain.maintenance_effect).
        effective_at=None,
        all_blocked_at=None,
        not_effective=None,
        recovered_at=None,
        all_recovered_at=None,
        not_recovered=None,
        updates=[],
        history=[history_entry("schedule", None, MaintenanceStatus.SCHEDULED, created, by, None)],
        version=1,
    )


def create_window(
    description: str,
    duration: int,
    start: str | None,
    auto_end: bool,
    by: Actor,
    services: list[str] | str | None,
    allow_methods: list[str] | str | None,
    *,
    bypass_token: str | None = None,
    execution_arn: str | None = None,
) -> MaintenanceRecord:
    """Check the request, write the scheduled window and audit it (no start: now)."""
    moment = now()
    record = new_record(
        description=check_description(description),
        duration=check_duration(duration),
        start=moment if start is None else parse_start(start, moment),
        auto_end=auto_end,
        by=by,
        moment=moment,
        services=check_services(services),
        allow_methods=check_methods(allow_methods),
        bypass_token=bypass_token,
        execution_arn=execution_arn,
    )
    store.create(record)
    audit_action("schedule", record, record.history[0])
    return record


def active_state(record: MaintenanceRecord) -> dict:
    """What the guard and ping see while ``record`` is the active window."""
    return {
        "active": True,
        "maintenanceId": record.maintenance_id,
        "description": record.description,
        "latestUpdate": record.latest_update.document() if record.latest_update else None,
        "startedAt": record.started_at,
        "expectedEnd": record.expected_end,
        "overrunning": bool(record.overrunning),
        "services": record.services,
        "allowMethods": record.allow_methods,
        "bypassSha256": record.bypass_sha256,
    }


def audit_action(action: str, record: MaintenanceRecord, entry: HistoryEntry | UpdateEntry) -> None:
    """One audit line (and a count) for ``entry``; a posted update goes from active to active."""
    if isinstance(entry, UpdateEntry):
        moved, message = (MaintenanceStatus.ACTIVE, MaintenanceStatus.ACTIVE), entry.text
    else:
        moved, message = (entry.from_status, entry.to), entry.message or None
    audit.write(
        {
            "action": action,
            "maintenanceId": record.maintenance_id,
            "description": record.description,
            "from": moved[0].value if moved[0] else None,  # plain strings, as the line always had
            "to": moved[1].value,
            "at": entry.at,
            "source": entry.source,
            "actor": entry.actor,
            "message": message,
        }
    )
    metrics.add_metric(name=maintenance_action(action), unit="Count", value=1)


def get(maintenance_id: str) -> MaintenanceRecord:
    record = store.get(check_id(maintenance_id))
    if record is None:
        raise MaintenanceNotFound(f"no maintenance window {maintenance_id}")
    return record


def with_fresh_record(maintenance_id: str, attempt: Callable[[MaintenanceRecord], T]) -> T:
    """Run ``attempt`` on the current record; if another writer got in first, read and decide again."""
    for _ in range(RACE_ATTEMPTS):
        try:
            return attempt(get(maintenance_id))
        except Raced:
            continue
    raise InvalidTransition(
        f"maintenance {maintenance_id} kept changing while we tried; look at it and retry"
    )


def apply_change(record: MaintenanceRecord, change: store.Change, state: dict | None = None) -> None:
    """Write ``change`` under the record as read (and ``state``, the guard's, with it). A failed
    condition is a race (re-read and retry), except when a start finds another window active:
    that ``StateConditionFailed`` is the caller's to answer."""
    try:
        store.apply(record, change, state)
    except store.RecordConditionFailed:
        raise Raced() from None
    except store.StateConditionFailed:
        if WRITTEN_UNDER[change.transition].state == StateRule.OWNED:  # the window stopped being ours
            raise Raced() from None
        raise


# -- reads ---------------------------------------------------------------------------------------
def active_window_id() -> str | None:
    """The id of the window active now, or None."""
    return maintenance_state.active_id()


def active_record() -> MaintenanceRecord:
    active_id = maintenance_state.active_id()
    if not active_id:
        raise InvalidTransition("no maintenance window is active")
    return get(active_id)


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
