"""API Gateway (HTTP API) routes: the operator's read API (IAM-authorised) and the public status page.

Parameters and responses are declared with types (``g3n_ops.api_models``); Powertools validates
both and generates the OpenAPI contract from them (``contract()``, served at ``GET /openapi.json``
and committed as docs/openapi.json).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, Server
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from g3n_ops.api_models import ErrorResponse, MaintenancePage, MaintenanceRecord, Ping, PublicStatus, Stat
from g3n_ops.contract.errors import InvalidInput, OpsError, RouteNotFound
from g3n_ops.contract.ids import MAINTENANCE_ID_HINT, MAINTENANCE_ID_PATTERN
from g3n_ops.contract.statuses import MAINTENANCE_STATUSES
from g3n_ops.domain import maintenance, public_status, status
from g3n_ops.handlers import status_html
from g3n_ops.handlers.operations import AWS_ERRORS, aws_failure
from g3n_ops.observability import logger, metrics, tracer

app = APIGatewayHttpResolver(enable_validation=True)

# Error code → HTTP status; anything unlisted is a 400 (the caller can act on the message).
HTTP_STATUS = {
    "maintenance-not-found": 404,
    "vacuum-not-found": 404,
    "route-not-found": 404,
    "internal-error": 500,
    # AWS failed OPS, not the caller: a server error whatever AWS said; transient ones are a 503
    # (retry shortly), distinct from a failure that needs someone to act (500).
    "aws-throttled": 503,
    "aws-unavailable": 503,
    "aws-access-denied": 500,
    "aws-error": 500,
}

CONTRACT_VERSION = "1.0.0"
SIGV4 = "sigv4"
OPERATOR = [{SIGV4: []}]  # the operator routes; the public ones name no security at all
SECURITY_SCHEMES = {
    SIGV4: APIKey.model_validate(
        {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "AWS Signature Version 4 for the service `execute-api`, by a principal "
            "allowed `execute-api:Invoke` on the route (API Gateway's IAM authoriser).",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    )
}

# What a bad parameter must look like: the schema's description and the 400's message, in one place.
PARAMETER_RULES = {
    "status": "status must be one of " + ", ".join(MAINTENANCE_STATUSES),
    "limit": "query parameter 'limit' must be an integer from 1 to 100",
    "nextToken": "the nextToken is not valid; pass the previous page's nextToken unchanged",
    "id": MAINTENANCE_ID_HINT,
}
MAX_TOKEN_LENGTH = 2048


def _errors(*statuses: int) -> dict[int, dict]:
    meaning = {
        400: "a bad parameter (`invalid-input`)",
        404: "no such maintenance window (`maintenance-not-found`), or the path fits no route "
        "(`route-not-found`)",
        500: "OPS failed (`internal-error`, `aws-access-denied`, `aws-error`)",
        503: "AWS throttled or briefly failed OPS beyond its retries (`aws-throttled`, "
        "`aws-unavailable`): retry shortly",
    }
    json_error = {content_types.APPLICATION_JSON: {"model": ErrorResponse}}
    return {code: {"description": meaning[code], "content": json_error} for code in statuses}


def _ok(description: str) -> dict[int, dict]:
    return {200: {"description": description}}


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
def route_not_found(_: NotFoundError) -> Response:
    path = app.current_event.path
    return ops_error(RouteNotFound(f"no route GET {path}; the routes are listed at /openapi.json"))


@app.exception_handler(RequestValidationError)
def validation_error(error: RequestValidationError) -> Response:
    """A bad parameter is ``invalid-input`` (400) like any other; a response that fails its own
    model is a bug in OPS, answered ``internal-error`` (500) and logged, never blamed on the caller."""
    problems = error.errors()
    if any(problem["loc"] and problem["loc"][0] == "response" for problem in problems):
        logger.error(
            "response breaks the API contract",
            extra={"problems": [{"loc": p["loc"], "type": p["type"]} for p in problems]},
        )
        return ops_error(OpsError("the response did not match the API contract; this is a bug in OPS"))
    name = str(problems[0]["loc"][-1]) if problems and problems[0]["loc"] else ""
    return ops_error(InvalidInput(PARAMETER_RULES.get(name, f"the request parameter '{name}' is not valid")))


@app.get(
    "/ping",
    summary="Health and the current maintenance state",
    security=OPERATOR,
    tags=["operator"],
    responses=_ok("OPS answers, with the maintenance state the guard reads") | _errors(500, 503),
)
def ping() -> Ping:
    return status.ping()


@app.get(
    "/stat",
    summary="Counts at a glance: windows and vacuums by status, the last vacuum, table item counts",
    security=OPERATOR,
    tags=["operator"],
    responses=_ok("the counts") | _errors(500, 503),
)
def stat() -> Stat:
    return status.stat()


@app.get(
    "/maintenance",
    summary="Maintenance windows, newest first, one page at a time",
    security=OPERATOR,
    tags=["operator"],
    responses=_ok("one page of windows") | _errors(400, 500, 503),
)
def maintenance_list(
    status_filter: Annotated[
        Literal[MAINTENANCE_STATUSES] | None,  # type: ignore[valid-type]
        Query(alias="status", description="only windows in this status"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="page size, 1 to 100")] = 20,
    next_token: Annotated[
        str | None,
        Query(
            alias="nextToken",
            min_length=1,
            max_length=MAX_TOKEN_LENGTH,
            description="the previous page's nextToken, unchanged",
        ),
    ] = None,
) -> MaintenancePage:
    page = maintenance.list_windows(status=status_filter, limit=limit, next_token=next_token)
    return {**page, "items": [maintenance.shown(record) for record in page["items"]]}


@app.get(
    "/maintenance/<id>",
    summary="One maintenance window with its updates and full history",
    security=OPERATOR,
    tags=["operator"],
    responses=_ok("the maintenance record") | _errors(400, 404, 500, 503),
)
def maintenance_get(
    maintenance_id: Annotated[
        str,
        Path(alias="id", pattern=MAINTENANCE_ID_PATTERN, description="a maintenance id, mw-YYYYMMDD-<8 hex>"),
    ],
) -> MaintenanceRecord:
    return maintenance.shown(maintenance.get(maintenance_id))


@app.get(
    "/status",
    summary="The public status page: the active window, scheduled and recent maintenance",
    description="Unauthenticated and throttled. HTML by default; JSON with `Accept: application/json`.",
    tags=["public"],
    responses={
        200: {
            "description": "the status page",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                content_types.APPLICATION_JSON: {"model": PublicStatus},
            },
        },
        **_errors(500, 503),
    },
)
def status_page():
    page = public_status.public_status()
    headers = {"Cache-Control": "no-cache", "Vary": "Accept", "X-Content-Type-Options": "nosniff"}
    if prefers_json(app.current_event.headers.get("accept")):
        return Response(200, content_types.APPLICATION_JSON, page.model_dump(mode="json"), headers)
    headers |= {
        "Content-Security-Policy": status_html.CONTENT_SECURITY_POLICY,
        "Referrer-Policy": "no-referrer",
    }
    return Response(200, "text/html; charset=utf-8", status_html.render(page), headers)


def prefers_json(accept: str | None) -> bool:
    """JSON when the Accept header ranks ``application/json`` above ``text/html`` (HTML on a tie,
    on wildcards and without the header: the page is for people first)."""
    quality = {"application/json": 0.0, "text/html": 0.0}
    for media_range in (accept or "").split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        if media_type.lower() not in quality:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        quality[media_type.lower()] = max(quality[media_type.lower()], q)
    return quality["application/json"] > quality["text/html"]


@app.get(
    "/openapi.json",
    summary="This contract (OpenAPI 3.1)",
    description="Unauthenticated: it is the same document as docs/openapi.json in the repository.",
    tags=["public"],
    responses={200: {"description": "the OpenAPI document", "content": {"application/json": {"schema": {}}}}},
)
def openapi_document():
    return Response(200, content_types.APPLICATION_JSON, contract_text(), {"Cache-Control": "max-age=300"})


@cache
def contract() -> dict:
    """The OpenAPI document, generated from the routes above.

    Powertools documents a 422 for every route when validation is on; here a bad parameter is a
    400 ``invalid-input`` (``validation_error``), so those entries go, and with them every schema
    nothing refers to any more.
    """
    document = json.loads(
        app.get_openapi_json_schema(
            title="g3n OPS API",
            version=CONTRACT_VERSION,
            description="The read API of g3n OPS (operator routes, IAM SigV4) and its public status page.",
            # Relative to this document's own URL, so it holds on AWS and under the local stack's prefix.
            servers=[Server(url=".", description="where this document is served")],
            security_schemes=SECURITY_SCHEMES,
        )
    )
    for path_item in document["paths"].values():
        for operation in path_item.values():
            operation["responses"].pop("422", None)
    schemas = document["components"]["schemas"]
    while unused := [
        name for name in schemas if f'"#/components/schemas/{name}"' not in json.dumps(document)
    ]:
        for name in unused:
            del schemas[name]
    return document


@cache
def contract_text() -> str:
    """docs/openapi.json byte for byte."""
    return json.dumps(contract(), indent=2, ensure_ascii=False) + "\n"


@logger.inject_lambda_context(log_event=False, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    return app.resolve(event, context)
