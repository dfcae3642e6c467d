"""The failure step: every Catch of the vacuum state machine ends in ``FAIL_STATE``, whose task
records the failure (or winds down a run cancelled while running).
"""

from __future__ import annotations

import json

from g3n_ops.contract.errors import CODE_BY_CLASS_NAME, VacuumStepFailed
from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.domain.vacuum.maintenance_bracket import close_window
from g3n_ops.domain.vacuum.records import VacuumError
from g3n_ops.domain.vacuum.requests import mark_failed
from g3n_ops.domain.vacuum.settle import drain_and_settle
from g3n_ops.store import vacuum as store
from g3n_ops.store import vacuum_mutex

# The vacuum ASL's state whose task records a failure (every Catch leads there).
FAIL_STATE = "Record failure"


def _error_message(error: dict) -> str:
    """Step Functions hands a Lambda error's Cause as the function's JSON error payload."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause


def fail(state: dict, execution_arn: str) -> dict:
    """Every Catch ends here. A run cancelled while running winds down (the mutex is freed here,
    once no chunk of it runs any more); otherwise the record → failed with the error."""
    caught = state.get("error") or {}
    name = caught.get("Error", "States.Unknown")
    # A stable code for the record (as every other answer has); the raw name stays in ``type``.
    code = CODE_BY_CLASS_NAME.get(name, VacuumStepFailed.code)
    error = VacuumError(code=code, type=name, message=_error_message(caught)[:2000])
    vacuum_id = state.get("vacuumId")
    record = store.get_record(vacuum_id) if vacuum_id else None
    owned = record is not None and record.execution_arn == execution_arn
    if record and owned and record.status == VacuumStatus.CANCELLING:
        drain_and_settle(vacuum_id)  # cancelled once the chunks in flight are done
        return {"vacuumId": vacuum_id, "outcome": "cancelled"}
    if record and owned and record.status == VacuumStatus.CANCELLED:
        vacuum_mutex.release_mutex(vacuum_id)  # cancelled before runs settled (an older record)
        close_window(record, "was cancelled while running")
        return {"vacuumId": vacuum_id, "outcome": "cancelled"}
    recorded = bool(record) and mark_failed(vacuum_id, error, execution_arn=execution_arn)
    if recorded:
        drain_and_settle(vacuum_id)  # failing → failed once the chunks in flight are done
    return {
        "vacuumId": vacuum_id,
        "outcome": "failed",
        "error": {"Error": name, "Cause": error.message},
        "recorded": recorded,
    }
