"""Direct-invoke administration: rotate the secret code."""

from g3n_ops.domain import secret
from g3n_ops.handlers.operations import Operations
from g3n_ops.models import RotateSecretRequest
from g3n_ops.observability import logger, metrics, tracer

operations = Operations()


@operations.route("rotate-secret", RotateSecretRequest)
def rotate_secret(request: RotateSecretRequest) -> dict:
    secret.rotate(request.secret_code.get_secret_value(), request.new_secret_code.get_secret_value())
    return {"rotated": True}


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return operations(event)
