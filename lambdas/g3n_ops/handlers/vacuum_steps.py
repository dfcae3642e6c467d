"""The vacuum state machine's tasks (workflows/vacuum.asl.json), one Lambda, ``step`` selects.

Unlike the direct operations, a step RAISES its OpsError: Step Functions sees the class name as
the error and the state machine's Catch sends every failure to the ``fail`` step. A chunk event
names its unit by id only; what it may touch comes from the record (domain/vacuum/plan.py).
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from g3n_ops.aws import transient_errors_named
from g3n_ops.contract.errors import InvalidInput
from g3n_ops.domain import step_caller
from g3n_ops.domain.vacuum import admission, chunks, continuation, failure, finalise
from g3n_ops.handlers.operations import describe_validation_error
from g3n_ops.observability import logger, metrics, tracer
from g3n_ops.store import vacuum as store

ExecutionArn = Annotated[str, Field(alias="executionArn", min_length=1, max_length=2048)]
VacuumId = Annotated[str, Field(alias="vacuumId", min_length=1, max_length=64)]


class _Step(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Admit(_Step):
    step: Literal["admit"]
    input: dict[str, Any]
    execution_arn: ExecutionArn


class _RunStep(_Step):
    vacuum_id: VacuumId
    execution_arn: ExecutionArn


class Start(_RunStep):
    step: Literal["start"]


class Round(_RunStep):
    step: Literal["round"]


class Continue(_RunStep):
    step: Literal["continue"]


class PurgeChunk(_RunStep):
    step: Literal["purge-chunk"]
    unit_id: str | None = Field(default=None, alias="unitId", max_length=80)
    turns_left: int = Field(default=1, alias="turnsLeft", ge=0, le=100_000)
    # Never sent by the state machine; accepted only to be compared with the record (a forged or
    # stale event that claims another unit or dry-run flag is a plan violation, and audited).
    unit: dict[str, Any] | None = None
    dry_run: bool | None = Field(default=None, alias="dryRun")


class Verify(_RunStep):
    step: Literal["verify"]


class Finalise(_RunStep):
    step: Literal["finalise"]


class Fail(_Step):
    step: Literal["fail"]
    state: dict[str, Any]
    execution_arn: ExecutionArn


StepEvent = Annotated[
    Admit | Start | Round | Continue | PurgeChunk | Verify | Finalise | Fail, Field(discriminator="step")
]
STEP = TypeAdapter(StepEvent)


def run_step(event: dict) -> dict:
    try:
        step = STEP.validate_python(event)
    except ValidationError as error:
        raise InvalidInput(describe_validation_error(error)) from None
    logger.thread_safe_append_keys(step=step.step, vacuum_id=getattr(step, "vacuum_id", None))
    with transient_errors_named(f"the vacuum's {step.step} step"):
        _confirm_caller(step)
        return _dispatch(step)


def _confirm_caller(step: StepEvent) -> None:
    """Step Functions must vouch for the event (domain/step_caller.py); its claims are not proof."""
    claimed = step.model_dump(by_alias=True, include={"step", "execution_arn", "vacuum_id", "unit_id"})
    match step:
        case Admit():
            given = step.input.get("vacuumId")
            claimed["vacuumId"] = given if isinstance(given, str) else None
            step_caller.confirm(
                "vacuum",
                step.execution_arn,
                id_key="vacuumId",
                record_id=None,
                admit_input=step.input,
                claimed=claimed,
            )
        case Fail():
            vacuum_id = step.state.get("vacuumId") if isinstance(step.state.get("vacuumId"), str) else None
            claimed["vacuumId"] = vacuum_id
            execution = step_caller.confirm(
                "vacuum",
                step.execution_arn,
                id_key="vacuumId",
                record_id=vacuum_id,
                claimed=claimed,
                owners=(lambda: _owners(vacuum_id)) if vacuum_id else None,
            )
            # Only the state machine's Catch records a failure: the execution must be in that state.
            step_caller.confirm_in_state("vacuum", execution, failure.FAIL_STATE, claimed=claimed)
        case _:
            step_caller.confirm(
                "vacuum",
                step.execution_arn,
                id_key="vacuumId",
                record_id=step.vacuum_id,
                claimed=claimed,
                owners=lambda: _owners(step.vacuum_id),
            )


def _owners(vacuum_id: str) -> tuple[str | None, ...]:
    """The executions a run belongs to: its own, and the one it continued from (whose continue
    step may be retried after the hand-over)."""
    record = store.get_record(vacuum_id)
    return (record.execution_arn, record.continued_from) if record else (None, None)


def _dispatch(step: StepEvent) -> dict:
    match step:
        case Admit():
            return admission.admit(step.input, step.execution_arn)
        case Start():
            return admission.start(step.vacuum_id, step.execution_arn)
        case Round():
            return continuation.next_round(step.vacuum_id, step.execution_arn)
        case Continue():
            return continuation.continue_run(step.vacuum_id, step.execution_arn)
        case PurgeChunk():
            claimed = step.model_dump(by_alias=True, include={"unit", "dry_run"}, exclude_none=True)
            return chunks.purge_chunk(
                step.vacuum_id, step.unit_id, step.execution_arn, step.turns_left, claimed=claimed
            )
        case Verify():
            return finalise.verify(step.vacuum_id, step.execution_arn)
        case Finalise():
            return finalise.finalise(step.vacuum_id, step.execution_arn)
        case Fail():
            return failure.fail(step.state, step.execution_arn)
    raise InvalidInput(f"unknown step {step}")  # unreachable: the union is exhaustive


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return run_step(event)
