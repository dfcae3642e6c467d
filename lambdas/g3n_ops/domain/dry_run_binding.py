"""A real vacuum is bound to the dry-run it was reviewed from.

A real vacuum-all / vacuum-org needs a *completed* dry-run of the same scope (and, for vacuum-org,
the same orgcode). The request names it (``dryRunId``); without a name, the newest matching
dry-run created within ``settings().dry_run_max_age_seconds`` (24 h by default) is used, which
is exactly what the playbooks' "dry-run, then run" does. Otherwise the request is refused with
``dry-run-required`` before anything is written or locked.

The real run's record then carries ``dryRunId`` and ``dryRunStats`` (the dry-run's per-service
counts and totals), so vacuum-status shows what was counted beside what was deleted.

A dry-run backs exactly one real run, recently, for the same plan (``dry-run-stale`` otherwise):

- a named dry-run older than the maximum age is refused, as is one that backed a run already
  (the newest matching dry-run, when none is named, likewise: the operator dry-runs again);
- when the real run leaves its pending window (its ``start`` step), the dry-run is claimed for it
  with a conditional write, so two runs racing for one dry-run cannot both start; a run cancelled
  while pending never reached that point and leaves its dry-run free;
- at that moment the real run's plan must touch exactly what the dry-run's did
  (``plan.touched_digest``: the same resources and lookups, whatever the scan segments); if the
  registry changed in between, the run is refused before it deletes anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from g3n_ops.contract.errors import DryRunRequired, DryRunStale
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.records.vacuum import BoundPlan, VacuumRecord, VacuumStats
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as store

COUNTED = ("items", "objects", "bytes", "logStreams", "logBytes")
PAGE = 50


def _describe(scope: str, orgcode: str | None) -> str:
    return "vacuum-all" if scope == "all" else f"vacuum-org {orgcode}"


def _matches(record: VacuumRecord, scope: str, orgcode: str | None) -> bool:
    return (
        record.dry_run is True
        and record.status == VacuumStatus.COMPLETED
        and record.scope == scope
        and (scope == "all" or record.orgcode == orgcode)
    )


def named(dry_run_id: str, scope: str, orgcode: str | None) -> VacuumRecord:
    record = store.get_record(dry_run_id)
    what = _describe(scope, orgcode)
    if record is None or record.dry_run is not True:
        raise DryRunRequired(f"{dry_run_id} is not a dry-run; run {what} --dry-run first and name its id")
    if not _matches(record, scope, orgcode):
        was = _describe(record.scope or "?", record.orgcode)
        raise DryRunRequired(
            f"dry-run {dry_run_id} is a {record.status} {was} dry-run; a real {what} needs a "
            f"completed dry-run of {what}"
        )
    if (record.created_at or "") < _cutoff(None):
        hours = settings().dry_run_max_age_seconds / 3600
        raise DryRunStale(
            f"dry-run {dry_run_id} is older than {hours:g} h; run {what} --dry-run again and review "
            "its counts"
        )
    return _unused(record, what)


def _unused(record: VacuumRecord, what: str) -> VacuumRecord:
    if record.consumed_by:
        raise DryRunStale(
            f"dry-run {record.vacuum_id} already backed run {record.consumed_by}; each dry-run backs "
            f"one real run: run {what} --dry-run again and review its counts"
        )
    return record


def _cutoff(now: datetime | None) -> str:
    max_age = settings().dry_run_max_age_seconds
    return iso((now or utc_now()) - timedelta(seconds=max_age))


def newest(scope: str, orgcode: str | None, *, now: datetime | None = None) -> VacuumRecord:
    """The newest completed matching dry-run created within the maximum age."""
    max_age = settings().dry_run_max_age_seconds
    cutoff = _cutoff(now)
    start_key = None
    while True:
        records, start_key = store.records_page(limit=PAGE, start_key=start_key)
        for record in records:
            if (record.created_at or "") < cutoff:  # newest first: everything after is older still
                start_key = None
                break
            if _matches(record, scope, orgcode):
                return _unused(record, _describe(scope, orgcode))
        if not start_key:
            hours = max_age / 3600
            what = _describe(scope, orgcode)
            raise DryRunRequired(
                f"a real {what} needs a completed dry-run of {what} from the last {hours:g} h; run it with "
                "--dry-run, review the counts, then run it again without --dry-run (or name one with "
                "--dry-run-id)"
            )


def bind(record: VacuumRecord, *, dry_run_id: str | None) -> None:
    """A real run's record gets its dry-run's id and counts (``dryRunId``, ``dryRunStats``); a
    dry-run itself gets nothing."""
    if record.dry_run:
        return
    scope, orgcode = record.scope or "", record.orgcode
    found = named(dry_run_id, scope, orgcode) if dry_run_id else newest(scope, orgcode)
    stats = found.stats or VacuumStats()
    record.dry_run_id = found.vacuum_id
    record.dry_run_stats = VacuumStats(
        services={
            code: {name: entry[name] for name in COUNTED if name in entry}
            for code, entry in stats.services.items()
        },
        totals={name: value for name, value in stats.totals.items() if name in COUNTED},
    )


def consume(record: VacuumRecord, bound: BoundPlan, *, at: str) -> None:
    """A real run leaves its pending window: its dry-run must have counted the same plan, and it
    becomes this run's (a retried start claims it again). Raises ``dry-run-stale`` otherwise."""
    dry_run_id = record.dry_run_id
    if not dry_run_id:
        raise DryRunRequired(f"vacuum {record.vacuum_id} is a real run bound to no dry-run")
    dry = store.get_record(dry_run_id)
    counted = plans.stored_plan(dry) if dry else None
    if counted is None or plans.touched_digest(counted.units) != plans.touched_digest(bound.units):
        raise DryRunStale(
            f"the plan changed since dry-run {dry_run_id} counted it (the registry's tables, buckets or "
            "log groups differ); nothing was deleted: run the dry-run again and review its counts"
        )
    if not store.claim_dry_run(dry_run_id, record.vacuum_id, at=at):
        taken = store.get_record(dry_run_id)
        taken_by = taken.consumed_by if taken and "consumed_by" in taken.model_fields_set else "another run"
        raise DryRunStale(
            f"dry-run {dry_run_id} already backed run {taken_by}; each dry-run backs one real run: "
            "nothing was deleted; run the dry-run again and review its counts"
        )


def release(record: VacuumRecord) -> None:
    """The run did not leave its pending window after all (cancel won): its dry-run is free again."""
    if record.dry_run_id:
        store.release_dry_run(record.dry_run_id, record.vacuum_id)
