"""Vacuum runs: requests, the mutex, cancel, status, and every step the state machine takes.

Lifecycle of a record (``status``): pending → running → completed | failed, or pending →
cancelled. Only one vacuum (dry-runs included) holds the mutex at a time; the lease makes a
crashed run free it by itself. What a run may touch is decided here, once, in ``build_plan``:
the registry's tables, buckets and (vacuum-all only) log groups — never OPS's own table, which
the registry does not list — and for vacuum-org only the org-scoped services.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from g3n_ops import notify
from g3n_ops.aws import client
from g3n_ops.domain import dry_run_binding, purge
from g3n_ops.errors import (
    CODE_BY_CLASS_NAME,
    ConfirmationPhraseMismatch,
    InvalidInput,
    InvalidOrgcode,
    VacuumIncomplete,
    VacuumMutexLocked,
    VacuumMutexLost,
    VacuumNotAdmitted,
    VacuumNotAllowed,
    VacuumNotCancellable,
    VacuumNotFound,
    VacuumStartFailed,
    VacuumStepFailed,
)
from g3n_ops.observability import logger, metrics
from g3n_ops.registry import DEFAULT_ORGCODE_PATTERN, Registry, load_registry
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as store

Scope = Literal["all", "org"]

CONFIRMATION_PHRASE = "VACUUM ALL DATA PERMANENTLY"
# How long the mutex stays ours without a renewal. Every step renews it; the pending window is
# added on top when it is taken, because nothing renews during the Wait.
LEASE_SECONDS = 900
COUNTERS = ("items", "objects", "bytes")
LOG_COUNTERS = ("logStreams",)
# Audit entry order within a run (part of the entry's key).
AUDIT_SEQUENCE = {"requested": 1, "started": 2, "completed": 3, "cancelled": 3, "failed": 3}
INTERNAL_FIELDS = ("pk", "kind", "sortKey")
# The record document's fields in reading order. startedAt, finishedAt and executionArn are written
# when they happen (absent until then, so conditions can test for them) and shown as null before.
FIELD_ORDER = (
    "vacuumId", "status", "scope", "orgcode", "dryRun", "reason", "source", "actor",
    "createdAt", "startedAt", "finishedAt", "executionArn", "error", "stats",
)  # fmt: skip
ALWAYS_SHOWN = ("startedAt", "finishedAt", "executionArn")


# -- time and ids --------------------------------------------------------------------------------
def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Millisecond ISO 8601 (sortKey: records created in the same second still sort)."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_vacuum_id(moment: datetime) -> str:
    """Readable, time-ordered, and a valid execution name once prefixed with ``vacuum-``."""
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def public(record: dict) -> dict:
    """The record as the CLI contract shows it."""
    document = {field: record.get(field) for field in FIELD_ORDER if field in record or field in ALWAYS_SHOWN}
    hidden = (*document, *INTERNAL_FIELDS)
    return document | {key: value for key, value in record.items() if key not in hidden}


# -- checks --------------------------------------------------------------------------------------
def check_allowed() -> None:
    if not settings().vacuum_allowed:
        raise VacuumNotAllowed(f"vacuum is disabled on stage '{settings().stage}' (VACUUM_ALLOWED=false)")


def check_confirmation(phrase: str | None) -> None:
    if phrase != CONFIRMATION_PHRASE:
        raise ConfirmationPhraseMismatch(
            f"vacuum-all needs the confirmation phrase exactly: {CONFIRMATION_PHRASE}"
        )


def check_orgcode(orgcode: str | None, pattern: str = DEFAULT_ORGCODE_PATTERN) -> str:
    """Exactly as the platform writes it (case-sensitive); ``fullmatch`` so no trailing newline
    slips through a ``$``."""
    if not isinstance(orgcode, str) or not re.fullmatch(pattern, orgcode):
        raise InvalidOrgcode(
            f"invalid orgcode {orgcode!r:.80}: it must match {pattern} (case-sensitive, as the platform "
            "writes it, e.g. TESTORG)"
        )
    return orgcode


def check_request(scope: Scope, orgcode: str | None, confirmation_phrase: str | None) -> str | None:
    """Allowed on this stage, phrase for vacuum-all, a valid orgcode for vacuum-org (in that order)."""
    check_allowed()
    if scope == "all":
        check_confirmation(confirmation_phrase)
        return None
    return check_orgcode(orgcode, load_registry().orgcode_pattern)


# -- the mutex -----------------------------------------------------------------------------------
def take_mutex(vacuum_id: str, *, extra_seconds: int = 0) -> None:
    now = int(time.time())
    if store.take_mutex(vacuum_id, now=now, lease_expires_at=now + LEASE_SECONDS + extra_seconds):
        return
    holder = store.read_mutex() or {}
    expires = holder.get("leaseExpiresAt")
    until = iso(datetime.fromtimestamp(expires, UTC)) if expires else "unknown"
    raise VacuumMutexLocked(
        f"another vacuum holds the mutex: {holder.get('owner', 'unknown')} (lease until {until}); "
        "wait for it to finish or cancel it while it is pending"
    )


def renew_mutex(vacuum_id: str, *, extra_seconds: int = 0) -> None:
    expires = int(time.time()) + LEASE_SECONDS + extra_seconds
    if not store.renew_mutex(vacuum_id, lease_expires_at=expires):
        raise VacuumMutexLost(f"vacuum {vacuum_id} no longer holds the vacuum mutex; stopping")


# -- audit ---------------------------------------------------------------------------------------
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
        **details,
    }
    store.put_audit(entry, sequence=AUDIT_SEQUENCE[action])
    logger.info("vacuum audit", extra={"audit": entry})
    notify.vacuum_event(entry)


# -- requests (the direct-invoke operations) -----------------------------------------------------
def new_record(
    *, vacuum_id: str, scope: Scope, orgcode: str | None, dry_run: bool, reason: str, source: str, actor
) -> dict:
    return {
        "vacuumId": vacuum_id,
        "status": "pending",
        "scope": scope,
        "orgcode": orgcode,
        "dryRun": dry_run,
        "reason": reason,
        "source": source,
        "actor": actor,
        "createdAt": iso(utc_now()),
        "stats": {"services": {}, "totals": {}},
    }


def _open_record(record: dict) -> None:
    """Take the mutex and write the pending record (the mutex is freed if the write fails)."""
    take_mutex(record["vacuumId"], extra_seconds=settings().vacuum_pending_seconds)
    try:
        created = store.create_record(record)
    except (ClientError, BotoCoreError):
        store.release_mutex(record["vacuumId"])
        raise
    if not created:  # ids are random; a clash means a retried request, not a second run
        store.release_mutex(record["vacuumId"])
        raise InvalidInput(f"vacuum {record['vacuumId']} exists already")


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
) -> dict:
    """Check, take the mutex, write the record, start ``vacuum-<id>``. The secret was verified by
    the caller and goes nowhere from here: the execution input is the run's description only.

    ``request_id`` makes a retried request (same id) answer with the run it started."""
    orgcode = check_request(scope, orgcode, confirmation_phrase)
    moment = utc_now()
    record = new_record(
        vacuum_id=new_vacuum_id(moment),
        scope=scope,
        orgcode=orgcode,
        dry_run=dry_run,
        reason=reason,
        source=source,
        actor=actor,
    )
    if request_id:
        record["requestId"] = request_id
    record |= dry_run_binding.bind(scope=scope, orgcode=orgcode, dry_run=dry_run, dry_run_id=dry_run_id)
    vacuum_id = record["vacuumId"]
    try:
        _open_record(record)
    except VacuumMutexLocked:
        earlier = _run_of_request(request_id)
        if earlier is None:
            raise
        return public(earlier)
    audit(record, "requested")
    execution_input = {"vacuumId": vacuum_id, "scope": scope, "orgcode": orgcode, "dryRun": dry_run}
    try:
        started = client("stepfunctions").start_execution(
            stateMachineArn=settings().vacuum_state_machine_arn,
            name=f"vacuum-{vacuum_id}",
            input=json.dumps(execution_input),
        )
    except (ClientError, BotoCoreError) as error:
        message = f"could not start the vacuum state machine: {error}"
        _mark_failed(vacuum_id, {"code": VacuumStartFailed.code, "message": message}, execution_arn=None)
        raise VacuumStartFailed(message) from None
    # Admit may have bound the ARN already; either way it is this execution's.
    bound = store.update_record(
        vacuum_id,
        set_fields={"executionArn": started["executionArn"]},
        execution_arn=started["executionArn"],
        execution_arn_unset_ok=True,
    )
    metrics.add_metric(name="VacuumRequested", unit="Count", value=1)
    return public(bound or store.get_record(vacuum_id) or record)


def _run_of_request(request_id: str | None) -> dict | None:
    """The run holding the mutex if the same request (a client retry) started it."""
    holder = store.read_mutex() if request_id else None
    record = store.get_record(holder["owner"]) if holder else None
    return record if record and record.get("requestId") == request_id else None


def get(vacuum_id: str) -> dict:
    record = store.get_record(vacuum_id)
    if record is None:
        raise VacuumNotFound(f"no vacuum with id {vacuum_id}")
    return record


# An execution can end without reaching its own "Record failure" step: stopped from the console,
# or timed out. Its record would stay pending/running (and --watch would wait for ever), so a
# status read closes such a record as failed; the mutex is released with it.
ENDED_WITHOUT_OUTCOME = ("FAILED", "ABORTED", "TIMED_OUT")


def status(vacuum_id: str) -> dict:
    record = get(vacuum_id)
    if record["status"] in ("pending", "running") and record.get("executionArn"):
        ended = _execution_status(record["executionArn"])
        if ended in ENDED_WITHOUT_OUTCOME:
            error = {
                "code": VacuumStepFailed.code,
                "type": f"Execution{ended.title().replace('_', '')}",
                "message": f"the execution ended {ended} without recording an outcome",
            }
            if _mark_failed(vacuum_id, error, execution_arn=record["executionArn"]):
                record = get(vacuum_id)
    return public(record)


def _execution_status(execution_arn: str) -> str | None:
    try:
        return client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    except (ClientError, BotoCoreError) as error:
        # The record is still the best answer; reconciling can wait for the next read.
        logger.warning("could not describe the vacuum execution", extra={"error": str(error)})
        return None


def cancel(vacuum_id: str, *, actor: str | None, source: str) -> dict:
    """Pending → cancelled (conditional), then stop the execution and free the mutex."""
    record = store.update_record(
        vacuum_id,
        set_fields={"status": "cancelled", "finishedAt": iso(utc_now()), "cancelledBy": actor},
        from_statuses=("pending",),
    )
    if record is None:
        current = get(vacuum_id)
        raise VacuumNotCancellable(
            f"vacuum {vacuum_id} is {current['status']}; only a pending vacuum can be cancelled"
        )
    if record.get("executionArn"):
        try:
            client("stepfunctions").stop_execution(
                executionArn=record["executionArn"],
                error="VacuumCancelled",
                cause=f"cancelled by {actor or 'an operator'} ({source})",
            )
        except ClientError as error:
            # Safe to go on: the record is cancelled, so the execution ends at its next check.
            logger.warning("stop_execution failed", extra={"vacuumId": vacuum_id, "error": str(error)})
    store.release_mutex(vacuum_id)
    audit(record, "cancelled", by=actor, via=source)
    metrics.add_metric(name="VacuumCancelled", unit="Count", value=1)
    return public(record)


# -- planning: exactly what a run may touch -----------------------------------------------------
def build_plan(registry: Registry, scope: Scope, orgcode: str | None, limits: purge.Limits) -> dict:
    """The run's units of work, from the registry. vacuum-org: org-scoped services only, each table
    by its declared org lookup, each bucket under ``<orgcode>/``, no log groups. vacuum-all:
    every table (split into parallel scan segments by size), whole buckets, log groups."""
    tables: list[dict] = []
    buckets: list[dict] = []
    log_groups: list[dict] = []
    org = orgcode if scope == "org" else None
    for service in registry.services:
        if scope == "org" and not service.org_scoped:
            continue
        for tbl in service.tables:
            base = {"service": service.code, "table": tbl.name, "keyNames": list(tbl.key_names)}
            if scope == "org":
                if tbl.org_lookup == "none":  # a cross-org table: it has no org's items to find
                    continue
                hash_key = next(k.attribute_name for k in tbl.key_schema if k.key_type == "HASH")
                unit = {**base, "orgcode": org, "lookup": tbl.org_lookup, "orgIndex": tbl.org_index}
                tables.append(purge.TableUnit.model_validate({**unit, "hashKey": hash_key}).dump())
                continue
            segments = purge.segment_count(purge.table_item_count(tbl.name), limits)
            for segment in range(segments):
                unit = {**base, "lookup": "all", "segment": segment, "totalSegments": segments}
                tables.append(purge.TableUnit.model_validate(unit).dump())
        for bucket in service.buckets:
            buckets.append(purge.BucketUnit(service=service.code, orgcode=org, bucket=bucket).dump())
        if scope == "all":
            for group in service.log_groups:
                log_groups.append(purge.LogGroupUnit(service=service.code, log_group=group).dump())
    return {"tables": tables, "buckets": buckets, "logGroups": log_groups}


def zero_stats(plan: dict, scope: Scope) -> dict:
    """Per-service counters (ADDed to as chunks finish) and the units each service has."""
    counters = COUNTERS + (LOG_COUNTERS if scope == "all" else ())
    services: dict[str, dict] = {}
    for unit in (*plan["tables"], *plan["buckets"], *plan["logGroups"]):
        entry = services.setdefault(unit["service"], {name: 0 for name in counters} | {"units": 0})
        entry["units"] += 1
        entry["unitsDone"] = 0
    return {"services": services, "totals": totals(services)}


def totals(services: dict[str, dict]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for entry in services.values():
        for name, value in entry.items():
            summed[name] = summed.get(name, 0) + int(value)
    return summed


# -- the state machine's steps -------------------------------------------------------------------
class ConsoleStart(BaseModel):
    """A console (or other IAM-authorised) start: the execution input describes the run."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", str_strip_whitespace=True)

    scope: Scope
    orgcode: str | None = None
    dry_run: bool = Field(default=False, alias="dryRun")
    reason: str = Field(default="started from the Step Functions console", min_length=1, max_length=500)
    confirmation_phrase: str | None = Field(default=None, alias="confirmationPhrase")
    dry_run_id: str | None = Field(default=None, alias="dryRunId", max_length=64)


