"""Test helpers shared by every suite."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from g3n_ops_client.cli import main

SECRET = "test-secret-code-0001"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


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


def wait_for_execution(execution_arn: str, *, timeout: float = 60, expect: str | None = "SUCCEEDED") -> dict:
    """Poll until the execution leaves RUNNING; fail at once on an unexpected end, never hang."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL:
            if expect and described["status"] != expect:
                pytest.fail(
                    f"execution ended {described['status']} (expected {expect}): "
                    f"{described.get('error')} {described.get('cause')}"
                )
            return described
        if time.monotonic() > deadline:
            pytest.fail(f"execution still RUNNING after {timeout}s: {execution_arn}")
        time.sleep(0.2)


def wait_until(predicate, *, timeout: float, interval: float = 0.25, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{message} not met within {timeout}s")
        time.sleep(interval)


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
    sfn = boto3.client("stepfunctions")

    def entered() -> bool:
        events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return any(event.get("stateEnteredEventDetails", {}).get("name") == state for event in events)

    wait_until(entered, timeout=timeout, interval=0.1, message=f"the execution enters {state!r}")
