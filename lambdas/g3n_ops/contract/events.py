"""Events: the lifecycle events OPS publishes (SNS, ``g3n_ops.notify``) and the Step Functions
events it listens to (EventBridge → ``execution-status``)."""

from __future__ import annotations

ENVELOPE_VERSION = 1

# Audit action → event type. Every maintenance action is a lifecycle step (a new one is published
# as ``maintenance.<action>``); of a vacuum's actions only these are (unit progress is not).
MAINTENANCE_EVENTS = {
    "schedule": "maintenance.scheduled",
    "start": "maintenance.started",
    "update": "maintenance.updated",
    "end": "maintenance.ended",
    "auto-end": "maintenance.ended",
    "cancel": "maintenance.cancelled",
    "overrun": "maintenance.overrunning",
}
VACUUM_EVENTS = {
    "requested": "vacuum.requested",
    "started": "vacuum.started",
    "completed": "vacuum.completed",
    "failed": "vacuum.failed",
    "cancelled": "vacuum.cancelled",
    "resumed": "vacuum.resumed",
}
LOCKOUT_EVENT = "secret.lockout"

# The EventBridge events of OPS's own executions that end without OPS.
EXECUTION_STATUS_DETAIL_TYPE = "Step Functions Execution Status Change"
EXECUTION_STATUS_SOURCE = "aws.states"
EXECUTION_ENDED_OUTSIDE = ("FAILED", "TIMED_OUT", "ABORTED")
