"""Routing for direct-invoke operations: ``{"operation": "<name>", ...}`` → a domain call.

Answers ``{"result": {...}}`` or ``{"error": {"code", "message"}}``. The secret code is verified
here, once, for every request model that carries one, so no operation can forget it; and an AWS
error any operation meets is mapped here, once, to a stable code (never AWS's own text).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from g3n_ops.aws import error_code, translate
from g3n_ops.contract.errors import AwsError, InvalidInput, OpsError, UnknownOperation
from g3n_ops.contract.metrics import Metric
from g3n_ops.domain import secret
from g3n_ops.models import SecretRequest
from g3n_ops.observability import logger, metrics

Route = tuple[type[BaseModel], Callable[[Any], dict]]
# What an AWS failure looks like when no domain call handled it. Powertools' parameter provider
# (the registry's SSM read) wraps AWS's error in GetParameterError.
AWS_ERRORS = (ClientError, BotoCoreError, GetParameterError)


def aws_failure(error: Exception, *, doing: str) -> OpsError:
    """The stable OPS error for an AWS error met while ``doing`` something; AWS's code (never its
    text, which can echo request data) goes to the log for the operator. Used by every router and
    by the API handler, so the mapping lives here only."""
    cause = (error.__cause__ or error.__context__) if isinstance(error, GetParameterError) else error
    if isinstance(cause, (ClientError, BotoCoreError)):
        failure = translate(cause, doing=doing)
    else:
        failure = AwsError(f"AWS failed {doing} while reading a parameter; see the function's logs")
    logger.warning(
        "AWS error answered with a stable code",
        extra={"code": failure.code, "awsError": error_code(cause) or type(cause).__name__},
    )
    metrics.add_metric(name=Metric.OPERATION_AWS_ERROR, unit="Count", value=1)
    return failure


def describe_validation_error(error: ValidationError) -> str:
    """A person-readable summary that never echoes input values (they may hold the secret)."""
    parts = []
    for detail in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in detail["loc"]) or "request"
        parts.append(f"{field}: {detail['msg']}")
    return "; ".join(parts)


class Operations:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def route(self, name: str, model: type[BaseModel]) -> Callable:
        def register(function: Callable[[Any], dict]) -> Callable[[Any], dict]:
            self._routes[name] = (model, function)
            return function

        return register

    @property
    def names(self) -> list[str]:
        return sorted(self._routes)

    def __call__(self, event: dict) -> dict:
        try:
            return {"result": self._run(event)}
        except AWS_ERRORS as error:
            name = event.get("operation") if isinstance(event, dict) else None
            doing = f"the {name} operation" if name in self._routes else "the request"
            return aws_failure(error, doing=doing).to_dict()
        except OpsError as error:
            logger.info("operation refused", extra={"code": error.code})
            metrics.add_metric(name=Metric.OPERATION_ERROR, unit="Count", value=1)
            return error.to_dict()

    def _run(self, event: Any) -> dict:
        if not isinstance(event, dict) or not isinstance(event.get("operation"), str):
            raise InvalidInput("the request must be a JSON object with an 'operation' field")
        name = event["operation"]
        if name not in self._routes:
            raise UnknownOperation(f"unknown operation {name[:64]!r}; known: {', '.join(self.names)}")
        model, function = self._routes[name]
        try:
            request = model.model_validate(event)
        except ValidationError as error:
            raise InvalidInput(describe_validation_error(error)) from None
        if isinstance(request, SecretRequest):
            by = {"operation": name, "source": request.source, "actor": request.actor}
            secret.verify(
                request.secret_code.get_secret_value(),
                by=by,
                # by the route about to run: only the safety valves themselves are exempt
                lockout_exempt=name in secret.LOCKOUT_EXEMPT_OPERATIONS,
            )
        logger.thread_safe_append_keys(operation=name, source=getattr(request, "source", None))
        return function(request)
