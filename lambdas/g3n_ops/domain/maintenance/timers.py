"""The lifecycle state machine's executions that time a window: start one, stop one, hand the
timing to a fresh one when a window is started by hand."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.gateways import executions
from g3n_ops.observability import logger
from g3n_ops.records.maintenance import MaintenanceRecord
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as store


# -- executions ----------------------------------------------------------------------------------
def start_execution(maintenance_id: str, name: str) -> str:
    response = executions.start(
        state_machine_arn=settings().maintenance_state_machine_arn,
        name=name,
        execution_input={"maintenanceId": maintenance_id},
    )
    return response["executionArn"]


def stop_execution(execution_arn: str, *, cause: str) -> None:
    """Best effort: an execution that cannot be stopped finds the record changed at its next
    step and ends without touching it."""
    try:
        executions.stop(execution_arn=execution_arn, cause=cause)
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "lifecycle execution not stopped", extra={"executionArn": execution_arn, "error": str(error)}
        )


def hand_timing_to_new_execution(record: MaintenanceRecord) -> None:
    """A window started by hand is timed from its real start: a fresh execution (named
    ``<id>-started``) waits for the expected end, and the one still waiting for the scheduled
    start is stopped. If the fresh one cannot start, the old one times it at the scheduled start."""
    maintenance_id = record.maintenance_id
    try:
        new_arn = start_execution(maintenance_id, f"{maintenance_id}-started")
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "timer hand-over not started", extra={"maintenanceId": maintenance_id, "error": str(error)}
        )
        return
    store.set_execution_arn(maintenance_id, new_arn)
    if record.execution_arn:
        stop_execution(record.execution_arn, cause=f"maintenance {maintenance_id} was started by hand")
