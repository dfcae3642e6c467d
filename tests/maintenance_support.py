"""Helpers for the maintenance tests: times, audit lines, tidy-up (the `ops` fixture: tests/conftest.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from g3n_ops.settings import settings
from tests.support import aws

# The fields every maintenance record document carries (docs/calls.md, "The maintenance record").
RECORD_FIELDS = frozenset(
    {"maintenanceId", "status", "description", "start", "duration", "autoEnd", "updates", "history"}
)


def soon(seconds: float) -> str:
    """An ISO 8601 start ``seconds`` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def audit_lines(maintenance_id: str | None = None) -> list[dict]:
    """Every audit line in the maintenance audit log group (optionally one window's), oldest first."""
    logs = aws("logs")
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=settings().maintenance_audit_log_group
    )
    lines = [json.loads(event["message"]) for page in pages for event in page["events"]]
    lines.sort(key=lambda line: line["at"])
    return [line for line in lines if maintenance_id in (None, line["maintenanceId"])]


def stop_running_executions() -> None:
    """Tidy up: no execution of one test may wake up inside the next."""
    sfn = aws("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        if "maintenance" not in machine["name"]:
            continue
        running = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
        for execution in running["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"], cause="test teardown")
