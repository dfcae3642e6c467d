"""Every AWS error a handler meets answers with a stable code, mapped in one place (the operations
router, the API handler), never ``lambda-error`` and never AWS's own text.

The failures are real botocore failures on the clients OPS's handlers create (``g3n_ops.aws``'s
client hook): a ``before-call`` handler answers each call with AWS's error response (or drops the
connection), so botocore raises exactly what it raises against AWS. Handlers are called through
the local stack's own entries (the Lambda dispatcher, the gateway's API call).
"""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import EndpointConnectionError

from g3n_ops import aws
from g3n_ops.settings import settings
from g3n_ops_client.local.gateway import http_api_event
from tests.support import SECRET

RAW_TEXT = "raw AWS text that must not reach the caller: arn:aws:iam::123456789012:role/secret-role"
FAILURES = [
    ("ThrottlingException", 400, "aws-throttled"),
    ("ProvisionedThroughputExceededException", 400, "aws-throttled"),
    ("InternalServerError", 500, "aws-unavailable"),
    ("AccessDeniedException", 400, "aws-access-denied"),
    ("ResourceNotFoundException", 400, "aws-error"),
    ("connection", 0, "aws-unavailable"),
]
WELL_FORMED = {"vacuumId": "20261201-020000-3f2a9c", "maintenanceId": "mw-20261201-3f2a9c1d"}
INVOKES = [
    ("vacuum", {"operation": "vacuum-status", "vacuumId": WELL_FORMED["vacuumId"]}),
    ("vacuum", {"operation": "vacuum-cancel", "secretCode": SECRET, "vacuumId": WELL_FORMED["vacuumId"]}),
    ("vacuum", {"operation": "vacuum-org", "secretCode": SECRET, "orgcode": "TESTORG", "reason": "r"}),
    (
        "maintenance",
        {
            "operation": "maintenance-start",
            "secretCode": SECRET,
            "maintenanceId": WELL_FORMED["maintenanceId"],
        },
    ),
    ("maintenance", {"operation": "maintenance-update", "secretCode": SECRET, "text": "t"}),
    ("admin", {"operation": "rotate-secret", "secretCode": SECRET, "newSecretCode": "another-code-0002"}),
]
ROUTES = ["/ping", "/stat", "/maintenance", f"/maintenance/{WELL_FORMED['maintenanceId']}"]


@pytest.fixture
def failing_aws(local_stack):
    """Make every AWS call of OPS's handlers fail the given way until the test ends."""
    installed, failing_clients = [], []

    def install(code: str, status: int) -> None:
        def fail(**_):
            if code == "connection":
                raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
            error = {
                "Error": {"Code": code, "Message": RAW_TEXT},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
            return SimpleNamespace(status_code=status, headers={}, content=b""), error

        def hook(service, client) -> None:
            client.meta.events.register("before-call", fail)
            failing_clients.append((client, fail))

        aws.add_client_hook(hook)
        installed.append(hook)

    yield install
    for hook in installed:
        aws.remove_client_hook(hook)
    # Some clients outlive the hook (the registry's SSM provider keeps its own): heal them too.
    for client, fail in failing_clients:
        client.meta.events.unregister("before-call", fail)


def function(local_stack, key: str):
    return local_stack.provisioner.dispatcher.functions[f"g3n-{settings().stage}-ops-{key}"]


@pytest.mark.parametrize(("aws_code", "status", "code"), FAILURES)
def test_every_operation_maps_an_aws_error_to_its_stable_code(
    local_stack, failing_aws, aws_code, status, code
):
    failing_aws(aws_code, status)
    for key, event in INVOKES:
        answer = function(local_stack, key).call(event)  # an exception here is an unmapped error
        assert answer.get("error", {}).get("code") == code, (event["operation"], answer)
        message = answer["error"]["message"]
        assert RAW_TEXT not in message and "secret-role" not in message
        assert (aws_code if aws_code != "connection" else "EndpointConnectionError") in message, message


@pytest.mark.parametrize(("aws_code", "status", "code"), FAILURES)
def test_every_api_route_maps_an_aws_error_to_its_stable_code(
    local_stack, failing_aws, aws_code, status, code
):
    failing_aws(aws_code, status)
    for path in ROUTES:
        environ = {"REQUEST_METHOD": "GET", "QUERY_STRING": "", "wsgi.input": io.BytesIO(b"")}
        response = local_stack.provisioner.call_api(http_api_event(environ, path))
        body = json.loads(response["body"])
        if path == "/ping" and response["statusCode"] == 200:
            continue  # ping reads through the guard's fail-open cache: healthy by design
        assert body.get("error", {}).get("code") == code, (path, response)
        assert response["statusCode"] == (503 if code in {"aws-throttled", "aws-unavailable"} else 500)
        assert RAW_TEXT not in response["body"]
