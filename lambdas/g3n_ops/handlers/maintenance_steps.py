"""The maintenance lifecycle state machine's tasks: admit, start when due, probe, expire.

Event: ``{"step": "admit" | "start" | "probe" | "expire", "executionArn": ..., ...}`` (built by the ASL's
Parameters). A step that cannot proceed raises an ``OpsError``; its class name is the error the
state machine's Catch sees.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from g3n_ops.aws import transient_errors_named
from g3n_ops.contract import maintenance as limits
from g3n_ops.contract.errors import InvalidInput
from g3n_ops.domain import maintenance, maintenance_effect, step_caller
from g3n_ops.handlers.operations import describe_validation_error
from g3n_ops.observability import logger, metrics, tracer
from g3n_ops.store import maintenance as store


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid", str_strip_whitespace=True)


class StepEvent(_Model):
    step: Literal["admit", "start", "probe", "expire"]
    execution_arn: str = Field(alias="executionArn")
    maintenance_id: str | None = Field(default=None, alias="maintenanceId")
    input: dict | None = None  # admit only: the execution's own input
    phase: Literal["blocked", "recovered"] = "blocked"  # probe only
    until: str | None = Field(default=None, max_length=64)  # probe only: stop at the expected end


class ExistingWindow(_Model):
    """Execution input from maintenance-schedule or a manual start: the record exists."""

    maintenance_id: str = Field(alias="maintenanceId")


class NewWindow(_Model):
    """Execution input from the console or an EventBridge schedule: no record yet."""

    source: Literal["console", "schedule"] = "console"
    description: str = Field(max_length=4 * limits.MAX_DESCRIPTION_LENGTH)
    duration: int
    auto_end: bool = Field(default=False, alias="autoEnd")
    start: str | None = Field(default=None, max_length=64)
    # Narrowing (recurringMaintenance's ``services`` / ``allowMethods``); the domain checks them.
    services: list[str] | None = Field(default=None, max_length=64)
    allow_methods: list[str] | None = Field(default=None, alias="allowMethods", max_length=16)


def _parse(model: type[_Model], data: object) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(describe_validation_error(error)) from None


def admit(event: StepEvent) -> dict:
    raw = event.input or {}
    if "maintenanceId" in raw:
        existing = _parse(ExistingWindow, raw)
        return maintenance.admit(existing.maintenance_id, event.execution_arn)
    window = _parse(NewWindow, raw)
    record = maintenance.schedule_from_execution(
        description=window.description,
        duration=window.duration,
        start=window.start,
        auto_end=window.auto_end,
        source=window.source,
        execution_arn=event.execution_arn,
        services=window.services,
        allow_methods=window.allow_methods,
    )
    return maintenance.timing(record)


def _window_id(event: StepEvent) -> str:
    if not event.maintenance_id:
        raise InvalidInput(f"the {event.step} step needs maintenanceId")
    return event.maintenance_id


STEPS = {
    "admit": admit,
    "start": lambda event: maintenance.start_when_due(_window_id(event), event.execution_arn),
    "probe": lambda event: maintenance_effect.probe(_window_id(event), event.phase, until=event.until),
    "expire": lambda event: maintenance.expire(_window_id(event), event.execution_arn),
}


def confirm_caller(event: StepEvent) -> None:
    """Step Functions must vouch for the event (domain/step_caller.py); its claims are not proof."""
    claimed = event.model_dump(by_alias=True, include={"step", "execution_arn", "maintenance_id"})
    if event.step == "admit":
        raw = event.input or {}
        given = raw.get("maintenanceId")
        claimed["maintenanceId"] = given if isinstance(given, str) else None
        step_caller.confirm(
            "maintenance",
            event.execution_arn,
            id_key="maintenanceId",
            record_id=None,
            admit_input=raw,
            claimed=claimed,
        )
        return
    step_caller.confirm(
        "maintenance",
        event.execution_arn,
        id_key="maintenanceId",
        record_id=_window_id(event),
        claimed=claimed,
        owners=lambda: (_timer(_window_id(event)),),
    )


def _timer(maintenance_id: str) -> str | None:
    """The execution timing the window, if it exists."""
    record = store.get(maintenance_id)
    return record.execution_arn if record else None


@logger.inject_lambda_context(log_event=False, clear_state=True)  # console input is free text: never log it
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    step = _parse(StepEvent, event)
    logger.thread_safe_append_keys(step=step.step, maintenanceId=step.maintenance_id)
    with transient_errors_named(f"the maintenance window's {step.step} step"):
        confirm_caller(step)
        return STEPS[step.step](step)
