"""Direct-invoke vacuum operations: vacuum-all, vacuum-org, vacuum-cancel, vacuum-status,
vacuum-resume, vacuum-list, vacuum-events.

The router verifies the secret code of every SecretRequest before these functions run.
"""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from g3n_ops.contract.statuses import VACUUM_STATUSES
from g3n_ops.domain import vacuum
from g3n_ops.domain import vacuum_history as history
from g3n_ops.handlers.operations import Operations
from g3n_ops.models import Request, SecretRequest, VacuumId
from g3n_ops.observability import logger, metrics, tracer

operations = Operations()

Reason = Annotated[str, Field(min_length=1, max_length=500)]
# The completed dry-run a real run binds to (default: the newest matching one).
DryRunId = Annotated[str | None, Field(alias="dryRunId", min_length=1, max_length=64)]
# Compared exactly as typed: no whitespace stripping for the phrase.
Phrase = Annotated[str, StringConstraints(strip_whitespace=False, max_length=200)]


class VacuumAllRequest(SecretRequest):
    operation: Literal["vacuum-all"]
    reason: Reason
    confirmation_phrase: Phrase | None = Field(default=None, alias="confirmationPhrase")
    dry_run: bool = Field(default=False, alias="dryRun")
    dry_run_id: DryRunId = None
    # A maintenance window brackets the real run (refused on a dry-run: invalid-input).
    with_maintenance: bool = Field(default=False, alias="withMaintenance")


class VacuumOrgRequest(SecretRequest):
    operation: Literal["vacuum-org"]
    reason: Reason
    # Kept exactly as sent (no stripping: "TESTORG\n" is not TESTORG); the format rule is the
    # domain's, from the registry (invalid-orgcode).
    orgcode: Annotated[str, StringConstraints(strip_whitespace=False, max_length=200)]
    dry_run: bool = Field(default=False, alias="dryRun")
    dry_run_id: DryRunId = None


class VacuumCancelRequest(SecretRequest):
    operation: Literal["vacuum-cancel"]
    vacuum_id: VacuumId


class VacuumResumeRequest(SecretRequest):
    operation: Literal["vacuum-resume"]
    vacuum_id: VacuumId


class VacuumStatusRequest(Request):
    operation: Literal["vacuum-status"]
    vacuum_id: VacuumId
    # slowestUnits while the run goes on too (once it has ended they are always there).
    with_slowest_units: bool = Field(default=False, alias="withSlowestUnits")


@operations.route("vacuum-all", VacuumAllRequest)
def vacuum_all(request: VacuumAllRequest) -> dict:
    return vacuum.request(
        scope="all",
        orgcode=None,
        dry_run=request.dry_run,
        reason=request.reason,
        source=request.source,
        actor=request.actor,
        confirmation_phrase=request.confirmation_phrase,
        request_id=request.request_id,
        dry_run_id=request.dry_run_id,
        with_maintenance=request.with_maintenance,
    )


@operations.route("vacuum-org", VacuumOrgRequest)
def vacuum_org(request: VacuumOrgRequest) -> dict:
    return vacuum.request(
        scope="org",
        orgcode=request.orgcode,
        dry_run=request.dry_run,
        reason=request.reason,
        source=request.source,
        actor=request.actor,
        request_id=request.request_id,
        dry_run_id=request.dry_run_id,
    )


@operations.route("vacuum-cancel", VacuumCancelRequest)
def vacuum_cancel(request: VacuumCancelRequest) -> dict:
    return vacuum.cancel(request.vacuum_id, actor=request.actor, source=request.source)


@operations.route("vacuum-resume", VacuumResumeRequest)
def vacuum_resume(request: VacuumResumeRequest) -> dict:
    return vacuum.resume(request.vacuum_id, actor=request.actor, source=request.source)


@operations.route("vacuum-status", VacuumStatusRequest)
def vacuum_status(request: VacuumStatusRequest) -> dict:
    return history.status(request.vacuum_id, with_slowest_units=request.with_slowest_units)


class VacuumListRequest(Request):
    operation: Literal["vacuum-list"]
    status: Literal[VACUUM_STATUSES] | None = None  # type: ignore[valid-type]
    limit: int = Field(default=20, ge=1, le=100)
    next_token: str | None = Field(default=None, alias="nextToken", max_length=2048)


class VacuumEventsRequest(Request):
    operation: Literal["vacuum-events"]
    vacuum_id: VacuumId
    limit: int = Field(default=history.EVENTS_PAGE, ge=1, le=500)
    next_token: str | None = Field(default=None, alias="nextToken", max_length=2048)


@operations.route("vacuum-list", VacuumListRequest)
def vacuum_list(request: VacuumListRequest) -> dict:
    return history.list_runs(status=request.status, limit=request.limit, next_token=request.next_token)


@operations.route("vacuum-events", VacuumEventsRequest)
def vacuum_events(request: VacuumEventsRequest) -> dict:
    return history.events(request.vacuum_id, limit=request.limit, next_token=request.next_token)


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return operations(event)
