"""Chunks: one bounded chunk of one planned unit, from its stored cursor, under a lease.

Each checkpoint commits the unit's progress and its counts together, once
(``vacuum_progress.commit_progress``); the lease in the record's ``inFlight`` lets a cancelled or
failed run settle only once no chunk runs.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from g3n_ops import retry
from g3n_ops.contract.errors import VacuumNotAdmitted
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.contract.timestamps import parse_iso
from g3n_ops.domain import purge
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.mutex import renew_mutex
from g3n_ops.domain.vacuum.records import VacuumRecord, get, iso, utc_now
from g3n_ops.domain.vacuum.settle import CHUNK_LEASE_SECONDS
from g3n_ops.records.vacuum import UnitProgress
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_progress


@dataclass
class _UnitState:
    """What this chunk knows of its unit: the checkpoints committed, when the unit began, its counts."""

    seq: int
    started_at: str
    counts: dict[str, int | float]
    finished: bool = False


class _Superseded(Exception):
    """Another invocation committed this unit's checkpoint first (a retry overlapping a lost one)."""


def purge_chunk(
    vacuum_id: str,
    unit_id: str | None,
    execution_arn: str,
    turns_left: int,
    *,
    claimed: dict[str, Any] | None = None,
) -> dict:
    """One bounded chunk of one planned unit, from the unit's STORED cursor; each checkpoint commits
    progress and counts together, once (see ``vacuum_progress.commit_progress``). ``claimed``: what the event
    said besides the unit id (a unit, a dryRun flag); it must agree with the record."""
    record = store.get_run(vacuum_id, str(unit_id)) or get(vacuum_id)
    if record.execution_arn != execution_arn:
        raise plans.violation(record, str(unit_id), "the event does not come from the run's execution")
    unit = plans.planned_unit(record, str(unit_id))
    claimed = claimed or {}
    if "dryRun" in claimed and bool(claimed["dryRun"]) != bool(record.dry_run):
        raise plans.violation(record, str(unit_id), "the event's dryRun contradicts the run's")
    if "unit" in claimed and claimed["unit"] != unit.dump():
        raise plans.violation(record, str(unit_id), "the event's unit is not the planned one")
    if record.status != VacuumStatus.RUNNING:
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {record.status}, no longer running; stopping")
    renew_mutex(vacuum_id)
    progress = (record.progress or {}).get(str(unit_id))
    if progress is None:
        raise plans.violation(record, str(unit_id), "the unit has no stored progress")
    answer = {"vacuumId": vacuum_id, "unitId": unit_id, "turnsLeft": max(0, turns_left - 1)}
    if progress.done:
        return answer | {"done": True, "more": False}
    # The unit's own counts and first start travel with its progress (one write a checkpoint).
    unit_state = _UnitState(
        seq=int(progress.seq),
        started_at=progress.started_at or iso(utc_now()),
        counts=dict(progress.counts or {}),
    )

    def checkpoint(delta: purge.Counts, cursor: purge.Cursor, done: bool) -> None:
        counts = delta.as_dict() | ({"unitsDone": 1} if done else {})
        unit_counts = dict(unit_state.counts)
        for name, value in delta.as_dict().items():
            unit_counts[name] = int(unit_counts.get(name, 0)) + int(value)
        committed, status = retry.call(
            vacuum_progress.commit_progress,
            vacuum_id,
            unit_id,
            unit.service,
            seq=unit_state.seq,
            progress=UnitProgress(
                started_at=unit_state.started_at,
                counts=unit_counts,
                seq=unit_state.seq + 1,
                cursor=None if cursor is None else json.dumps(cursor),
                done=done,
            ),
            counts=counts,
            doing="record a vacuum checkpoint",
        )
        if not committed:
            raise _Superseded()
        unit_state.seq += 1
        unit_state.counts = unit_counts
        unit_state.finished = done
        if status != VacuumStatus.RUNNING:
            raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {status}, no longer running; stopping")

    cursor = json.loads(progress.cursor) if progress.cursor else None
    token = secrets.token_hex(8)
    lease_ends = int(time.time()) + CHUNK_LEASE_SECONDS
    if not vacuum_progress.enter_chunk(vacuum_id, token, execution_arn=execution_arn, expires_at=lease_ends):
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is no longer running; stopping")
    try:
        result = purge.run_chunk(
            unit,
            cursor,
            dry_run=bool(record.dry_run),
            limits=purge.Limits.from_environment(),
            checkpoint=checkpoint,
        )
    except _Superseded:
        return answer | {"done": False, "more": turns_left > 1}  # go on from what is stored
    finally:
        if unit_state.finished:
            _unit_done(record, str(unit_id), unit, unit_state)
        retry.call(vacuum_progress.leave_chunk, vacuum_id, token, doing="record that a vacuum chunk ended")
    return answer | {"done": result.done, "more": not result.done and turns_left > 1}


def _unit_done(record: VacuumRecord, unit_id: str, unit: purge.WorkUnit, state: _UnitState) -> None:
    """One trail entry per unit, from the chunk whose checkpoint finished it (written once)."""
    started = parse_iso(state.started_at)
    elapsed = round((utc_now() - started).total_seconds(), 3)
    audit(
        record,
        "unit-done",
        once_per=unit_id,
        unitId=unit_id,
        service=unit.service,
        unit=purge.describe(unit),
        counts=state.counts,
        startedAt=state.started_at,
        elapsedSeconds=elapsed,
    )
