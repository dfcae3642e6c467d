"""API Gateway (HTTP API, IAM-authorised) read routes."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from g3n_ops.domain import maintenance, status
from g3n_ops.errors import InvalidInput, OpsError, UnknownOperation
from g3n_ops.handlers.operations import AWS_ERRORS, aws_failure
from g3n_ops.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()

# Error code → HTTP status; anything unlisted is a 400 (the caller can act on the message).
HTTP_STATUS = {
    "maintenance-not-found": 404,
    "vacuum-not-found": 404,
    "unknown-operation": 404,
    "internal-error": 500,
    "aws-throttled": 503,
    "aws-unavailable": 503,
    "aws-access-denied": 500,
    "aws-error": 500,
}
ROUTES = "GET /ping, /stat, /maintenance, /maintenance/{maintenanceId}"


@app.exception_handler(OpsError)
def ops_error(error: OpsError) -> Response:
    return Response(
        status_code=HTTP_STATUS.get(error.code, 400),
        content_type=content_types.APPLICATION_JSON,
        body=error.to_dict(),
    )


@app.exception_handler(list(AWS_ERRORS))
def aws_error(error: Exception) -> Response:
    """An AWS error a route met: its stable code (AWS's code to the log, never its text)."""
    route = f"{app.current_event.http_method} {app.current_event.path}"[:200]
    return ops_error(aws_failure(error, doing=f"the API route {route}"))


@app.not_found
def unknown_route(error: Exception) -> Response:
    """Same error shape as every other answer (not the resolver's own 404 body)."""
    route = f"{app.current_event.http_method} {app.current_event.path}"[:200]
    return ops_error(UnknownOperation(f"no route {route!r}; routes: {ROUTES}"))


@app.get("/ping")
def ping() -> dict:
    return status.ping()


@app.get("/stat")
def stat() -> dict:
    return status.stat()


def query_int(name: str, default: int, *, low: int, high: int) -> int:
    raw = app.current_event.get_query_string_value(name, default_value=None)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InvalidInput(f"query parameter '{name}' must be an integer from {low} to {high}")
    return int(raw)


@app.get("/maintenance")
def maintenance_list() -> dict:
    """Windows newest first: ``?status=scheduled|active|ended|cancelled&limit=1..100&nextToken=``."""
    query = app.current_event.get_query_string_value
    return maintenance.list_windows(
        status=query("status", default_value=None) or None,
        limit=query_int("limit", 20, low=1, high=100),
        next_token=query("nextToken", default_value=None) or None,
    )


@app.get("/maintenance/<maintenance_id>")
def maintenance_get(maintenance_id: str) -> dict:
    return maintenance.get(maintenance_id)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
