"""The API's edge, without a stack: every failure answers in the contract's error shape."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from g3n_ops.domain import maintenance, status
from g3n_ops.handlers import api


def resolve(path: str, query: dict | None = None) -> tuple[int, dict]:
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "queryStringParameters": query,
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "test",
            "routeKey": "$default",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    response = api.app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"])


def test_a_response_that_breaks_the_contract_is_a_500_not_the_callers_fault(monkeypatch):
    monkeypatch.setattr(status, "ping", lambda: {"status": "ok", "service": "ops"})  # no stage, time…
    code, body = resolve("/ping")
    assert code == 500 and body["error"]["code"] == "internal-error"
    assert "contract" in body["error"]["message"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "0"}, "query parameter 'limit' must be an integer from 1 to 100"),
        ({"limit": "ten"}, "query parameter 'limit' must be an integer from 1 to 100"),
        ({"status": "paused"}, "status must be one of scheduled, active, ended, cancelled"),
        ({"nextToken": ""}, "the nextToken is not valid; pass the previous page's nextToken unchanged"),
    ],
)
def test_a_bad_parameter_is_invalid_input_with_the_rule(monkeypatch, query, message):
    monkeypatch.setattr(maintenance, "list_windows", lambda **_: pytest.fail("reached the domain"))
    assert resolve("/maintenance", query) == (400, {"error": {"code": "invalid-input", "message": message}})


def test_an_id_that_is_no_id_never_reaches_the_store(monkeypatch):
    monkeypatch.setattr(maintenance, "get", lambda _: pytest.fail("reached the domain"))
    code, body = resolve("/maintenance/mw-1")
    assert code == 400 and body["error"]["message"] == "a maintenance id looks like mw-20261201-3f2a9c1d"


def test_a_path_that_fits_no_route_is_route_not_found():
    code, body = resolve("/maintenance/a\u0084b")
    assert code == 404 and body["error"]["code"] == "route-not-found"
    assert resolve("/nothing-here")[1]["error"]["code"] == "route-not-found"


@pytest.mark.parametrize(
    ("aws_code", "ops_code", "http_status"),
    [
        ("ThrottlingException", "aws-throttled", 503),
        ("InternalServerError", "aws-unavailable", 503),
        ("AccessDeniedException", "aws-access-denied", 500),
        ("ValidationException", "aws-error", 500),
    ],
)
def test_an_aws_error_is_a_5xx_with_its_stable_code(monkeypatch, aws_code, ops_code, http_status):
    """Transient (retry shortly) is a 503, one that needs someone to act a 500."""

    def fail():
        raise ClientError({"Error": {"Code": aws_code, "Message": "secret-ish detail"}}, "GetItem")

    monkeypatch.setattr(status, "ping", fail)
    code, body = resolve("/ping")
    assert code == http_status and body["error"]["code"] == ops_code
    assert "secret-ish detail" not in body["error"]["message"]
