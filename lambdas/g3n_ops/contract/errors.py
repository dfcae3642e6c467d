"""Stable error codes, one class each. Handlers map them to responses in one place.

The class name doubles as the Step Functions error name (``errorType``) so a state
machine's ``Catch`` can match on it.
"""

from __future__ import annotations


class OpsError(Exception):
    code = "internal-error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidInput(OpsError):
    code = "invalid-input"


class SecretCodeMismatch(OpsError):
    code = "secret-code-mismatch"


class SecretNotSet(OpsError):
    code = "secret-not-set"


class ConfirmationPhraseMismatch(OpsError):
    code = "confirmation-phrase-mismatch"


class InvalidOrgcode(OpsError):
    code = "invalid-orgcode"


class MaintenanceNotFound(OpsError):
    code = "maintenance-not-found"


class MaintenanceAlreadyActive(OpsError):
    code = "maintenance-already-active"


class InvalidTransition(OpsError):
    code = "invalid-transition"


class VacuumNotFound(OpsError):
    code = "vacuum-not-found"


class VacuumMutexLocked(OpsError):
    code = "vacuum-mutex-locked"


class VacuumNotCancellable(OpsError):
    code = "vacuum-not-cancellable"


class VacuumNotAllowed(OpsError):
    """The stage forbids vacuums (production)."""

    code = "vacuum-not-allowed"


class VacuumStartFailed(OpsError):
    """The vacuum execution could not be started; the record is marked failed."""

    code = "vacuum-start-failed"


class VacuumNotAdmitted(OpsError):
    """A vacuum execution was started for a record that is not its own pending run."""

    code = "vacuum-not-admitted"


class VacuumMutexLost(OpsError):
    """A running vacuum no longer holds the mutex (its lease ran out and another run took it)."""

    code = "vacuum-mutex-lost"


class VacuumScopeViolation(OpsError):
    """A lookup returned data outside the run's scope; nothing of it is deleted."""

    code = "vacuum-scope-violation"


class VacuumIncomplete(OpsError):
    """Data could not be deleted after retries, or the verification count found some left."""

    code = "vacuum-incomplete"


class VacuumStepFailed(OpsError):
    """A vacuum step failed with an error OPS does not raise itself (AWS or Step Functions);
    the failed record keeps that error's name in ``error.type``."""

    code = "vacuum-step-failed"


class MaintenanceStartFailed(OpsError):
    """The lifecycle execution of a new window could not be started; the window is cancelled."""

    code = "maintenance-start-failed"


class RequestInProgress(OpsError):
    """The same request (same requestId) is still being processed: retry shortly."""

    code = "request-in-progress"


class UnknownOperation(OpsError):
    code = "unknown-operation"


class SecretCodeLocked(OpsError):
    """Too many wrong secret codes in the lockout window: every secret-gated operation is refused,
    the right code included, until the lockout ends (``retryAfterSeconds`` says when)."""

    code = "secret-code-locked"

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    def to_dict(self) -> dict:
        answer = super().to_dict()
        answer["error"]["retryAfterSeconds"] = self.retry_after_seconds
        return answer


class SecretAlreadySet(OpsError):
    """``init-secret`` once a secret exists: rotate it with the current code instead."""

    code = "secret-already-set"


# -- AWS errors a handler can meet, each with a stable code (never AWS's raw text as the answer) --
class AwsThrottled(OpsError):
    """AWS throttled OPS beyond its retry budget; transient (the state machines retry it)."""

    code = "aws-throttled"


class AwsServerError(OpsError):
    """AWS answered 5xx (InternalServerError, ServiceUnavailable…) beyond the retry budget; transient."""

    code = "aws-unavailable"


class AwsAccessDenied(OpsError):
    """The function's role may not do this: a deployment (IAM) problem, not a transient one."""

    code = "aws-access-denied"


class AwsError(OpsError):
    """Any other AWS error (validation, missing resource…); not retried."""

    code = "aws-error"


class DryRunRequired(OpsError):
    """A real vacuum needs a completed dry-run of the same scope (and orgcode) to bind to."""

    code = "dry-run-required"


class RouteNotFound(OpsError):
    """The HTTP API has no such route (or the path does not fit it, e.g. a maintenance id with a
    character no id has). On AWS, API Gateway answers unknown routes itself."""

    code = "route-not-found"


class VacuumPlanViolation(OpsError):
    """A vacuum step event asked for something outside its run's stored plan (forged or altered);
    refused, nothing deleted, audited."""

    code = "vacuum-plan-violation"


class VacuumNotResumable(OpsError):
    """Only a failed run that had started (it has a plan) can be resumed."""

    code = "vacuum-not-resumable"


class StepCallerRefused(OpsError):
    """A state machine step event that Step Functions does not vouch for: its execution does not
    exist, is not RUNNING, is not this stack's state machine, or its input does not name the run."""

    code = "step-caller-refused"


class DryRunStale(OpsError):
    """The dry-run a real run is bound to is too old, already used, or counted another plan."""

    code = "dry-run-stale"


ALL_ERRORS: tuple[type[OpsError], ...] = (
    OpsError,
    InvalidInput,
    SecretCodeMismatch,
    SecretNotSet,
    ConfirmationPhraseMismatch,
    InvalidOrgcode,
    MaintenanceNotFound,
    MaintenanceAlreadyActive,
    InvalidTransition,
    VacuumNotFound,
    VacuumMutexLocked,
    VacuumNotCancellable,
    VacuumNotAllowed,
    VacuumStartFailed,
    VacuumNotAdmitted,
    VacuumMutexLost,
    VacuumScopeViolation,
    VacuumIncomplete,
    VacuumStepFailed,
    MaintenanceStartFailed,
    RequestInProgress,
    UnknownOperation,
    SecretCodeLocked,
    SecretAlreadySet,
    AwsThrottled,
    AwsServerError,
    AwsAccessDenied,
    AwsError,
    DryRunRequired,
    RouteNotFound,
    VacuumPlanViolation,
    VacuumNotResumable,
    StepCallerRefused,
    DryRunStale,
)

ERROR_CODES: frozenset[str] = frozenset(cls.code for cls in ALL_ERRORS)
# Step Functions reports a handler's error by class name; this maps it back to the stable code.
CODE_BY_CLASS_NAME: dict[str, str] = {cls.__name__: cls.code for cls in ALL_ERRORS}
