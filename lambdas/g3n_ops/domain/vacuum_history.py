"""Run history: the list of vacuum runs (newest first, a page at a time) and one run's trail.

The trail is the run's audit entries in time order, each shown with what is its own (the action,
when, the status then, and the action's details: counts, reasons, errors); what every entry
repeats about the run (scope, orgcode, reason, …) is said once, on the run. Actions are rendered
generically, so a new kind of entry shows up without a change here.
"""

from __future__ import annotations

from g3n_ops.domain import paging, vacuum
from g3n_ops.errors import InvalidInput
from g3n_ops.store import vacuum as store

STATUSES = ("pending", "running", "cancelling", "failing", "completed", "cancelled", "failed")
# Written on every entry (the run's context) or only for storage: not part of an event.
RUN_CONTEXT = ("vacuumId", "scope", "orgcode", "dryRun", "reason", "source", "actor", "executionArn")
STORAGE = ("pk", "kind", "sortKey")
# One line of the list: enough to pick a run, then vacuum-status / vacuum-events on it.
SUMMARY_FIELDS = (
    "vacuumId", "status", "scope", "orgcode", "dryRun", "dryRunId", "reason", "source",
    "createdAt", "startedAt", "finishedAt",
)  # fmt: skip


def summary(record: dict) -> dict:
    line = {field: record.get(field) for field in SUMMARY_FIELDS}
    line["totals"] = (record.get("stats") or {}).get("totals") or {}
    if record.get("error"):
        line["error"] = record["error"]
    return line


def list_runs(*, status: str | None, limit: int, next_token: str | None) -> dict:
    """One page of runs, newest first; ``nextToken`` continues (absent on the last page)."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    start_key = (
        paging.decode_token(
            next_token, kind=store.KIND, pk_prefix=store.RECORD_PREFIX, excluded=(store.MUTEX_PK,)
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


def events(vacuum_id: str) -> dict:
    """The run (as vacuum-list shows it) and its trail, oldest first."""
    record = vacuum.get(vacuum_id)
    return {**summary(record), "events": [event(entry) for entry in store.audit_entries(vacuum_id)]}
