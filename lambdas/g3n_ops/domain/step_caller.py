"""Who may drive a state machine step: only the execution it names, as Step Functions describes it.

A steps function can be invoked by anyone allowed ``lambda:InvokeFunction``, with any event. So
an event's claims are never believed: before a step acts, ``DescribeExecution`` must show that
the execution it names

- exists and belongs to this stack's state machine for that lifecycle,
- is ``RUNNING`` (a step runs inside its execution; an ended one sends nothing),
- has an input that names this run: the same record id, or, for a console or schedule start
  (whose input has no id), exactly the input the ``admit`` event carries.

Anything else is refused (``step-caller-refused``): logged with what was claimed, counted
(``StepCallerRefused``, alarmed), audited, and nothing changes. The domain checks the rest
(the record belongs to that execution, the pending window is over, verify is done).

A confirmed execution is remembered per container for ``CACHE_SECONDS``, so a run of thousands
of chunks pays one ``DescribeExecution`` a minute, not one per chunk. What that leaves: an event
naming an execution that ended within the last minute, sent to a warm container that saw it
running. Such an execution no longer owns a running record, so the domain's own checks refuse it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from g3n_ops import retry
from g3n_ops.contract.errors import StepCallerRefused
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.domain import audit as maintenance_audit
from g3n_ops.domain.vacuum.audit import audit as vacuum_audit
from g3n_ops.domain.vacuum.audit import audit_unknown_run
from g3n_ops.gateways import executions
from g3n_ops.observability import logger, metrics
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as vacuum_store

Lifecycle = Literal["vacuum", "maintenance"]
CACHE_SECONDS = 60.0
REFUSED_METRIC = Metric.STEP_CALLER_REFUSED
# DescribeExecution's answers for an ARN that names no execution (or no valid one).
_NOT_FOUND = ("ExecutionDoesNotExist", "InvalidArn", "ValidationException", "StateMachineDoesNotExist")

_confirmed: dict[str, tuple[float, Execution]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Execution:
    """An execution as Step Functions describes it (never as an event claims it)."""

    arn: str
    state_machine_arn: str
    name: str
    status: str
    input: Any
    error: str | None = None
    cause: str | None = None

    def input_names(self, key: str) -> str | None:
        """The record id (``vacuumId`` / ``maintenanceId``) the input names, if it names one."""
        value = self.input.get(key) if isinstance(self.input, dict) else None
        return value if isinstance(value, str) and value else None


def state_machine_arn(lifecycle: Lifecycle) -> str:
    config = settings()
    return config.vacuum_state_machine_arn if lifecycle == "vacuum" else config.maintenance_state_machine_arn


def describe(execution_arn: str) -> Execution | None:
    """The execution as Step Functions knows it; None if there is no such execution."""
    try:
        found = retry.call(
            executions.describe,
            execution_arn=execution_arn,
            doing="describe the execution a step event names",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
            return None
        raise
    try:
        given = json.loads(found.get("input") or "null")
    except ValueError:
        given = None
    return Execution(
        arn=found["executionArn"],
        state_machine_arn=found["stateMachineArn"],
        name=found.get("name", ""),
        status=found["status"],
        input=given,
        error=found.get("error"),
        cause=found.get("cause"),
    )


def running_execution(
    lifecycle: Lifecycle, execution_arn: str, *, claimed: dict, fresh: bool = False
) -> Execution:
    """The RUNNING execution of ``lifecycle``'s state machine named ``execution_arn``, or refuse.
    ``fresh``: ask Step Functions even if this container confirmed it lately."""
    now = time.monotonic()
    with _lock:
        cached = _confirmed.get(execution_arn)
    if cached and cached[0] > now and not fresh:
        return cached[1]
    execution = describe(execution_arn)
    if execution is None:
        refuse(lifecycle, "the execution it names does not exist", claimed)
    if execution.state_machine_arn != state_machine_arn(lifecycle):
        refuse(
            lifecycle, f"the execution it names is not one of this stack's {lifecycle} executions", claimed
        )
    if execution.status != "RUNNING":
        refuse(lifecycle, f"the execution it names is {execution.status}, not RUNNING", claimed)
    with _lock:
        for stale in [arn for arn, (until, _) in _confirmed.items() if until <= now]:
            del _confirmed[stale]
        _confirmed[execution_arn] = (now + CACHE_SECONDS, execution)
    return execution


def confirm(
    lifecycle: Lifecycle,
    execution_arn: str,
    *,
    id_key: str,
    record_id: str | None,
    claimed: dict,
    admit_input: dict | None = None,
    owners: Callable[[], Collection[str | None]] | None = None,
) -> Execution:
    """Refuse unless ``execution_arn`` is a RUNNING execution of ``lifecycle`` whose input names
    this run: ``record_id`` (the event's id) for a run step, ``admit_input`` for an admit. An
    execution started without an id (console, schedule) names no run in its input: then the
    record must name it, among ``owners()`` (the executions the record says it belongs to)."""
    # An admit comes once per execution: always asked afresh (it compares the whole input).
    execution = running_execution(lifecycle, execution_arn, claimed=claimed, fresh=admit_input is not None)
    if admit_input is not None:
        if execution.input != admit_input:
            refuse(lifecycle, "its input is not the input of the execution it names", claimed)
        return execution
    named = execution.input_names(id_key)
    if named is not None and named != record_id:
        refuse(lifecycle, f"the execution it names runs {id_key} {named}, not {record_id}", claimed)
    if named is None and owners is not None and execution_arn not in owners():
        refuse(lifecycle, f"the execution it names does not run {id_key} {record_id}", claimed)
    return execution


def current_state(execution_arn: str) -> str | None:
    """The state the execution entered last (the state a task it runs now belongs to)."""
    latest = retry.call(
        executions.latest_events,
        execution_arn=execution_arn,
        count=25,
        doing="read which state the execution is in",
    )
    entered = [
        event["stateEnteredEventDetails"]["name"] for event in latest if "stateEnteredEventDetails" in event
    ]
    return entered[0] if entered else None


def confirm_in_state(lifecycle: Lifecycle, execution: Execution, state: str, *, claimed: dict) -> None:
    """Refuse unless ``execution`` is in ``state`` now: for a step that only one state may send
    (recording a failure), not merely any state of a running execution."""
    entered = current_state(execution.arn)
    if entered != state:
        refuse(lifecycle, f"the execution it names is in {entered!r}, not {state!r}", claimed)


def refuse(lifecycle: Lifecycle, why: str, claimed: dict) -> None:
    """Log, count, audit, then raise ``step-caller-refused``. ``claimed``: ids only, never free text."""
    message = f"a {lifecycle} step event was refused: {why}; nothing was changed"
    logger.warning("step caller refused", extra={"lifecycle": lifecycle, "why": why, "claimed": claimed})
    metrics.add_metric(name=REFUSED_METRIC, unit="Count", value=1)
    _audit(lifecycle, why, claimed)
    raise StepCallerRefused(message)


def _audit(lifecycle: Lifecycle, why: str, claimed: dict) -> None:
    # Each lifecycle's steps function writes its own audit trail (no new grant): the vacuum
    # trail of the id claimed, the maintenance audit log group.
    if lifecycle == "vacuum":
        claimed_id = str(claimed.get("vacuumId") or "unnamed")
        record = vacuum_store.get_record(claimed_id) if claimed.get("vacuumId") else None
        if record is None:
            audit_unknown_run(claimed_id, "step-caller-refused", why=why, claimed=claimed)
        else:
            vacuum_audit(record, "step-caller-refused", why=why, claimed=claimed)
        return
    line = {
        "action": "step-caller-refused",
        "at": iso(utc_now()),
        "maintenanceId": claimed.get("maintenanceId"),
    }
    maintenance_audit.write(line | {"why": why, "claimed": claimed})


def forget() -> None:
    """Drop every remembered confirmation (a fresh container; the local stack's reset)."""
    with _lock:
        _confirmed.clear()