def _run(record: dict, *, admitted: bool) -> dict:
    return {
        "vacuumId": record["vacuumId"],
        "scope": record["scope"],
        "orgcode": record.get("orgcode"),
        "dryRun": bool(record["dryRun"]),
        "pendingSeconds": settings().vacuum_pending_seconds,
        "admitted": admitted,
    }


def admit(execution_input: dict, execution_arn: str) -> dict:
    """The first step. With a vacuumId: the request handler's pending record, bound to this
    execution. Without: a console start — check it like a request, take the mutex, write the record."""
    vacuum_id = execution_input.get("vacuumId")
    if vacuum_id:
        record = store.update_record(
            vacuum_id,
            set_fields={"executionArn": execution_arn},
            from_statuses=("pending",),
            execution_arn=execution_arn,
            execution_arn_unset_ok=True,
        )
        if record is None:
            current = store.get_record(vacuum_id)
            if (
                current
                and current["status"] == "cancelled"
                and current.get("executionArn") in (None, execution_arn)
            ):
                return _run(current, admitted=False)  # cancelled before this execution began
            state = current["status"] if current else "missing"
            raise VacuumNotAdmitted(f"vacuum {vacuum_id} is not a pending run of this execution ({state})")
        renew_mutex(vacuum_id, extra_seconds=settings().vacuum_pending_seconds)
        return _run(record, admitted=True)
    return _admit_console_start(execution_input, execution_arn)


