"""The vacuum mutex: one run (dry-runs included) at a time, with a lease so a crashed run frees it."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from g3n_ops.contract.errors import VacuumMutexLocked, VacuumMutexLost
from g3n_ops.contract.timestamps import iso
from g3n_ops.store import vacuum_mutex as store

# How long the mutex stays ours without a renewal. Every step renews it; the pending window is
# added on top when it is taken, because nothing renews during the Wait.
LEASE_SECONDS = 900


def take_mutex(vacuum_id: str, *, extra_seconds: int = 0) -> None:
    now = int(time.time())
    if store.take_mutex(vacuum_id, now=now, lease_expires_at=now + LEASE_SECONDS + extra_seconds):
        return
    holder = store.read_mutex()
    expires = holder.lease_expires_at if holder else None
    until = iso(datetime.fromtimestamp(expires, UTC)) if expires else "unknown"
    raise VacuumMutexLocked(
        f"another vacuum holds the mutex: {holder.owner if holder else 'unknown'} (lease until {until}); "
        "wait for it to finish or cancel it"
    )


def renew_mutex(vacuum_id: str, *, extra_seconds: int = 0) -> None:
    expires = int(time.time()) + LEASE_SECONDS + extra_seconds
    if not store.renew_mutex(vacuum_id, lease_expires_at=expires):
        raise VacuumMutexLost(f"vacuum {vacuum_id} no longer holds the vacuum mutex; stopping")
