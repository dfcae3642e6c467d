"""The HTTP API holds to its OpenAPI contract: the served document is the committed one, and a peer
fuzzer (Schemathesis, offline, against the local stack) finds no response that breaks it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from g3n_ops.handlers.api import contract_text
from tests.maintenance_support import soon, stop_running_executions
from tests.support import SECRET

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(DOCUMENT)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded so the whole fuzz stays within a few seconds; every route still gets its edge cases.
FUZZ = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
OPERATOR_ROUTES = {"/ping", "/stat", "/maintenance", "/maintenance/{id}"}
PUBLIC_ROUTES = {"/status", "/openapi.json"}


def fetch(url: str, accept: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read()


@pytest.fixture(scope="module")
def windows(local_stack, ops_client):
    """A fresh stack with a window of each kind: scheduled, active with updates, ended, cancelled."""
    local_stack.reset(seed=False)
    ops = ops_client.maintenance
    ended = ops.schedule(SECRET, "Old upgrade", 600, soon(3600))["maintenanceId"]
    ops.start(SECRET, ended)
    ops.update(SECRET, "Halfway")
    ops.end(SECRET, "Done")
    cancelled = ops.schedule(SECRET, "Never mind", 600, soon(3600))["maintenanceId"]
    ops.cancel(SECRET, cancelled)
    scheduled = ops.schedule(SECRET, "Next week's work", 900, soon(2 * 24 * 3600))["maintenanceId"]
    active = ops.schedule(SECRET, "Database <upgrade> & more", 600, soon(3600))["maintenanceId"]
    ops.start(SECRET, active)
    ops.update(SECRET, "First update")
    ops.update(SECRET, "Second update")
    yield {"ended": ended, "cancelled": cancelled, "scheduled": scheduled, "active": active}
    stop_running_executions()


@pytest.fixture(scope="module")
def ops_client(local_stack):
    from g3n_ops_client.client import ClientConfig, OpsClient

    return OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))


def test_the_served_contract_is_the_committed_one(local_stack):
    status, headers, body = fetch(local_stack.info.api_url + "/openapi.json")  # no signature locally
    assert status == 200 and headers["content-type"].startswith("application/json")
    committed = DOCUMENT.read_text()
    assert body.decode() == committed, "docs/openapi.json is stale: run python tools/write_openapi.py"
    assert contract_text() == committed


def test_the_contract_covers_every_route_with_its_auth_and_errors():
    document = json.loads(DOCUMENT.read_text())
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == OPERATOR_ROUTES | PUBLIC_ROUTES
    for path, item in document["paths"].items():
        operation = item["get"]
        assert set(item) == {"get"}, path  # a read-only API
        if path in OPERATOR_ROUTES:
            assert operation["security"] == [{"sigv4": []}], path
        else:
            assert "security" not in operation and "security" not in document, path
        for status, response in operation["responses"].items():
            if status != "200":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (path, status)
    assert "422" not in json.dumps(document)  # a bad parameter is a 400 invalid-input here
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4" and scheme["name"] == "Authorization"
    parameters = {p["name"]: p for p in document["paths"]["/maintenance"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["minimum"] == 1 and parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["status"]["schema"]["anyOf"][0]["enum"] == ["scheduled", "active", "ended", "cancelled"]
    status_content = document["paths"]["/status"]["get"]["responses"]["200"]["content"]
    assert set(status_content) == {"text/html", "application/json"}


def test_the_stack_deploys_exactly_the_contract_routes():
    from infra.constructs.api import contract_routes  # the CDK: only where a test needs it

    routes = contract_routes()
    assert {route.path for route in routes} == OPERATOR_ROUTES | PUBLIC_ROUTES
    assert {route.path for route in routes if not route.signed} == PUBLIC_ROUTES


@pytest.mark.slow
@SCHEMA.parametrize()
@FUZZ
def test_no_request_breaks_the_contract(case, local_stack, windows):
    case.call_and_validate(base_url=local_stack.info.api_url, checks=CHECKS, timeout=30)


@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/ping", None),
        ("/stat", None),
        ("/maintenance", None),
        ("/maintenance?status=ended&limit=1", None),
        ("/maintenance/{active}", None),
        ("/maintenance/{ended}", None),
        ("/maintenance/{cancelled}", None),
        ("/maintenance/{scheduled}", None),
        ("/status", None),
        ("/status", "application/json"),
    ],
)
def test_real_payloads_match_the_contract(local_stack, windows, path, accept):
    """What the fuzzer cannot guess: real windows of every status, through the same checks."""
    target = path.format(**windows)
    raw_path, _, query = target.partition("?")
    template = "/maintenance/{id}" if raw_path.startswith("/maintenance/") else raw_path
    operation = SCHEMA[template]["GET"]
    kwargs: dict = {"headers": {"Accept": accept} if accept else {}}
    if template == "/maintenance/{id}":
        kwargs["path_parameters"] = {"id": raw_path.rsplit("/", 1)[1]}
    if query:
        kwargs["query"] = dict(pair.split("=") for pair in query.split("&"))
    case = operation.Case(**kwargs)
    response = case.call_and_validate(base_url=local_stack.info.api_url, checks=CHECKS, timeout=30)
    assert response.status_code == 200, response.text
    if accept:
        assert response.headers["content-type"][0].startswith("application/json")
        assert response.json()["active"]["maintenanceId"] == windows["active"]
