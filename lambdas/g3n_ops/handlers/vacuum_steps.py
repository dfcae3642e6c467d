"""The vacuum state machine's tasks (workflows/vacuum.asl.json), one Lambda, ``step`` selects.

Unlike the direct operations, a step RAISES its OpsError: Step Functions sees the class name as
the error and the state machine's Catch sends every failure to the ``fail`` step.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from g3n_ops.domain import purge, vacuum
from g3n_ops.errors import InvalidInput
from g3n_ops.handlers.operations import describe_validation_error
from g3n_ops.observability import logger, metrics, tracer

ExecutionArn = Annotated[str, Field(alias="executionArn", min_length=1)]
VacuumId = Annotated[str, Field(alias="vacuumId", min_length=1, max_length=64)]


class _Step(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Admit(_Step):
    step: Literal["admit"]
    input: dict[str, Any]
    execution_arn: ExecutionArn


class Start(_Step):
    step: Literal["start"]
    vacuum_id: VacuumId
    execution_arn: ExecutionArn


class PurgeChunk(_Step):
    step: Literal["purge-chunk"]
    vacuum_id: VacuumId
    dry_run: bool = Field(alias="dryRun")
    unit: purge.WorkUnit
    cursor: dict[str, Any] | None = None
    done: bool = False


class Verify(_Step):
    step: Literal["verify"]
    vacuum_id: VacuumId
    plan: dict[str, list[dict[str, Any]]]


class Finalise(_Step):
    step: Literal["finalise"]
    vacuum_id: VacuumId
    execution_arn: ExecutionArn


class Fail(_Step):
    step: Literal["fail"]
    state: dict[str, Any]
    execution_arn: ExecutionArn


StepEvent = Annotated[Admit | Start | PurgeChunk | Verify | Finalise | Fail, Field(discriminator="step")]
STEP = TypeAdapter(StepEvent)


def run_step(event: dict) -> dict:
    try:
        step = STEP.validate_python(event)
    except ValidationError as error:
        raise InvalidInput(describe_validation_error(error)) from None
    logger.append_keys(step=step.step, vacuum_id=getattr(step, "vacuum_id", None))
    match step:
        case Admit():
            return vacuum.admit(step.input, step.execution_arn)
        case Start():
            return vacuum.start(step.vacuum_id, step.execution_arn)
        case PurgeChunk():
            progress = vacuum.purge_chunk(step.vacuum_id, step.unit, step.cursor, dry_run=step.dry_run)
            # The next iteration's input: the same unit from the new cursor.
            return {**step.model_dump(by_alias=True, mode="json"), **progress}
        case Verify():
            return vacuum.verify(step.vacuum_id, step.plan)
        case Finalise():
            return vacuum.finalise(step.vacuum_id, step.execution_arn)
        case Fail():
            return vacuum.fail(step.state, step.execution_arn)
    raise InvalidInput(f"unknown step {step}")  # unreachable: the union is exhaustive


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return run_step(event)
