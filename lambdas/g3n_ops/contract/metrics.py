"""Metric names. The functions emit them and ``infra/constructs/monitoring.py`` alarms on them, so
a rename here renames both."""

from __future__ import annotations

from enum import StrEnum

SERVICE = "g3n-ops"  # Powertools' service dimension
NAMESPACE = "G3nOps"


class Metric(StrEnum):
    OPERATION_AWS_ERROR = "OperationAwsError"
    OPERATION_ERROR = "OperationError"
    NOTIFICATION_FAILED = "NotificationFailed"
    MAINTENANCE_OVERRUNNING = "MaintenanceOverrunning"
    MAINTENANCE_NOT_EFFECTIVE = "MaintenanceNotEffective"
    MAINTENANCE_NOT_RECOVERED = "MaintenanceNotRecovered"
    MAINTENANCE_COLLATERAL = "MaintenanceCollateral"
    MAINTENANCE_AUDIT_WRITE_FAILED = "MaintenanceAuditWriteFailed"
    STEP_CALLER_REFUSED = "StepCallerRefused"  # a steps event Step Functions did not vouch for
    SECRET_CODE_MISMATCH = "SecretCodeMismatch"
    SECRET_LOCKOUT = "SecretLockout"
    EXECUTION_ENDED_OUTSIDE_OPS = "ExecutionEndedOutsideOps"
    VACUUM_REQUESTED = "VacuumRequested"
    VACUUM_CANCELLED = "VacuumCancelled"
    VACUUM_RESUMED = "VacuumResumed"
    VACUUM_FAILED = "VacuumFailed"
    VACUUM_COMPLETED = "VacuumCompleted"
    VACUUM_MAINTENANCE_NOT_ENDED = "VacuumMaintenanceNotEnded"


def maintenance_action(action: str) -> str:
    """``MaintenanceStart``, ``MaintenanceAutoEnd``, … one count per lifecycle action."""
    return f"Maintenance{action.title().replace('-', '')}"


# The maintenance guard is a library other services load as a layer; it keeps its own names, in
# its own namespace (a unit test holds them equal to these).
GUARD_NAMESPACE = "G3nMaintenanceGuard"


class GuardMetric(StrEnum):
    FAIL_OPEN = "GuardFailOpen"
    STALE_SERVED = "GuardStaleServed"
    BYPASSED = "GuardBypassed"
