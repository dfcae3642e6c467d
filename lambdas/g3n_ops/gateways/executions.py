"""Step Functions, as OPS uses it. Plain calls, keyword arguments only: a caller that must ride
out throttling wraps one in ``retry.call`` with its own budget; errors are botocore's."""

from __future__ import annotations

import json

from g3n_ops.aws import client


def start(*, state_machine_arn: str, name: str, execution_input: dict) -> dict:
    return client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
    )


def stop(*, execution_arn: str, cause: str, error: str | None = None) -> None:
    extra = {"error": error} if error else {}
    client("stepfunctions").stop_execution(executionArn=execution_arn, cause=cause, **extra)


def describe(*, execution_arn: str) -> dict:
    return client("stepfunctions").describe_execution(executionArn=execution_arn)


def latest_events(*, execution_arn: str, count: int) -> list[dict]:
    """The execution's ``count`` latest history events, newest first."""
    history = client("stepfunctions").get_execution_history(
        executionArn=execution_arn, reverseOrder=True, maxResults=count
    )
    return history["events"]
