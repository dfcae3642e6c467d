"""Test helpers shared by every suite."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import boto3
import pytest

from g3n_ops_client.cli import main

SECRET = "test-secret-code-0001"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
T = TypeVar("T")


# What a client made from the environment takes from it: a client is reused only while they hold.
CLIENT_ENVIRONMENT = (
    "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE",
)  # fmt: skip
_aws_clients: dict[tuple, object] = {}
_aws_lock = threading.Lock()


def aws(service: str):
    """A boto3 client for ``service`` as ``boto3.client(service)`` makes it from the environment
    (the local stack's endpoint and keys), made once per endpoint and keys: the tests' helpers
    read tables and executions in loops, and a new client costs ~10 ms of CPU."""
    key = (service, *(os.environ.get(name) for name in CLIENT_ENVIRONMENT))
    with _aws_lock:  # clients are thread-safe; making them is not
        if key not in _aws_clients:
            _aws_clients[key] = boto3.client(service)
        return _aws_clients[key]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``g3n <args>`` in-process; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli_json(capsys, *args: str) -> tuple[int, dict]:
    code, out, _ = run_cli(capsys, *args, "--output", "json")
    return code, json.loads(out)


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    interval: float = 0.25,
    message: str | Callable[[], str] = "condition",
) -> T:
    """THE polling loop of the tests: call ``predicate`` until it returns a truthy value, and return
    that value; fail the test (never hang) once ``timeout`` seconds have passed. ``message`` names
    what was awaited; a callable is asked at the timeout, so it can say what was seen last."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{message() if callable(message) else message} not met within {timeout}s")
        time.sleep(interval)


def wait_for_execution(execution_arn: str, *, timeout: float = 60, expect: str | None = "SUCCEEDED") -> dict:
    """Poll until the execution leaves RUNNING; fail at once on an unexpected end, never hang."""
    sfn = aws("stepfunctions")

    def ended() -> dict | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return described if described["status"] in TERMINAL else None

    described = wait_until(
        ended, timeout=timeout, interval=0.2, message=f"execution {execution_arn} leaves RUNNING"
    )
    if expect and described["status"] != expect:
        pytest.fail(
            f"execution ended {described['status']} (expected {expect}): "
            f"{described.get('error')} {described.get('cause')}"
        )
    return described


def asl_states(states: dict) -> dict:
    """Every state of an ASL definition by name, those inside Map iterations included."""
    found = dict(states)
    for state in states.values():
        if state["Type"] == "Map":
            found |= asl_states(state["ItemProcessor"]["States"])
    return found


def wait_in_state(execution_arn: str, state: str, *, timeout: float = 15) -> None:
    """Until the execution has entered ``state``. A test that stops an execution waits for a Wait
    state first: moto reports an execution stopped in the middle of a task as FAILED, where Step
    Functions says ABORTED."""
    sfn = aws("stepfunctions")

    def entered() -> bool:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return any(event.get("stateEnteredEventDetails", {}).get("name") == state for event in events)

    wait_until(entered, timeout=timeout, interval=0.1, message=f"the execution enters {state!r}")
