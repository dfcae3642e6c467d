"""A run that stops while chunks may still be in flight says so until its numbers are final.

``cancelling`` (a cancel while running) and ``failing`` (an error while running) are not terminal:
chunks already running finish their checkpoint, and their counts still land on the record. The
run becomes ``cancelled`` / ``failed`` only once its execution has ended (or is in its last step,
``Record failure``, after the Map has ended) and no chunk is in flight: every chunk announces
itself in ``inFlight`` before it touches anything and leaves when done; a crashed one's lease
runs out. From the first terminal read, the stats are exactly what is gone. Settling is one
conditional write, so the final audit entry, its event (``vacuum.cancelled`` / ``vacuum.failed``,
with the final totals), the mutex release and the window's end happen once, whoever settles:
the run's own failure step, the execution-status function, or a status read.
"""

from __future__ import annotations

import time

from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.maintenance_bracket import close_window
from g3n_ops.domain.vacuum.records import VacuumRecord, get
from g3n_ops.observability import metrics
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_mutex

FINAL_OF = {VacuumStatus.CANCELLING: VacuumStatus.CANCELLED, VacuumStatus.FAILING: VacuumStatus.FAILED}
# The transition (records.vacuum.TRANSITIONS) that settles each.
SETTLE = {VacuumStatus.CANCELLING: "settle-cancelled", VacuumStatus.FAILING: "settle-failed"}
# A chunk's lease: the steps function's timeout (a chunk cannot outlive its invocation).
CHUNK_LEASE_SECONDS = 900
# How long the run's own failure step waits for its chunks in flight before leaving the run to
# be settled by the execution-status function or the next status read.
DRAIN_SECONDS = 120.0
DRAIN_POLL_SECONDS = 0.2


def in_flight(record: VacuumRecord, *, now: float | None = None) -> list[str]:
    """The chunks still running (announced and within their lease)."""
    moment = time.time() if now is None else now
    return [token for token, until in (record.in_flight or {}).items() if float(until) > moment]


def settle(vacuum_id: str) -> VacuumRecord | None:
    """cancelling → cancelled / failing → failed if no chunk is in flight; the caller knows the
    execution has ended. Returns the settled record, or None (not settling, or not yet)."""
    record = get(vacuum_id)
    final = FINAL_OF.get(record.status)
    if final is None or in_flight(record):
        return None
    settled = store.apply(vacuum_id, SETTLE[record.status], finished_at=iso(utc_now()))
    if settled is None:
        return None  # settled by someone else meanwhile
    vacuum_mutex.release_mutex(vacuum_id)
    totals = settled.totals
    if final == VacuumStatus.CANCELLED:
        audit(settled, "cancelled", by=settled.cancelled_by, cancelledWhile="running", totals=totals)
        close_window(settled, "was cancelled while running")
        metrics.add_metric(name=Metric.VACUUM_CANCELLED, unit="Count", value=1)
    else:
        error = settled.error
        audit(settled, "failed", error=error or {}, totals=totals)
        close_window(settled, f"failed ({error.code if error else None})")
        metrics.add_metric(name=Metric.VACUUM_FAILED, unit="Count", value=1)
    return settled


def drain_and_settle(vacuum_id: str, *, budget: float = DRAIN_SECONDS) -> VacuumRecord | None:
    """From the run's own failure step (its Map has ended): wait for the chunks in flight, then
    settle. None if they outlast ``budget``: the run stays cancelling/failing for the
    execution-status function or a status read to settle once they are gone."""
    deadline = time.monotonic() + budget
    while True:
        settled = settle(vacuum_id)
        if settled is not None or get(vacuum_id).status not in FINAL_OF:
            return settled
        if time.monotonic() > deadline:
            return None
        time.sleep(DRAIN_POLL_SECONDS)
