"""Trust no caller: hand-made events to the steps and execution-status functions, sent the way
anyone allowed ``lambda:InvokeFunction`` could (boto3 ``invoke`` on the local stack), are refused
with ``step-caller-refused``, audited, and change nothing. Step Functions vouches for an event,
never the event itself."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from g3n_ops.domain import step_caller
from g3n_ops.observability import logger
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops.store import vacuum_audit
from infra import catalogue
from tests.maintenance_support import audit_lines, soon
from tests.support import SECRET, wait_until
from tests.vacuum_support import (
    mutex,
    pending_window,
    plant_dry_run,
    registry,
    snapshot,
    wait_status,
)

ORG = "TESTORG"
VACUUM_STEPS = catalogue.function_name("local", "vacuum-steps")
MAINTENANCE_STEPS = catalogue.function_name("local", "maintenance-steps")
EXECUTION_STATUS = catalogue.function_name("local", "execution-status")


def invoke(function: str, event: dict) -> tuple[str | None, dict]:
    response = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def refused(answer: tuple[str | None, dict]) -> str:
    error, payload = answer
    assert error and payload["errorType"] == "StepCallerRefused", payload
    assert "nothing was changed" in payload["errorMessage"]
    return payload["errorMessage"]


def invented_execution(lifecycle: str) -> str:
    machine = step_caller.state_machine_arn(lifecycle)
    return f"{machine.replace(':stateMachine:', ':execution:')}:invented-{uuid.uuid4().hex[:8]}"


def refusals(vacuum_id: str) -> list[dict]:
    """The refusals audited on a run's trail (an event naming no run: on ``unnamed``'s)."""
    return [
        entry for entry in vacuum_audit.audit_entries(vacuum_id) if entry["action"] == "step-caller-refused"
    ]


@pytest.fixture
def long_pending(stack):
    with pending_window(60):
        yield


def pending_run(client) -> dict:
    plant_dry_run(ORG)
    requested = client.vacuum.org(SECRET, ORG, "meddled with")
    return wait_until(
        lambda: (
            (record := vacuum_store.get_record(requested["vacuumId"]).document()).get("executionArn")
            and record
        ),
        timeout=15,
        interval=0.05,
        message="the execution admits the run",
    )


# -- an invented execution --------------------------------------------------------------------------
def test_an_invented_execution_cannot_admit_or_drive_a_vacuum(stack):
    """The attack: admit a console dry-run under an invented execution, then drive it with start,
    chunks and finalise. Every step is refused; no record, no mutex, nothing deleted."""
    reg = registry()
    before = snapshot(reg)
    arn = invented_execution("vacuum")
    newest_before = {record.vacuum_id for record in vacuum_store.newest_records(50)}
    refused(
        invoke(
            VACUUM_STEPS, {"step": "admit", "executionArn": arn, "input": {"scope": "org", "orgcode": ORG}}
        )
    )
    assert {record.vacuum_id for record in vacuum_store.newest_records(50)} == newest_before
    assert mutex() is None

    planted = plant_dry_run(ORG)
    for event in (
        {"step": "start", "vacuumId": planted},
        {"step": "round", "vacuumId": planted},
        {"step": "purge-chunk", "vacuumId": planted, "unitId": "u0000"},
        {"step": "verify", "vacuumId": planted},
        {"step": "finalise", "vacuumId": planted},
        {"step": "continue", "vacuumId": planted},
        {"step": "fail", "state": {"vacuumId": planted, "error": {"Error": "X"}}},
    ):
        message = refused(invoke(VACUUM_STEPS, event | {"executionArn": arn}))
        assert "does not exist" in message, event
    assert snapshot(reg) == before
    assert vacuum_store.get_record(planted).document()["status"] == "completed"
    [admit] = [entry["claimed"] for entry in refusals("unnamed") if entry["claimed"]["executionArn"] == arn]
    assert admit["step"] == "admit"
    claims = [entry["claimed"] for entry in refusals(planted)]
    assert [claim["step"] for claim in claims] == [
        "start", "round", "purge-chunk", "verify", "finalise", "continue", "fail"
    ]  # fmt: skip
    assert {claim["executionArn"] for claim in claims} == {arn}


def test_an_execution_of_another_state_machine_is_not_a_vacuum_execution(stack):
    """A real, RUNNING execution of the maintenance machine cannot drive a vacuum step."""
    sfn = boto3.client("stepfunctions")
    window = {"source": "console", "description": "a borrowed execution", "duration": 600, "start": soon(600)}
    started = sfn.start_execution(
        stateMachineArn=settings().maintenance_state_machine_arn, name=f"borrowed-{uuid.uuid4().hex[:8]}",
        input=json.dumps(window),
    )  # fmt: skip
    message = refused(
        invoke(
            VACUUM_STEPS,
            {
                "step": "admit",
                "executionArn": started["executionArn"],
                "input": {"scope": "org", "orgcode": ORG},
            },
        )
    )
    assert "not one of this stack's vacuum executions" in message
    assert mutex() is None


# -- a real execution, a forged event ---------------------------------------------------------------
def test_a_pending_window_cannot_be_cut_short_with_the_runs_own_execution(client, long_pending):
    """vacuum-status shows a pending run's executionArn to anyone who can read it; a start sent
    with it during the window is refused by the domain, and so is an admit with another input."""
    pending = pending_run(client)
    arn, vacuum_id = pending["executionArn"], pending["vacuumId"]
    message = refused(invoke(VACUUM_STEPS, {"step": "start", "vacuumId": vacuum_id, "executionArn": arn}))
    assert "pending window runs until" in message
    refused(
        invoke(VACUUM_STEPS, {"step": "admit", "executionArn": arn, "input": {"vacuumId": vacuum_id, "x": 1}})
    )
    error, payload = invoke(VACUUM_STEPS, {"step": "finalise", "vacuumId": vacuum_id, "executionArn": arn})
    assert error and payload["errorType"] == "VacuumNotAdmitted", payload  # the domain's own refusal
    # The event of another run, naming this execution, is refused too.
    other = plant_dry_run(ORG)
    assert f"runs vacuumId {vacuum_id}" in refused(
        invoke(VACUUM_STEPS, {"step": "start", "vacuumId": other, "executionArn": arn})
    )
    record = client.vacuum.status(vacuum_id)
    assert (record["status"], record["startedAt"]) == ("pending", None)
    assert mutex()["owner"] == vacuum_id
    cancelled = client.vacuum.cancel(SECRET, vacuum_id)
    assert cancelled["status"] == "cancelled"


def test_a_running_vacuum_cannot_be_finalised_verified_or_failed_by_hand(stack, client, monkeypatch):
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "5")  # many chunks: the run lasts long enough to meddle
    dry = client.vacuum.org(SECRET, ORG, "meddled with while running", dry_run=True)
    running = wait_status(client, dry, {"running"})
    arn, vacuum_id = running["executionArn"], running["vacuumId"]
    assert "not purged yet" in refused(
        invoke(VACUUM_STEPS, {"step": "finalise", "vacuumId": vacuum_id, "executionArn": arn})
    )
    assert "not purged yet" in refused(
        invoke(VACUUM_STEPS, {"step": "verify", "vacuumId": vacuum_id, "executionArn": arn})
    )
    fail = {
        "step": "fail",
        "executionArn": arn,
        "state": {"vacuumId": vacuum_id, "error": {"Error": "Forged"}},
    }
    assert "not 'Record failure'" in refused(invoke(VACUUM_STEPS, fail))
    assert client.vacuum.status(vacuum_id)["status"] == "running"
    assert mutex()["owner"] == vacuum_id
    final = client.vacuum.wait(vacuum_id, timeout=120, poll=0.2)
    assert final["status"] == "completed", final.get("error")
    actions = [entry["action"] for entry in vacuum_audit.audit_entries(vacuum_id)]
    assert actions.count("step-caller-refused") == 3


# -- execution status --------------------------------------------------------------------------------
def status_event(arn: str, machine: str, status: str = "ABORTED", **detail) -> dict:
    return {
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": arn,
            "stateMachineArn": machine,
            "status": status,
            "name": arn.rsplit(":", 1)[-1],
        }
        | detail,
    }


def test_a_hand_made_aborted_event_does_not_close_a_running_vacuum_or_free_its_mutex(
    client, long_pending, local_stack
):
    pending = pending_run(client)
    arn, vacuum_id = pending["executionArn"], pending["vacuumId"]
    event = status_event(arn, settings().vacuum_state_machine_arn, input=json.dumps({"vacuumId": vacuum_id}))
    error, answer = invoke(EXECUTION_STATUS, event)
    assert error is None and answer["error"]["code"] == "step-caller-refused", answer
    assert "RUNNING, not ended" in answer["error"]["message"]
    assert vacuum_store.get_record(vacuum_id).document()["status"] == "pending"
    assert mutex()["owner"] == vacuum_id
    with pytest.raises(Exception, match="vacuum-mutex-locked"):
        client.vacuum.org(SECRET, ORG, "a second run while the first holds the mutex", dry_run=True)
    # An event for an execution that does not exist is refused the same way.
    error, answer = invoke(
        EXECUTION_STATUS, status_event(invented_execution("vacuum"), settings().vacuum_state_machine_arn)
    )
    assert answer["error"]["code"] == "step-caller-refused"
    # The real end (stopped from the console) is acted on: the described status, not the event's.
    # The stack's own status watcher would deliver the real event too: paused, this event is first.
    sfn = boto3.client("stepfunctions")
    with local_stack.provisioner.status_watcher.paused():
        sfn.stop_execution(executionArn=arn, cause="stopped from the console")
        wait_until(
            lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED",
            timeout=30,  # moto stops an execution between states: slow on a loaded machine
            message="the execution is aborted",
        )
        error, answer = invoke(
            EXECUTION_STATUS, status_event(arn, settings().vacuum_state_machine_arn, status="FAILED")
        )
    assert (answer["status"], answer["closed"]) == ("ABORTED", f"vacuum {vacuum_id}"), answer
    assert vacuum_store.get_record(vacuum_id).document()["status"] == "failed"
    assert mutex() is None


def test_a_scheduled_window_is_neither_started_early_nor_cancelled_by_hand_made_events(stack, client):
    window = client.maintenance.schedule(SECRET, "a window meddled with", 600, soon(600))
    maintenance_id = window["maintenanceId"]
    arn = wait_until(
        lambda: client.maintenance.get(maintenance_id).get("executionArn"), timeout=15, message="admitted"
    )
    steps = {"maintenanceId": maintenance_id, "executionArn": arn}
    assert "due at" in refused(invoke(MAINTENANCE_STEPS, {"step": "start"} | steps))
    refused(
        invoke(MAINTENANCE_STEPS, {"step": "admit", "executionArn": arn, "input": {"maintenanceId": "mw-x"}})
    )
    refused(invoke(MAINTENANCE_STEPS, {"step": "start", "maintenanceId": maintenance_id,
                                       "executionArn": invented_execution("maintenance")}))  # fmt: skip
    event = status_event(
        arn, settings().maintenance_state_machine_arn, input=json.dumps({"maintenanceId": maintenance_id})
    )
    _, answer = invoke(EXECUTION_STATUS, event)
    assert answer["error"]["code"] == "step-caller-refused", answer
    assert client.maintenance.get(maintenance_id)["status"] == "scheduled"
    lines = [line for line in audit_lines() if line["action"] == "step-caller-refused"]
    assert len(lines) == 4 and all(line["claimed"]["executionArn"] for line in lines)
    assert {line["claimed"].get("maintenanceId") for line in lines} >= {maintenance_id}
    assert datetime.now(UTC) < datetime.fromisoformat(window["start"]) + timedelta(seconds=1)


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict]]]:
    """OPS's log lines so far, as the functions write them (Powertools' formatter), parsed."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.service).addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logging.getLogger(logger.service).removeHandler(handler)


def test_a_log_line_carries_only_its_own_invocations_keys(stack, log_lines):
    """Keys one invocation appends (operation, step, run id) never label a later one's lines: a
    warm container (or the local stack's one process) would otherwise log another run's id."""
    arn = invented_execution("vacuum")
    refused(
        invoke(VACUUM_STEPS, {"step": "finalise", "vacuumId": "20261207-000000-abcdef", "executionArn": arn})
    )
    invoke(EXECUTION_STATUS, status_event(arn, settings().vacuum_state_machine_arn))
    steps = [line for line in log_lines() if line.get("function_name") == VACUUM_STEPS]
    status = [line for line in log_lines() if line.get("function_name") == EXECUTION_STATUS]
    assert steps and all(line["vacuum_id"] == "20261207-000000-abcdef" for line in steps), steps
    assert status and not any({"vacuum_id", "step", "operation"} & line.keys() for line in status), status
