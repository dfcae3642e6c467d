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
from g3n_ops.contract.timestamps import iso, iso_seconds
from g3n_ops.domain import audit, paging
from g3n_ops.domain.maintenance.rules import (
    RACE_ATTEMPTS,
    STATUSES,
    Actor,
    Raced,
    T,
    bypass_sha256,
    check_id,
    new_id,
)
from g3n_ops.observability import metrics
from g3n_ops.store import maintenance as store
from g3n_ops.store import maintenance_state


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


def with_fresh_record(maintenance_id: str, attempt: Callable[[dict], T]) -> T:
    """Run ``attempt`` on the current record; if another writer got in first, read and decide again."""
    for _ in range(RACE_ATTEMPTS):
        try:
            return attempt(get(maintenance_id))
        except Raced:
            continue
    raise InvalidTransition(
        f"maintenance {maintenance_id} kept changing while we tried; look at it and retry"
    )


def apply_change(record: dict, change: store.Change, state: store.StateChange | None = None) -> None:
    """A failed condition is a race (re-read and retry), except when a start finds another window
    active: that ``StateConditionFailed`` is the caller's to answer."""
    try:
        store.apply(record["maintenanceId"], change, state)
    except store.RecordConditionFailed:
        raise Raced() from None
    except store.StateConditionFailed:
        if state is not None and state.require == "owned":  # the window stopped being ours
            raise Raced() from None
        raise


# -- reads ---------------------------------------------------------------------------------------
def active_window_id() -> str | None:
    """The id of the window active now, or None."""
    return maintenance_state.active_id()


def active_record() -> dict:
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
