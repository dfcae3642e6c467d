"""The end of a run that purged everything: verify that nothing is left, then finalise.

Neither step may come before its time: both refuse before every planned unit is purged, and a
real run's ``finalise`` before every unit is verified.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

from g3n_ops.contract.errors import VacuumIncomplete, VacuumNotAdmitted
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.contract.timestamps import parse_iso
from g3n_ops.domain import purge, step_caller
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.domain.vacuum import rounds
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.continuation import history_length
from g3n_ops.domain.vacuum.maintenance_bracket import close_window
from g3n_ops.domain.vacuum.mutex import renew_mutex
from g3n_ops.domain.vacuum.records import VacuumRecord, get, iso, running, step_claim, utc_now
from g3n_ops.observability import metrics
from g3n_ops.records.vacuum import VerifyProgress
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_mutex


def _done(progress: dict, name: str) -> bool:
    entry = progress.get(name)
    return bool(entry and entry.done)


def _refuse_unless_done(record: VacuumRecord, step: str, execution_arn: str) -> None:
    """``verify`` and ``finalise`` come after every planned unit is purged (and ``finalise`` of a
    real run after every unit is verified); sent earlier, they would end a run half-way."""
    claimed = step_claim(step, record.vacuum_id, execution_arn)
    progress = record.progress or {}
    if not all(_done(progress, entry.id) for entry in plans.stored_units(record)):
        step_caller.refuse("vacuum", "units of the run are not purged yet", claimed)
    if step == "finalise" and not record.dry_run:
        checked = record.verify_progress or {}
        if not all(_done(checked, name) for name in _verify_units(record)):
            step_caller.refuse("vacuum", "the run is not verified yet", claimed)


def verify(vacuum_id: str, execution_arn: str) -> dict:
    """What the run was meant to delete must be gone. One verify chunk: each unit not yet checked
    to its end is read on from its stored verify cursor for at most one chunk (a page that shows
    leftovers is re-read after growing pauses before it is believed: eventual consistency). The
    cursors are stored, so the next chunk, a retry or a later execution goes on from there.
    Answers ``next``: ``verify`` (more to check), ``continue`` (this execution's history is near
    its budget) or ``finalise``; anything left fails the run."""
    record = running(vacuum_id, execution_arn)
    _refuse_unless_done(record, "verify", execution_arn)
    renew_mutex(vacuum_id)
    started_ms = int(parse_iso(str(record.started_at)).timestamp() * 1000)
    checked = dict(record.verify_progress or {})
    planned = _verify_units(record)
    units = {name: unit for name, unit in planned.items() if not _done(checked, name)}
    limits = purge.Limits.from_environment()

    def check(name: str) -> purge.VerifyResult:
        cursor = checked[name].cursor if name in checked else None
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
        checked[name] = VerifyProgress(done=result.done, cursor=cursor)
    stored = store.apply(vacuum_id, "record-verified", caller=execution_arn, verify_progress=checked)
    if stored is None:
        running(vacuum_id, execution_arn)  # raises: cancelled (or taken over) meanwhile
    for name, result in results.items():
        if result.done:
            audit(stored or record, "unit-verified", once_per=_verify_key(name), unit=name, left=0)
    answer = {"vacuumId": vacuum_id, "dryRun": False, "checked": len(results)}
    if all(_done(checked, name) for name in planned):
        audit(stored or record, "verified", units=len(planned), left=0)
        return answer | {"verified": True, "next": "finalise"}
    fits = rounds.verify_turn_fits(history_length(execution_arn), budget=rounds.history_budget())
    return answer | {"verified": False, "next": "verify" if fits else "continue"}


def _verify_key(name: str) -> str:
    """A verify unit's name as part of an audit key (names hold ``/`` and ``:``)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _verify_units(record: VacuumRecord) -> dict[str, purge.WorkUnit]:
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
    if current.status == VacuumStatus.RUNNING:
        _refuse_unless_done(current, "finalise", execution_arn)
    record = store.apply(vacuum_id, "complete", caller=execution_arn, finished_at=iso(utc_now()))
    if record is None:
        record = get(vacuum_id)
        # A retry after a lost result (the Lambda finished, its answer did not arrive): the record
        # is this execution's and completed already, so finish the same way again (both the
        # release and the audit entry are idempotent).
        if not (record.status == VacuumStatus.COMPLETED and record.execution_arn == execution_arn):
            raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {record.status}; cannot complete it")
    vacuum_mutex.release_mutex(vacuum_id)
    run_totals = record.totals
    audit(record, "completed", totals=run_totals)
    close_window(record, "completed")
    metrics.add_metric(name=Metric.VACUUM_COMPLETED, unit="Count", value=1)
    return {"vacuumId": vacuum_id, "status": "completed", "totals": run_totals}
