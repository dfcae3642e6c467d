"""AWS errors become stable codes; transient ones are retried within a time budget."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from g3n_ops import aws, retry
from g3n_ops.contract.errors import AwsAccessDenied, AwsError, AwsServerError, AwsThrottled


def _error(code: str, status: int = 400, text: str = "secret-looking detail") -> ClientError:
    response = {"Error": {"Code": code, "Message": text}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "DoThing")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_error("ProvisionedThroughputExceededException"), AwsThrottled),
        (_error("ThrottlingException"), AwsThrottled),
        (_error("SlowDown", 503), AwsThrottled),
        (_error("InternalServerError", 500), AwsServerError),
        (_error("WhateverNew", 502), AwsServerError),
        (_error("AccessDeniedException"), AwsAccessDenied),
        (_error("AccessDenied", 403), AwsAccessDenied),
        (_error("ValidationException"), AwsError),
        (_error("ResourceNotFoundException"), AwsError),
    ],
)
def test_every_aws_error_maps_to_a_stable_code_without_aws_text(error, expected):
    translated = aws.translate(error, doing="reading the record")
    assert type(translated) is expected
    assert translated.code in {"aws-throttled", "aws-unavailable", "aws-error", "aws-access-denied"}
    assert "reading the record" in translated.message
    assert "secret-looking detail" not in translated.message


def test_transient_errors_are_retried_until_they_pass():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise _error("ProvisionedThroughputExceededException")
        return "done"

    assert retry.call(flaky, doing="x", budget=60, sleep=sleeps.append) == "done"
    assert len(calls) == 4 and len(sleeps) == 3
    assert all(0 <= s <= retry.MAX_DELAY_SECONDS for s in sleeps)


def test_a_spent_budget_raises_the_stable_transient_error():
    def always():
        raise _error("SlowDown", 503)

    with pytest.raises(AwsThrottled):
        retry.call(always, doing="deleting objects", budget=0.0, sleep=lambda _: None)


def test_permanent_errors_are_not_retried():
    calls = []

    def denied():
        calls.append(1)
        raise _error("AccessDeniedException")

    with pytest.raises(ClientError):
        retry.call(denied, doing="x", budget=60, sleep=lambda _: None)
    assert len(calls) == 1


def test_a_lost_connection_is_transient():
    assert aws.is_transient(EndpointConnectionError(endpoint_url="http://x"))
    assert not aws.is_transient(ValueError("no"))


def test_client_hooks_see_every_new_client_and_can_be_removed():
    seen = []
    this_thread = threading.current_thread()

    def hook(service, created):
        # Other threads of this process (a run still winding down) may make clients meanwhile.
        if threading.current_thread() is this_thread:
            seen.append(service)

    aws.add_client_hook(hook)
    try:
        first = aws.client("sts")
        assert aws.client("sts") is first and seen == ["sts"]
    finally:
        aws.remove_client_hook(hook)
    aws.client("sts")
    assert seen == ["sts"]
