"""One port for everything: moto's AWS APIs, OPS's HTTP API and the stand-in service endpoints.

Requests under ``/_ops/api`` become API Gateway HTTP API (payload 2.0) events for OPS's API
handler; requests under ``/_ops/services/<code>`` go to that service's stand-in handler;
``/_ops/local/faults`` reads (GET) or sets (POST ``{"faults": SPEC, "seed": N}``) the injected
faults; all other requests are AWS API calls for moto.

The gateway also counts the AWS requests that may change state (``writes``), so the stack can
tell that nothing changed since its last reset and skip the next one.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from collections.abc import Callable
from urllib.parse import parse_qs, parse_qsl

from g3n_ops_client.local.faults import FaultSpecError

API_PREFIX = "/_ops/api"
SERVICES_PREFIX = "/_ops/services"
FAULTS_PATH = "/_ops/local/faults"

Handler = Callable[[dict], dict]
# Operations that only read, by name prefix, across the AWS APIs (anything else counts as a write).
READ_OPERATIONS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "Filter", "Head", "Lookup")


def http_api_event(environ: dict, path: str, stage_path_parameters: dict | None = None) -> dict:
    """An API Gateway HTTP API (v2) event for a WSGI request."""
    query = environ.get("QUERY_STRING", "")
    headers = {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    method = environ["REQUEST_METHOD"]
    params = dict(parse_qsl(query, keep_blank_values=True))
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": params or None,
        "pathParameters": stage_path_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "http": {
                "method": method,
                "path": path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def _respond(start_response, response: dict) -> list[bytes]:
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    # Header names are case-insensitive: keep the handler's, add only what is missing.
    headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    headers.setdefault("content-type", "application/json")
    headers["content-length"] = str(len(raw))
    status = int(response.get("statusCode", 200))
    start_response(f"{status} {_REASONS.get(status, 'Status')}", list(headers.items()))
    return [raw]


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _refuse(start_response, refused: tuple[int, dict, bytes]) -> list[bytes]:
    status, headers, body = refused
    headers = {**headers, "content-length": str(len(body))}
    start_response(f"{status} {_REASONS.get(status, 'Status')}", list(headers.items()))
    return [body]


class Gateway:
    def __init__(self, moto_app, api: Handler, services: dict[str, Handler], faults=None, iam=None) -> None:
        self.moto_app = moto_app
        self.iam = iam  # an IamEnforcer: every AWS request is checked against its caller's policy
        self.api = api
        self.services = services
        self.faults = faults  # a FaultController, or None: no control route
        self.writes = 0
        self._lock = threading.Lock()
        # DynamoDB applies each write, its condition checked, atomically (a transaction as a
        # whole), and a read sees an item whole. moto's threaded server does neither: two racing
        # conditional writes could both pass, and a read could see half an update (a window's
        # status ended, its end message not yet set). The local stack serialises DynamoDB
        # requests, as the real service behaves; moto's DynamoDB is CPU-bound under the GIL, so
        # this costs no parallelism.
        self._dynamodb = threading.Lock()

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            route = path[len(API_PREFIX) :] or "/"
            if self.iam is not None and (refused := self.iam.check_api(environ, route)) is not None:
                return _refuse(start_response, refused)
            event = http_api_event(environ, route)
            return _respond(start_response, self.api(event))
        if path.startswith(SERVICES_PREFIX + "/"):
            code, _, rest = path[len(SERVICES_PREFIX) + 1 :].partition("/")
            handler = self.services.get(code)
            if handler is None:
                not_found = {"error": {"code": "not-found", "message": f"no stand-in service '{code}'"}}
                return _respond(start_response, {"statusCode": 404, "body": json.dumps(not_found)})
            return _respond(start_response, handler(http_api_event(environ, "/" + rest)))
        if path == FAULTS_PATH and self.faults is not None:
            return _respond(start_response, self._faults(environ))
        if self.iam is not None and (refused := self.iam.check_request(environ)) is not None:
            return _refuse(start_response, refused)
        if may_write(environ):
            with self._lock:
                self.writes += 1
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self._dynamodb:
                return self.moto_app(environ, start_response)
        return self.moto_app(environ, start_response)

    def _faults(self, environ: dict) -> dict:
        if environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                request = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(request, dict):
                    raise FaultSpecError('the body is {"faults": SPEC, "seed": N}')
                spec, seed = request.get("faults"), request.get("seed")
                if not isinstance(spec, str | None) or not (seed is None or type(seed) is int):
                    raise FaultSpecError("faults is a string and seed an integer")
                self.faults.set(spec, seed)
            except ValueError as error:  # FaultSpecError, or a body that is not JSON
                refused = {"error": {"code": "invalid-input", "message": f"faults: {error}"}}
                return {"statusCode": 400, "body": json.dumps(refused)}
        elif environ["REQUEST_METHOD"] != "GET":
            refused = {"error": {"code": "invalid-input", "message": "use GET or POST on " + FAULTS_PATH}}
            return {"statusCode": 405, "body": json.dumps(refused)}
        return {"statusCode": 200, "body": json.dumps(self.faults.status())}


def may_write(environ: dict) -> bool:
    """Whether an AWS request may change state. Reads are GET/HEAD (REST APIs) and the read
    operations of the JSON and query APIs; a Lambda invoke is not counted itself, since every call
    the handler makes comes through here on its own."""
    if environ["REQUEST_METHOD"] in ("GET", "HEAD", "OPTIONS"):
        return False
    target = environ.get("HTTP_X_AMZ_TARGET")  # JSON protocols: "DynamoDB_20120810.GetItem"
    if target:
        return not target.rpartition(".")[2].startswith(READ_OPERATIONS)
    if environ.get("PATH_INFO", "").endswith("/invocations"):
        return False
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):  # query protocol
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        return not action.startswith(READ_OPERATIONS)
    return True
