"""API Gateway (HTTP API, IAM-authorised) read routes."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from g3n_ops.domain import maintenance, status
from g3n_ops.errors import InvalidInput, OpsError
from g3n_ops.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()

# Error code → HTTP status; anything unlisted is a 400 (the caller can act on the message).
HTTP_STATUS = {"maintenance-not-found": 404, "vacuum-not-found": 404, "internal-error": 500}


@app.exception_handler(OpsError)
def ops_error(error: OpsError) -> Response:
    return Response(
        status_code=HTTP_STATUS.get(error.code, 400),
        content_type=content_types.APPLICATION_JSON,
        body=error.to_dict(),
    )


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
