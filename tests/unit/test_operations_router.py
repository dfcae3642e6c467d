"""The direct-operation router: validation, secret check first, errors as codes."""

from typing import Literal

import pytest

from g3n_ops.contract.errors import InvalidTransition
from g3n_ops.handlers.operations import Operations
from g3n_ops.models import Request, SecretRequest


class Echo(Request):
    operation: Literal["echo"]
    text: str


class Guarded(SecretRequest):
    operation: Literal["guarded"]


@pytest.fixture
def operations():
    ops = Operations()
    calls = []

    @ops.route("echo", Echo)
    def echo(request):
        calls.append(request)
        if request.text == "refuse":
            raise InvalidTransition("cannot do that now")
        return {"text": request.text}

    @ops.route("guarded", Guarded)
    def guarded(request):
        calls.append(request)
        return {"ok": True}

    ops.calls = calls
    return ops


def test_a_valid_request_returns_its_result(operations):
    assert operations({"operation": "echo", "text": "hi"}) == {"result": {"text": "hi"}}


def test_an_ops_error_becomes_its_code(operations):
    answer = operations({"operation": "echo", "text": "refuse"})
    assert answer == {"error": {"code": "invalid-transition", "message": "cannot do that now"}}


@pytest.mark.parametrize(
    "event, code",
    [
        ({"operation": "nope"}, "unknown-operation"),
        ({"text": "no operation"}, "invalid-input"),
        ([1, 2], "invalid-input"),
        ({"operation": "echo"}, "invalid-input"),
        ({"operation": "echo", "text": "x", "surprise": 1}, "invalid-input"),
    ],
)
def test_bad_requests_are_refused_with_a_code(operations, event, code):
    assert operations(event)["error"]["code"] == code
    assert operations.calls == []


def test_validation_messages_never_echo_the_secret(operations):
    leaked = "S3CRET-" + "x" * 300  # too long: fails validation
    answer = operations({"operation": "guarded", "secretCode": leaked})
    assert answer["error"]["code"] == "invalid-input"
    assert "S3CRET" not in str(answer)


def test_the_secret_is_checked_before_the_operation_runs(operations, local_stack):
    answer = operations({"operation": "guarded", "secretCode": "wrong-code-123"})
    assert answer["error"]["code"] == "secret-code-mismatch"
    assert operations.calls == []
