"""The lifecycle statuses. A ``StrEnum`` member is its string: records, JSON and DynamoDB hold the
plain value."""

from __future__ import annotations

from enum import StrEnum


class MaintenanceStatus(StrEnum):
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"


class VacuumStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    # A run told to stop (or failing) whose execution or chunks still wind down: its numbers may
    # still change, so it is not final yet.
    CANCELLING = "cancelling"
    FAILING = "failing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


# As plain strings, in lifecycle order: what ``Literal[...]`` types, CLI choices and messages list.
MAINTENANCE_STATUSES = tuple(status.value for status in MaintenanceStatus)
VACUUM_STATUSES = tuple(status.value for status in VacuumStatus)
# Final: the record's numbers no longer change and the mutex is free.
VACUUM_FINAL = frozenset(
    {VacuumStatus.COMPLETED.value, VacuumStatus.CANCELLED.value, VacuumStatus.FAILED.value}
)
