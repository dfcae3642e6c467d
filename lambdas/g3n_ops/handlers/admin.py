"""Direct-invoke administration: set the first secret code, rotate it."""

from g3n_ops.domain import secret
from g3n_ops.handlers.operations import Operations
from g3n_ops.models import InitSecretRequest, Request, RotateSecretRequest
from g3n_ops.observability import logger, metrics, tracer

operations = Operations()


def _by(request: Request) -> dict:
    return {"operation": request.operation, "source": request.source, "actor": request.actor}


@operations.route("init-secret", InitSecretRequest)
def init_secret(request: InitSecretRequest) -> dict:
    secret.initialise(request.secret_code.get_secret_value(), by=_by(request))
    return {"initialised": True}


@operations.route("rotate-secret", RotateSecretRequest)
def rotate_secret(request: RotateSecretRequest) -> dict:
    secret.rotate(
        request.secret_code.get_secret_value(),
        request.new_secret_code.get_secret_value(),
        by=_by(request),
    )
    return {"rotated": True}


@logger.inject_lambda_context(log_event=False, clear_state=True)  # the event carries the secret code
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return operations(event)
