"""The vacuum record: ids, times, what the CLI contract shows of it, reading it, and whether it
runs as a given execution's run (what a step may act on)."""

from __future__ import annotations

import secrets
from datetime import datetime

from g3n_ops.contract.errors import VacuumNotAdmitted, VacuumNotFound
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.records.vacuum import Scope, VacuumError, VacuumRecord, VacuumStats
from g3n_ops.store import vacuum as store

__all__ = ["Scope", "VacuumError", "VacuumRecord", "iso", "utc_now"]

# Kept on the record for the steps, not shown: the bound plan and each unit's progress.
INTERNAL_FIELDS = ("pk", "kind", "sortKey", "plan", "progress", "continuation", "inFlight")
# The record document's fields in reading order. startedAt, finishedAt and executionArn are written
# when they happen (absent until then, so conditions can test for them) and shown as null before.
FIELD_ORDER = (
    "vacuumId", "status", "scope", "orgcode", "dryRun", "reason", "source", "actor",
    "createdAt", "startedAt", "finishedAt", "executionArn", "error", "stats",
)  # fmt: skip
ALWAYS_SHOWN = ("startedAt", "finishedAt", "executionArn")


def new_vacuum_id(moment: datetime) -> str:
    """Readable, time-ordered, and a valid execution name once prefixed with ``vacuum-``."""
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def public(record: VacuumRecord) -> dict:
    """The record as the CLI contract shows it."""
    stored = record.document()
    document = {field: stored.get(field) for field in FIELD_ORDER if field in stored or field in ALWAYS_SHOWN}
    hidden = (*document, *INTERNAL_FIELDS)
    shown = document | {key: value for key, value in stored.items() if key not in hidden}
    if record.in_flight:  # what a cancelling or failing run still waits for
        shown |= {"chunksInFlight": len(record.in_flight)}
    return shown


def new_record(
    *, vacuum_id: str, scope: Scope, orgcode: str | None, dry_run: bool, reason: str, source: str, actor
) -> VacuumRecord:
    return VacuumRecord(
        vacuum_id=vacuum_id,
        status=VacuumStatus.PENDING,
        scope=scope,
        orgcode=orgcode,
        dry_run=dry_run,
        reason=reason,
        source=source,
        actor=actor,
        created_at=iso(utc_now()),
        stats=VacuumStats(services={}, totals={}),
    )


def get(vacuum_id: str) -> VacuumRecord:
    record = store.get_record(vacuum_id)
    if record is None:
        raise VacuumNotFound(f"no vacuum with id {vacuum_id}")
    return record


def runs_in(record: VacuumRecord, execution_arn: str) -> bool:
    return record.status == VacuumStatus.RUNNING and record.execution_arn == execution_arn


def running(vacuum_id: str, execution_arn: str) -> VacuumRecord:
    """The record, if it is running as this execution's run (else the run stops here)."""
    record = get(vacuum_id)
    if not runs_in(record, execution_arn):
        raise VacuumNotAdmitted(
            f"vacuum {vacuum_id} is {record.status}"
            + ("" if record.execution_arn == execution_arn else " in another execution")
            + ", not running in this one; stopping"
        )
    return record


def step_claim(step: str, vacuum_id: str, execution_arn: str) -> dict:
    """What a step event claimed, for the trail of a step refused before its time."""
    return {"step": step, "vacuumId": vacuum_id, "executionArn": execution_arn}


def execution_name(vacuum_id: str, *, attempt: int = 1, continuation: int = 0) -> str:
    """``vacuum-<id>``; a resumed attempt adds ``-r<attempt>``, a continuation ``-c<n>``."""
    name = f"vacuum-{vacuum_id}"
    if attempt > 1:
        name += f"-r{attempt}"
    if continuation:
        name += f"-c{continuation}"
    return name


def execution_arn(state_machine_arn: str, name: str) -> str:
    """An execution's ARN is its state machine's ARN with ``execution`` and its name."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def state_machine_of(execution_arn_: str) -> str:
    machine = execution_arn_.replace(":execution:", ":stateMachine:", 1)
    return machine.rsplit(":", 1)[0]
