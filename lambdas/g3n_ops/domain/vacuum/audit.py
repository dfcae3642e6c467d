"""The vacuum audit trail: one entry per lifecycle action, in the OPS table and the log."""

from __future__ import annotations

import secrets
from typing import Any

from g3n_ops import notify
from g3n_ops.domain.vacuum.records import iso, utc_now
from g3n_ops.observability import logger
from g3n_ops.store import vacuum as store

# Entry order within an attempt (part of the entry's key, so a retried step writes it once).
AUDIT_SEQUENCE = {"requested": 1, "resumed": 1, "started": 2, "completed": 3, "cancelled": 3, "failed": 3}


def audit_key(record: dict, action: str) -> str:
    """``<n>-<action>`` for the first attempt, ``a<attempt>-<n>-<action>`` after a resume (they
    sort after it); a refused step event gets a unique key (it can happen any number of times)."""
    if action not in AUDIT_SEQUENCE:
        return f"x-{iso(utc_now())}-{secrets.token_hex(3)}-{action}"
    attempt = int(record.get("attempt") or 1)
    key = f"{AUDIT_SEQUENCE[action]}-{action}"
    return key if attempt == 1 else f"a{attempt:03d}-{key}"


def audit(record: dict, action: str, **details: Any) -> None:
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
    store.put_audit(entry, key=audit_key(record, action))
    logger.info("vacuum audit", extra={"audit": entry})
    notify.vacuum_event(entry)