def _admit_console_start(execution_input: dict, execution_arn: str) -> dict:
    described = {key: value for key, value in execution_input.items() if key != "vacuumId"}
    try:
        start = ConsoleStart.model_validate(described)
    except ValidationError as error:
        fields = ", ".join(".".join(map(str, detail["loc"])) for detail in error.errors(include_input=False))
        raise InvalidInput(
            f"invalid execution input ({fields}); see the vacuum state machine's Comment"
        ) from None
    orgcode = check_request(start.scope, start.orgcode, start.confirmation_phrase)
    moment = utc_now()
    record = new_record(
        vacuum_id=new_vacuum_id(moment),
        scope=start.scope,
        orgcode=orgcode,
        dry_run=start.dry_run,
        reason=start.reason,
        source="console",
        actor=f"execution:{execution_arn.rsplit(':', 1)[-1]}",
    )
    record["executionArn"] = execution_arn
    # A console start names its dry-run (dryRunId) in the input; it is bound like a request's.
    record |= dry_run_binding.bind(
        scope=start.scope, orgcode=orgcode, dry_run=start.dry_run, dry_run_id=start.dry_run_id
    )
    _open_record(record)
    audit(record, "requested")
    return _run(record, admitted=True)


def start(vacuum_id: str, execution_arn: str) -> dict:
    """After the pending window: pending → running (cancel may have won: then stop quietly)."""
    current = get(vacuum_id)
    plan = build_plan(
        load_registry(), current["scope"], current.get("orgcode"), purge.Limits.from_environment()
    )
    record = store.update_record(
        vacuum_id,
        set_fields={
            "status": "running",
            "startedAt": iso(utc_now()),
            "stats": zero_stats(plan, current["scope"]),
        },
        from_statuses=("pending",),
        execution_arn=execution_arn,
    )
    if record is None:
        current = get(vacuum_id)
        if current["status"] == "cancelled":
            return {"started": False}
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {current['status']}, not pending; not starting it")
    renew_mutex(vacuum_id)
    audit(record, "started")
    return {"started": True, "plan": plan}


