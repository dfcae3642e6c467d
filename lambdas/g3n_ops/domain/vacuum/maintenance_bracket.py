"""vacuum-all --with-maintenance: a maintenance window brackets the run, so the services stop
writing (the guard answers 503) while their data goes.

- ``open_window``: at the request, before the execution starts. Only when no window is active:
  the run refuses ``maintenance-already-active`` rather than borrow an operator's window (ending
  it with the run would end someone else's maintenance).
- ``close_window``: from every path that ends the run (completed, failed, cancelled while pending
  or once its execution wound down, closed by the execution-status handler, a start that
  failed). Idempotent and best effort: a window already ended or cancelled (by an operator, say)
  is left as it is; a failure to end it is logged, counted (``VacuumMaintenanceNotEnded``) and
  audited, and never fails the run's own finalisation.

The window is the maintenance domain's own (schedule, start, end). Its description and end
message are public (the unauthenticated status page, every guarded service's 503 body), so they
are fixed texts written for the platform's customers: never the vacuum's id, its reason (operator
free text) or how the run ended. Those stay where only operators look: the vacuum record names the
window (``maintenanceId``) and its audit trail says how the window closed (``maintenance-ended``
with the outcome); the window's ``source``/``actor`` and history name the vacuum
(``vacuum:<vacuumId>``).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.contract.errors import InvalidTransition, MaintenanceAlreadyActive, OpsError
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.domain import maintenance
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.records import VacuumRecord
from g3n_ops.observability import logger, metrics
from g3n_ops.settings import settings

SOURCE = "vacuum"
# What the public sees of a window OPS opens for a vacuum (status page, 503 bodies): fixed texts.
PUBLIC_DESCRIPTION = "Scheduled maintenance: data maintenance in progress"
PUBLIC_END_MESSAGE = "Maintenance is over."


def _actor(record: VacuumRecord) -> maintenance.Actor:
    return maintenance.Actor(SOURCE, f"vacuum:{record.vacuum_id}")


def check_no_window_active() -> None:
    """Refuse before anything is written if a window is active already."""
    active = maintenance.active_window_id()
    if active:
        raise MaintenanceAlreadyActive(
            f"maintenance {active} is active; end it (maintenance-end) before vacuum-all "
            "--with-maintenance, or run without --with-maintenance inside it"
        )


def open_window(record: VacuumRecord) -> str:
    """Schedule a window starting now and start it at once; returns its id. The window is not
    auto-ended: the run ends it (past its duration it is flagged overrunning, which alarms)."""
    by = _actor(record)
    window = maintenance.schedule(
        description=PUBLIC_DESCRIPTION,
        duration=settings().vacuum_maintenance_seconds,
        start=iso(utc_now()),
        auto_end=False,
        by=by,
    )
    maintenance_id = window.maintenance_id
    try:
        maintenance.start(maintenance_id, by)
    except MaintenanceAlreadyActive:
        # The window's own execution may have started it first (its start is now): that is ours.
        if maintenance.get(maintenance_id).status != MaintenanceStatus.ACTIVE:
            _discard(maintenance_id, by)
            raise
    except (OpsError, ClientError, BotoCoreError):
        _discard(maintenance_id, by)
        raise
    return maintenance_id


def _discard(maintenance_id: str, by: maintenance.Actor) -> None:
    """A window that did not start for the run is cancelled (or ended), never left to start later."""
    try:
        if maintenance.get(maintenance_id).status == MaintenanceStatus.SCHEDULED:
            maintenance.cancel(maintenance_id, by, message="cancelled: the vacuum it was for did not start")
        else:
            maintenance.end_window(maintenance_id, PUBLIC_END_MESSAGE, by)
    except (OpsError, ClientError, BotoCoreError) as error:
        logger.warning(
            "vacuum maintenance window not discarded",
            extra={"maintenanceId": maintenance_id, "error": str(error)},
        )


def close_window(record: VacuumRecord, outcome: str) -> str | None:
    """End the run's window with the fixed public end message; how the run ended goes to the run's
    audit (``maintenance-ended``), a cancel's message to the window's history (neither is public).
    Returns what happened to the window (``ended``, ``cancelled``, ``already-<status>``,
    ``not-ended``) or None if the run has none."""
    maintenance_id = record.maintenance_id
    if not maintenance_id:
        return None
    by = _actor(record)
    try:
        current = maintenance.get(maintenance_id)
        if current.status == MaintenanceStatus.SCHEDULED:
            maintenance.cancel(maintenance_id, by, message=f"cancelled: vacuum {record.vacuum_id} {outcome}")
            result = "cancelled"
        elif current.status == MaintenanceStatus.ACTIVE:
            maintenance.end_window(maintenance_id, PUBLIC_END_MESSAGE, by)
            result = "ended"
        else:
            return f"already-{current.status}"  # ended or cancelled by an operator: fine
    except InvalidTransition:
        return "already-closed"  # ended or cancelled between our read and our write
    except (OpsError, ClientError, BotoCoreError) as error:
        message = error.message if isinstance(error, OpsError) else str(error)
        logger.error(
            "vacuum maintenance window not ended",
            extra={"vacuumId": record.vacuum_id, "maintenanceId": maintenance_id, "error": message},
        )
        metrics.add_metric(name=Metric.VACUUM_MAINTENANCE_NOT_ENDED, unit="Count", value=1)
        audit(
            record,
            "maintenance-left-open",
            maintenanceId=maintenance_id,
            outcome=outcome,
            error=message[:500],
        )
        return "not-ended"
    audit(record, "maintenance-ended", maintenanceId=maintenance_id, outcome=outcome, window=result)
    return result
