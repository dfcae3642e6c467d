"""The vacuum audit trail: one entry per lifecycle action, in the OPS table and the log."""

from __future__ import annotations

import secrets
from typing import Any

from g3n_ops import notify
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.observability import logger
from g3n_ops.store import vacuum_audit as store

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


def audit_key(record: dict, action: str, once_per: str | None = None) -> str:
    """``<n>-<action>[-<once_per>]`` for the first attempt, ``a<attempt>-…`` after a resume; any
    other action (a refused step event, which can happen any number of times) gets a unique key."""
    if action not in AUDIT_SEQUENCE:
        return f"x-{iso(utc_now())}-{secrets.token_hex(3)}-{action}"
    attempt = int(record.get("attempt") or 1)
    key = f"{AUDIT_SEQUENCE[action]}-{action}" + (f"-{once_per}" if once_per else "")
    return key if attempt == 1 else f"a{attempt:03d}-{key}"


def audit(record: dict, action: str, *, once_per: str | None = None, **details: Any) -> None:
    entry = {
        "vacuumId": record["vacuumId"],
        "action": action,
        "at": iso(utc_now()),
        "status": record.get("status"),
        "scope": record.get("scope"),
        "orgcode": record.get("orgcode"),
        "dryRun": record.get("dryRun"),
        "reason": record.get("reason"),
        "source": record.get("source"),
        "actor": record.get("actor"),
        "executionArn": record.get("executionArn"),
        **({"attempt": record["attempt"]} if record.get("attempt") else {}),
        **details,
    }
    store.put_audit(entry, key=audit_key(record, action, once_per))
    logger.info("vacuum audit", extra={"audit": entry})
    notify.vacuum_event(entry)
