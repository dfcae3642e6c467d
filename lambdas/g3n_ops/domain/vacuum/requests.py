"""The direct-invoke vacuum operations: request (all/org), status, cancel, resume."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops import retry
from g3n_ops.contract.errors import (
    AwsServerError,
    AwsThrottled,
    InvalidInput,
    MaintenanceAlreadyActive,
    OpsError,
    VacuumMutexLocked,
    VacuumNotCancellable,
    VacuumNotResumable,
    VacuumStartFailed,
    VacuumStepFailed,
)
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.domain import dry_run_binding
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.checks import check_allowed, check_request
from g3n_ops.domain.vacuum.maintenance_bracket import check_no_window_active, close_window, open_window
from g3n_ops.domain.vacuum.mutex import take_mutex
from g3n_ops.domain.vacuum.records import (
    Scope,
    VacuumError,
    VacuumRecord,
    execution_arn,
    execution_name,
    get,
    iso,
    new_record,
    new_vacuum_id,
    public,
    utc_now,
)
from g3n_ops.domain.vacuum.settle import FINAL_OF, settle
from g3n_ops.gateways import executions
from g3n_ops.observability import logger, metrics
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_mutex

# Throttling of StartExecution is retried this long (the request function's timeout is 30 s).
START_RETRY_SECONDS = 10.0


def open_record(record: VacuumRecord) -> None:
    """Take the mutex and write the pending record (the mutex is freed if the write fails)."""
    take_mutex(record.vacuum_id, extra_seconds=settings().vacuum_pending_seconds)
    try:
        created = store.create_record(record)
    except (ClientError, BotoCoreError):
        vacuum_mutex.release_mutex(record.vacuum_id)
        raise
    if not created:  # ids are random; a clash means a retried request, not a second run
        vacuum_mutex.release_mutex(record.vacuum_id)
        raise InvalidInput(f"vacuum {record.vacuum_id} exists already")


def request(
    *,
    scope: Scope,
    orgcode: str | None,
    dry_run: bool,
    reason: str,
    source: str,
    actor: str | None,
    confirmation_phrase: str | None = None,
    request_id: str | None = None,
    dry_run_id: str | None = None,
    with_maintenance: bool = False,
) -> dict:
    """Check, take the mutex, write the record, start ``vacuum-<id>``. The secret was verified by
    the caller and goes nowhere from here: the execution input is the run's description only.

    ``request_id`` makes a retried request (same id) answer with the run it started.
    ``with_maintenance`` (vacuum-all, real runs only): a maintenance window is opened before the
    execution starts and ended when the run ends (see ``maintenance_bracket``)."""
    orgcode = check_request(scope, orgcode, confirmation_phrase)
    _check_with_maintenance(with_maintenance, scope=scope, dry_run=dry_run)
    record = new_record(
        vacuum_id=new_vacuum_id(utc_now()),
        scope=scope,
        orgcode=orgcode,
        dry_run=dry_run,
        reason=reason,
        source=source,
        actor=actor,
    )
    if request_id:
        record.request_id = request_id
    dry_run_binding.bind(record, dry_run_id=dry_run_id)
    vacuum_id = record.vacuum_id
    try:
        if with_maintenance:
            record.with_maintenance = True
            check_no_window_active()
        open_record(record)
    except (VacuumMutexLocked, MaintenanceAlreadyActive):
        earlier = _run_of_request(request_id)
        if earlier is None:
            raise
        return public(earlier)
    audit(record, "requested")
    if with_maintenance:
        record = _bracket_with_window(record)
        if record.status != VacuumStatus.PENDING:
            return public(record)  # cancelled while its window opened: nothing to start
    execution_input = {"vacuumId": vacuum_id, "scope": scope, "orgcode": orgcode, "dryRun": dry_run}
    started = _start_execution(vacuum_id, execution_name(vacuum_id), execution_input, failed_arn=None)
    # Admit may have bound the ARN already; either way it is this execution's.
    arn = started["executionArn"]
    bound = store.apply(vacuum_id, "bind-started", caller=arn, execution_arn=arn)
    metrics.add_metric(name=Metric.VACUUM_REQUESTED, unit="Count", value=1)
    return public(bound or store.get_record(vacuum_id) or record)


def _check_with_maintenance(with_maintenance: bool, *, scope: Scope, dry_run: bool) -> None:
    if not with_maintenance:
        return
    if scope != "all":
        raise InvalidInput(
            "--with-maintenance is for vacuum-all only: a window blocks every organisation's traffic, "
            "and vacuum-org must not stop the others; open a window by hand if you need one"
        )
    if dry_run:
        raise InvalidInput(
            "a dry-run deletes nothing, so it opens no maintenance window: drop --with-maintenance "
            "for the dry-run and give it to the real run"
        )


def _bracket_with_window(record: VacuumRecord) -> VacuumRecord:
    """Open the run's window and name it on the record. If it cannot be opened the run fails
    before any execution started (mutex freed, the error says why); if the run was cancelled
    meanwhile, the window is ended again."""
    vacuum_id = record.vacuum_id
    try:
        maintenance_id = open_window(record)
    except (OpsError, ClientError, BotoCoreError) as error:
        code = error.code if isinstance(error, OpsError) else VacuumStartFailed.code
        message = f"the maintenance window could not be opened: {getattr(error, 'message', error)}"
        mark_failed(vacuum_id, VacuumError(code=code, message=message), execution_arn=None)
        raise
    named = store.apply(vacuum_id, "name-window", maintenance_id=maintenance_id)
    if named is None:
        close_window(
            record.model_copy(update={"maintenance_id": maintenance_id}), "was cancelled before it started"
        )
        return get(vacuum_id)
    return named


def _run_of_request(request_id: str | None) -> VacuumRecord | None:
    """The run holding the mutex if the same request (a client retry) started it."""
    holder = vacuum_mutex.read_mutex() if request_id else None
    record = store.get_record(holder.owner) if holder else None
    return record if record and record.request_id == request_id else None


# An execution can end without reaching its own "Record failure" step: stopped from the console,
# or timed out. Its record would stay pending/running (and --watch would wait for ever), so a
# status read fails such a record; a run that is cancelling or failing settles on a read once its
# execution has ended and no chunk is in flight (settle.py): the mutex is released with it.
ENDED_WITHOUT_OUTCOME = ("FAILED", "ABORTED", "TIMED_OUT")


def status(vacuum_id: str) -> dict:
    record = get(vacuum_id)
    arn = record.execution_arn
    if record.status in (VacuumStatus.PENDING, VacuumStatus.RUNNING) and arn:
        ended = _execution_status(arn)
        if ended in ENDED_WITHOUT_OUTCOME:
            error = VacuumError(
                code=VacuumStepFailed.code,
                type=f"Execution{ended.title().replace('_', '')}",
                message=f"the execution ended {ended} without recording an outcome",
            )
            if mark_failed(vacuum_id, error, execution_arn=arn):
                settle(vacuum_id)
                record = get(vacuum_id)
    elif record.status in FINAL_OF and arn and _ended(arn):
        record = settle(vacuum_id) or get(vacuum_id)
    elif record.status == VacuumStatus.CANCELLED and arn and _holds_mutex(vacuum_id) and _ended(arn):
        vacuum_mutex.release_mutex(vacuum_id)  # a run cancelled before runs settled (older records)
        close_window(record, "was cancelled while running")
    return public(record)


def _ended(arn: str) -> bool:
    return _execution_status(arn) not in (None, "RUNNING")


def _holds_mutex(vacuum_id: str) -> bool:
    holder = vacuum_mutex.read_mutex()
    return holder is not None and holder.owner == vacuum_id


def _execution_status(arn: str) -> str | None:
    try:
        return executions.describe(execution_arn=arn)["status"]
    except (ClientError, BotoCoreError) as error:
        # The record is still the best answer; reconciling can wait for the next read.
        logger.warning("could not describe the vacuum execution", extra={"error": str(error)})
        return None


def cancel(vacuum_id: str, *, actor: str | None, source: str) -> dict:
    """Pending → cancelled: stop the execution, free the mutex. Running → cancelling: the run's
    chunks stop at their next checkpoint (counts committed) and start no more; the run settles to
    ``cancelled`` once its execution has wound down and no chunk is in flight (settle.py)."""
    now = iso(utc_now())
    record = store.apply(
        vacuum_id, "cancel-pending", finished_at=now, cancelled_by=actor, cancelled_while="pending"
    )
    if record is None:
        record = store.apply(
            vacuum_id,
            "cancel-running",
            cancel_requested_at=now,
            cancelled_by=actor,
            cancelled_while="running",
        )
        if record is None:
            current = get(vacuum_id)
            raise VacuumNotCancellable(
                f"vacuum {vacuum_id} is {current.status}; only a pending or running vacuum can be cancelled"
            )
        audit(record, "cancel-requested", by=actor, via=source, cancelledWhile="running")
        return public(record)
    if record.execution_arn:
        try:
            executions.stop(
                execution_arn=record.execution_arn,
                error="VacuumCancelled",
                cause=f"cancelled by {actor or 'an operator'} ({source})",
            )
        except ClientError as error:
            # Safe to go on: the record is cancelled, so the execution ends at its next check.
            logger.warning("stop_execution failed", extra={"vacuumId": vacuum_id, "error": str(error)})
    vacuum_mutex.release_mutex(vacuum_id)
    audit(record, "cancelled", by=actor, via=source, cancelledWhile="pending")
    close_window(record, "was cancelled while pending")
    metrics.add_metric(name=Metric.VACUUM_CANCELLED, unit="Count", value=1)
    return public(record)


def resume(vacuum_id: str, *, actor: str | None, source: str) -> dict:
    """A failed run goes on: the same record and plan, each unit from its stored cursor, in a new
    execution ``vacuum-<id>-r<attempt>``, through the mutex."""
    check_allowed()
    record = get(vacuum_id)
    if record.status != VacuumStatus.FAILED or not record.plan:
        why = "it never started (no plan): request a new run" if record.status == VacuumStatus.FAILED else ""
        raise VacuumNotResumable(
            f"vacuum {vacuum_id} is {record.status}; only a failed run can be resumed {why}".strip()
        )
    take_mutex(vacuum_id)
    attempt = int(record.attempt or 1) + 1
    name = execution_name(vacuum_id, attempt=attempt)
    arn = execution_arn(settings().vacuum_state_machine_arn, name)
    resumed = store.apply(
        vacuum_id,
        "resume",
        attempt=attempt,
        execution_arn=arn,
        continuation=0,
        resumed_at=iso(utc_now()),
        resumed_by=actor,
        in_flight={},
    )
    if resumed is None:
        vacuum_mutex.release_mutex(vacuum_id)
        raise VacuumNotResumable(f"vacuum {vacuum_id} changed meanwhile; it is {get(vacuum_id).status}")
    audit(resumed, "resumed", by=actor, via=source, previousError=record.error)
    _start_execution(vacuum_id, name, {"vacuumId": vacuum_id, "attempt": attempt}, failed_arn=arn)
    metrics.add_metric(name=Metric.VACUUM_RESUMED, unit="Count", value=1)
    return public(resumed)


def _start_execution(vacuum_id: str, name: str, execution_input: dict, *, failed_arn: str | None) -> dict:
    """Start ``name`` (throttling retried for START_RETRY_SECONDS); if it cannot start, the record
    (still owned by ``failed_arn``) is marked failed and ``VacuumStartFailed`` raised."""
    try:
        return retry.call(
            executions.start,
            doing="starting the vacuum state machine",
            budget=START_RETRY_SECONDS,
            state_machine_arn=settings().vacuum_state_machine_arn,
            name=name,
            execution_input=execution_input,
        )
    except (ClientError, BotoCoreError, AwsThrottled, AwsServerError) as error:
        message = f"could not start the vacuum state machine: {error}"
        mark_failed(
            vacuum_id, VacuumError(code=VacuumStartFailed.code, message=message), execution_arn=failed_arn
        )
        raise VacuumStartFailed(message) from None


def mark_failed(vacuum_id: str, error: VacuumError, *, execution_arn: str | None) -> bool:
    """pending → failed (nothing ran: free the mutex, audit, at once), running → failing (chunks
    may be in flight: the run settles to failed once they are gone, settle.py), keeping the
    partial stats. Only the execution the record belongs to may fail it (``None``: the request
    handler, before any execution existed). True if the record changed."""
    record = store.apply(
        vacuum_id, "fail-pending", caller=execution_arn, finished_at=iso(utc_now()), error=error
    )
    if record is not None:
        vacuum_mutex.release_mutex(vacuum_id)
        audit(record, "failed", error=error, totals=record.totals)
        close_window(record, f"failed ({error.code})")
        metrics.add_metric(name=Metric.VACUUM_FAILED, unit="Count", value=1)
        return True
    record = store.apply(
        vacuum_id, "fail-running", caller=execution_arn, error=error, failing_at=iso(utc_now())
    )
    if record is None:
        return False
    audit(record, "failing", error=error)
    return True