def purge_chunk(vacuum_id: str, unit: purge.WorkUnit, cursor: purge.Cursor, *, dry_run: bool) -> dict:
    """One bounded chunk of one unit; its counts land on the record as it goes. A run that is no
    longer ``running`` (failed elsewhere) stops at the next report, its counts still recorded."""
    renew_mutex(vacuum_id)

    def record(counts: dict[str, int]) -> None:
        status = store.add_stats(vacuum_id, unit.service, counts)
        if status != "running":
            raise VacuumNotAdmitted(
                f"vacuum {vacuum_id} is {status or 'missing'}, no longer running; stopping"
            )

    limits = purge.Limits.from_environment()
    result = purge.run_chunk(
        unit,
        cursor,
        dry_run=dry_run,
        limits=limits,
        checkpoint=lambda delta, _cursor, _done: record(delta.as_dict()),
    )
    if result.done:
        record({"unitsDone": 1})
    return {"cursor": result.cursor, "done": result.done}


def verify(vacuum_id: str, plan: dict) -> dict:
    """What the run was meant to delete must be gone: count what is left in scope."""
    renew_mutex(vacuum_id)
    record = get(vacuum_id)
    started_ms = int(datetime.fromisoformat(record["startedAt"].replace("Z", "+00:00")).timestamp() * 1000)
    units: dict[str, purge.WorkUnit] = {}
    for raw in (*plan["tables"], *plan["buckets"], *plan["logGroups"]):
        unit = purge.UNIT.validate_python(raw)
        if isinstance(unit, purge.TableUnit) and unit.total_segments > 1:
            unit = unit.model_copy(update={"segment": 0, "total_segments": 1})  # the whole table at once
        units[json.dumps(unit.dump(), sort_keys=True)] = unit
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="vacuum-verify") as pool:
        counts = list(
            pool.map(lambda unit: purge.remaining(unit, created_before_ms=started_ms), units.values())
        )
    left = {_describe(unit): count for unit, count in zip(units.values(), counts, strict=True) if count}
    if left:
        listed = "; ".join(f"{name}: {count}+" for name, count in left.items())
        raise VacuumIncomplete(f"verification found data left in scope: {listed}")
    return {"verified": True, "checked": len(units)}


