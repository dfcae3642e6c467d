"""Run history: the list of vacuum runs (newest first, a page at a time), one run's trail (a
page at a time, oldest first) and its slowest units (from the trail's ``unit-done`` entries).

The trail is the run's audit entries in time order, each shown with what is its own (the action,
when, the status then, and the action's details: counts, reasons, errors); what every entry
repeats about the run (scope, orgcode, reason, …) is said once, on the run. Actions are rendered
generically, so a new kind of entry shows up without a change here.
"""

from __future__ import annotations

from g3n_ops.contract.errors import InvalidInput
from g3n_ops.contract.statuses import VACUUM_STATUSES
from g3n_ops.domain import paging, vacuum
from g3n_ops.records.vacuum import VacuumRecord
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_audit, vacuum_mutex

STATUSES = VACUUM_STATUSES
# Terminal: the run's numbers are final from the first read that shows one of these (cancelling
# and failing are not: chunks in flight still add their counts).
ENDED = ("completed", "cancelled", "failed")
EVENTS_PAGE = 100  # vacuum-events' default page (at most 500)
SLOWEST_UNITS = 5
# Written on every entry (the run's context) or only for storage: not part of an event.
RUN_CONTEXT = ("vacuumId", "scope", "orgcode", "dryRun", "reason", "source", "actor", "executionArn")
STORAGE = ("pk", "kind", "sortKey")
# One line of the list: enough to pick a run, then vacuum-status / vacuum-events on it.
SUMMARY_FIELDS = (
    "vacuumId", "status", "scope", "orgcode", "dryRun", "dryRunId", "reason", "source",
    "createdAt", "startedAt", "finishedAt",
)  # fmt: skip


def summary(record: VacuumRecord) -> dict:
    stored = record.document()
    line = {field: stored.get(field) for field in SUMMARY_FIELDS}
    line |= {"totals": (record.stats.totals if record.stats else None) or {}}
    if record.error:
        line |= {"error": stored.get("error")}
    return line


def list_runs(*, status: str | None, limit: int, next_token: str | None) -> dict:
    """One page of runs, newest first; ``nextToken`` continues (absent on the last page)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    start_key = (
        paging.decode_token(
            next_token, kind=store.KIND, pk_prefix=store.RECORD_PREFIX, excluded=(vacuum_mutex.MUTEX_PK,)
        )
        if next_token
        else None
    )
    records, last_key = store.records_page(limit=limit, start_key=start_key, status=status)
    return {
        "items": [summary(record) for record in records],
        "nextToken": paging.encode_token(last_key) if last_key else None,
    }


def event(entry: dict) -> dict:
    own = {key: value for key, value in entry.items() if key not in (*RUN_CONTEXT, *STORAGE)}
    return {"at": own.pop("at", None), "action": own.pop("action", None), **own}


def _events_start_key(vacuum_id: str, next_token: str) -> dict:
    """The token's key, only if it is inside this run's trail (its own kind, or the shared kind
    of entries written before runs had one)."""
    prefix = vacuum_audit.audit_pk_prefix(vacuum_id)
    try:
        return paging.decode_token(next_token, kind=vacuum_audit.audit_kind(vacuum_id), pk_prefix=prefix)
    except InvalidInput:
        return paging.decode_token(next_token, kind=vacuum_audit.AUDIT_KIND, pk_prefix=prefix)


def events(vacuum_id: str, *, limit: int = EVENTS_PAGE, next_token: str | None = None) -> dict:
    """The run (as vacuum-list shows it) and one page of its trail, oldest first; ``nextToken``
    continues (null on the last page)."""
    record = vacuum.get(vacuum_id)
    start_key = _events_start_key(vacuum_id, next_token) if next_token else None
    entries, last_key = vacuum_audit.audit_page(vacuum_id, limit=limit, start_key=start_key)
    return {
        **summary(record),
        "events": [event(entry) for entry in entries],
        "nextToken": paging.encode_token(last_key) if last_key else None,
    }


def slowest_units(vacuum_id: str, *, top: int = SLOWEST_UNITS) -> list[dict]:
    """The ``top`` units that took longest, from the run's ``unit-done`` entries (one per unit):
    ``{unitId, service, unit, elapsedSeconds, counts, startedAt}``, slowest first."""
    by_unit: dict[str, dict] = {}
    for entry in vacuum_audit.unit_timings(vacuum_id):
        if entry.get("elapsedSeconds") is None:
            continue
        by_unit[str(entry.get("unitId"))] = entry  # written once per unit; a retry would repeat it
    ranked = sorted(
        by_unit.values(), key=lambda entry: (-float(entry["elapsedSeconds"]), str(entry["unitId"]))
    )
    return [
        {
            "unitId": entry.get("unitId"),
            "service": entry.get("service"),
            "unit": entry.get("unit"),
            "elapsedSeconds": entry["elapsedSeconds"],
            "counts": entry.get("counts") or {},
            "startedAt": entry.get("startedAt"),
        }
        for entry in ranked[:top]
    ]


def status(vacuum_id: str, *, with_slowest_units: bool = False) -> dict:
    """vacuum-status: the record, and ``slowestUnits`` once the run has ended (its numbers are
    final then, so the trail is read once per run a watcher follows) or when asked for."""
    record = vacuum.status(vacuum_id)
    if with_slowest_units or record["status"] in ENDED:
        record["slowestUnits"] = slowest_units(vacuum_id)
    return record
