"""What the public status page shows: the active window, windows scheduled within a week, the last
ended ones. It is built field by field from the records, so nothing an operator did not write for
the public (actors, sources, history, execution ARNs, anything about vacuums, whether there is
an operator bypass) can leak into it. A window's scope is public: the services it affects (codes)
and whether it is read-only (the methods that still answer).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from g3n_ops.api_models import (
    PublicActiveWindow,
    PublicEffect,
    PublicEndedWindow,
    PublicScheduledWindow,
    PublicStatus,
    PublicUpdate,
)
from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.contract.timestamps import iso_seconds, parse_iso
from g3n_ops.records.maintenance import MaintenanceRecord
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as store
from g3n_ops.store import maintenance_state

SCHEDULED_HORIZON = timedelta(days=7)
# A window starting this soon makes the page reload itself, so it shows the start as it happens.
IMMINENT = timedelta(minutes=15)
RECENTLY_ENDED = 10
# Ended windows come off the index newest-created first; reading a few more than shown lets the
# page order them by when they ended.
ENDED_READ = 2 * RECENTLY_ENDED
PAGE_LIMIT = 100
MAX_SCHEDULED_PAGES = 5  # bounds the page's latency; 500 scheduled windows is far beyond real use


def _effect(record: MaintenanceRecord) -> PublicEffect | None:
    """The effect probe's findings, when the record has them (service codes and times only)."""
    effective = record.effective_at
    effect = PublicEffect(
        effectiveAt={str(k): str(v) for k, v in effective.items()} if effective is not None else None,
        allBlockedAt=record.all_blocked_at,
        notEffective=_codes(record.not_effective),
        othersUnaffected=record.others_unaffected,
        collateral=_codes(record.collateral),
    )
    return effect if effect.model_dump(exclude_none=True) else None


def _codes(value: list[str] | None) -> list[str] | None:
    return [str(code) for code in value] if isinstance(value, list) else None


def _scope(record: MaintenanceRecord) -> dict:
    """The public fields of a window's scope: affected services and read-only methods."""
    methods = _codes(record.allow_methods)
    return {
        "services": _codes(record.services),
        "mode": "read-only" if methods else "full",
        "allowMethods": methods or None,
    }


def _active(record: MaintenanceRecord) -> PublicActiveWindow:
    updates = sorted(record.updates, key=lambda update: update.at, reverse=True)
    return PublicActiveWindow(
        maintenanceId=record.maintenance_id,
        description=record.description,
        startedAt=record.started_at,
        expectedEnd=record.expected_end,
        overrunning=bool(record.overrunning),
        updates=[PublicUpdate(text=update.text, at=update.at) for update in updates],
        effect=_effect(record),
        **_scope(record),
    )


def _scheduled_records() -> list[MaintenanceRecord]:
    found: list[MaintenanceRecord] = []
    key = None
    for _ in range(MAX_SCHEDULED_PAGES):
        items, key = store.list_page(status="scheduled", limit=PAGE_LIMIT, start_key=key)
        found += items
        if not key:
            break
    return found


def _scheduled(record: MaintenanceRecord) -> PublicScheduledWindow:
    end = parse_iso(record.start) + timedelta(seconds=record.duration)
    return PublicScheduledWindow(
        maintenanceId=record.maintenance_id,
        description=record.description,
        start=record.start,
        duration=record.duration,
        expectedEnd=iso_seconds(end),
        **_scope(record),
    )


def _ended(record: MaintenanceRecord) -> PublicEndedWindow:
    return PublicEndedWindow(
        maintenanceId=record.maintenance_id,
        description=record.description,
        startedAt=record.started_at,
        endedAt=record.ended_at,
        endMessage=record.end_message,
    )


def public_status(moment: datetime | None = None) -> PublicStatus:
    moment = moment or datetime.now(UTC)
    state = maintenance_state.read()
    record = store.get(state["maintenanceId"]) if state.get("active") else None
    active = _active(record) if record and record.status == MaintenanceStatus.ACTIVE else None

    upcoming = sorted(
        (r for r in _scheduled_records() if parse_iso(r.start) <= moment + SCHEDULED_HORIZON),
        key=lambda r: r.start,
    )
    ended, _ = store.list_page(status="ended", limit=ENDED_READ, start_key=None)
    ended.sort(key=lambda r: r.ended_at or "", reverse=True)

    imminent = any(parse_iso(r.start) <= moment + IMMINENT for r in upcoming)
    return PublicStatus(
        generatedAt=iso_seconds(moment),
        active=active,
        scheduled=[_scheduled(r) for r in upcoming],
        recentlyEnded=[_ended(r) for r in ended[:RECENTLY_ENDED]],
        refreshSeconds=settings().status_refresh_seconds if active or imminent else None,
    )
