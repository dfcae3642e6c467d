"""The vacuum audit trail: one entry per lifecycle action, in the OPS table and the log."""

from __future__ import annotations

import secrets
from typing import Any

from pydantic import BaseModel

from g3n_ops import notify
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.observability import logger
from g3n_ops.records.vacuum import VacuumRecord
from g3n_ops.store import vacuum_audit as store

# What every entry repeats about its run (record attributes; null when the record has none).
RUN_FIELDS = ("status", "scope", "orgcode", "dry_run", "reason", "source", "actor", "execution_arn")
# The run's trail, in the order a run goes (part of the entry's key, so a retried step writes it
# once). Entries that happen once per unit, continuation or verify name it (``once_per``).
AUDIT_SEQUENCE = {
    "requested": 1,
    "resumed": 1,
    "admitted": 1,
    "window-over": 2,
    "started": 2,
    "unit-done": 2,
    "continued": 2,
    "unit-verified": 2,
    "verified": 2,
    "cancel-requested": 3,
    "failing": 3,
    "completed": 4,
    "cancelled": 4,
    "failed": 4,
}


def audit_key(record: VacuumRecord | None, action: str, once_per: str | None = None) -> str:
    """``<n>-<action>[-<once_per>]`` for the first attempt, ``a<attempt>-…`` after a resume; any
    other action (a refused step event, which can happen any number of times) gets a unique key."""
    if action not in AUDIT_SEQUENCE:
        return f"x-{iso(utc_now())}-{secrets.token_hex(3)}-{action}"
    attempt = int((record.attempt if record else None) or 1)
    key = f"{AUDIT_SEQUENCE[action]}-{action}" + (f"-{once_per}" if once_per else "")
    return key if attempt == 1 else f"a{attempt:03d}-{key}"


def audit(record: VacuumRecord, action: str, *, once_per: str | None = None, **details: Any) -> None:
    _write(record.vacuum_id, record, action, once_per, details)


def audit_unknown_run(vacuum_id: str, action: str, **details: Any) -> None:
    """An entry for a run OPS has no record of (a refused step event naming one)."""
    _write(vacuum_id, None, action, None, details)


def _write(
    vacuum_id: str, record: VacuumRecord | None, action: str, once_per: str | None, details: dict
) -> None:
    if record is None:
        run = {VacuumRecord.model_fields[name].alias: None for name in RUN_FIELDS}
    else:
        run = record.model_dump(by_alias=True, mode="json", include=set(RUN_FIELDS))
    entry = {
        "vacuumId": vacuum_id,
        "action": action,
        "at": iso(utc_now()),
        **run,
        **({"attempt": record.attempt} if record and record.attempt else {}),
        **{name: _plain(value) for name, value in details.items()},
    }
    store.put_audit(entry, key=audit_key(record, action, once_per))
    logger.info("vacuum audit", extra={"audit": entry})
    notify.vacuum_event(entry)


def _plain(value: Any) -> Any:
    """A detail as the trail holds it: a typed part of the record as its stored document."""
    return (
        value.model_dump(by_alias=True, exclude_unset=True, mode="json")
        if isinstance(value, BaseModel)
        else value
    )