def _describe(unit: purge.WorkUnit) -> str:
    if isinstance(unit, purge.TableUnit):
        return unit.table
    if isinstance(unit, purge.BucketUnit):
        return f"s3://{unit.bucket}/{unit.prefix}"
    return unit.log_group


def finalise(vacuum_id: str, execution_arn: str) -> dict:
    """running → completed (the totals were kept by the chunks' atomic ADDs); audit; free the mutex."""
    record = store.update_record(
        vacuum_id,
        set_fields={"status": "completed", "finishedAt": iso(utc_now())},
        from_statuses=("running",),
        execution_arn=execution_arn,
    )
    if record is None:
        raise VacuumNotAdmitted(f"vacuum {vacuum_id} is {get(vacuum_id)['status']}; cannot complete it")
    store.release_mutex(vacuum_id)
    run_totals = record["stats"]["totals"]
    audit(record, "completed", totals=run_totals)
    metrics.add_metric(name="VacuumCompleted", unit="Count", value=1)
    return {"vacuumId": vacuum_id, "status": "completed", "totals": run_totals}


def _error_message(error: dict) -> str:
    """Step Functions hands a Lambda error's Cause as the function's JSON error payload."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause


def _mark_failed(vacuum_id: str, error: dict, *, execution_arn: str | None) -> bool:
    """pending|running → failed, keeping the partial stats; then free the mutex and audit.
    Only the execution the record belongs to may fail it (``None``: the request handler, before
    any execution existed)."""
    record = store.update_record(
        vacuum_id,
        set_fields={"status": "failed", "finishedAt": iso(utc_now()), "error": error},
        from_statuses=("pending", "running"),
        execution_arn=execution_arn,
    )
    if record is None:
        return False
    store.release_mutex(vacuum_id)
    audit(record, "failed", error=error, totals=record.get("stats", {}).get("totals"))
    metrics.add_metric(name="VacuumFailed", unit="Count", value=1)
    return True


def fail(state: dict, execution_arn: str) -> dict:
    """Every Catch ends here: record the error on this execution's record (if it has one)."""
    caught = state.get("error") or {}
    name = caught.get("Error", "States.Unknown")
    # A stable code for the record (as every other answer has); the raw name stays in ``type``.
    code = CODE_BY_CLASS_NAME.get(name, VacuumStepFailed.code)
    error = {"code": code, "type": name, "message": _error_message(caught)[:2000]}
    vacuum_id = state.get("vacuumId")
    recorded = bool(vacuum_id) and _mark_failed(vacuum_id, error, execution_arn=execution_arn)
    return {"error": {"Error": name, "Cause": error["message"]}, "recorded": recorded}
