"""EventBridge target: Step Functions "Execution Status Change" events for OPS's state machines.

A malformed event is logged and dropped (raising would only make EventBridge retry it).
"""

from g3n_ops.contract.errors import OpsError
from g3n_ops.domain import execution_status
from g3n_ops.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False, clear_state=True)  # an execution's input may hold free text
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    try:
        return execution_status.handle(event)
    except OpsError as error:
        logger.warning("execution status event dropped", extra={"code": error.code, "error": error.message})
        return error.to_dict()
