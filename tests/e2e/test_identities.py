"""The documented operator identities on the local stack (``docs/iam/*.json``): ``g3n ops local
credentials NAME`` prints the keys that make any client act as NAME (this CLI, boto3, the AWS
CLI); the operator runs every SOP; on-call reads, follows and cancels (stops an execution) but
starts nothing; neither invokes a steps function or starts a state machine, except with the
console starter's policy (``console``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local.iam.identities import credentials
from infra import catalogue
from tests.maintenance_support import soon, stop_running_executions
from tests.support import SECRET, run_cli, wait_for_execution, wait_until
from tests.vacuum_support import PHRASE, wait_done

REGION = "us-east-1"


def ops_client(local_stack, name: str, monkeypatch) -> OpsClient:
    """An OPS client acting as ``name`` (its session takes the keys from the environment once:
    the process's other clients, moto's interpreter included, keep theirs)."""
    client = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))
    with monkeypatch.context() as patch:
        for variable, value in credentials(name).items():
            patch.setenv(variable, value)
        assert client.session.get_credentials().access_key == credentials(name)["AWS_ACCESS_KEY_ID"]
    return client


def aws_client(local_stack, name: str, service: str):
    keys = credentials(name)
    return boto3.session.Session(
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client(service, endpoint_url=local_stack.endpoint_url)


def machine_arn(key: str) -> str:
    return f"arn:aws:states:{REGION}:123456789012:stateMachine:{catalogue.state_machine_name('local', key)}"


def access_denied(call, action: str) -> None:
    with pytest.raises((ClientError, OpsClientError)) as raised:
        call()
    text = str(raised.value)
    assert "AccessDenied" in text and action in text, text


def test_credentials_prints_the_environment_of_each_identity(capsys):
    code, out, _ = run_cli(capsys, "ops", "local", "credentials", "oncall", "--port", "4999")
    assert code == 0
    lines = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    assert lines["AWS_ACCESS_KEY_ID"] == credentials("oncall")["AWS_ACCESS_KEY_ID"]
    assert lines["AWS_SECRET_ACCESS_KEY"] == credentials("oncall")["AWS_SECRET_ACCESS_KEY"]
    assert lines["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4999"
    keys = {credentials(name)["AWS_ACCESS_KEY_ID"] for name in ("operator", "oncall", "console")}
    assert len(keys) == 3
    code, _, err = run_cli(capsys, "ops", "local", "credentials", "root")
    assert code != 0 and "root" in err


@pytest.mark.slow
@pytest.mark.usefixtures("stack")
def test_the_operator_runs_every_sop(local_stack, monkeypatch):
    operator = ops_client(local_stack, "operator", monkeypatch)
    # Reads.
    operator.ping(), operator.stat(), operator.maintenance.list()
    # SOP 1: a maintenance window, scheduled, started by hand, updated, ended; another cancelled.
    window = operator.maintenance.schedule(SECRET, "Operator window", 600, soon(600))
    operator.maintenance.start(SECRET, window["maintenanceId"])
    operator.maintenance.update(SECRET, "halfway")
    assert operator.maintenance.end(SECRET, "done")["status"] == "ended"
    later = operator.maintenance.schedule(SECRET, "Cancelled window", 600, soon(3600))
    assert operator.maintenance.cancel(SECRET, later["maintenanceId"])["status"] == "cancelled"
    # SOP 2: vacuum one organisation: dry-run, then the real run, its status, list and events.
    dry = wait_done(operator, operator.vacuum.org(SECRET, "TESTORG", "operator", dry_run=True))
    real = wait_done(operator, operator.vacuum.org(SECRET, "TESTORG", "operator"))
    assert (dry["status"], real["status"]) == ("completed", "completed"), real.get("error")
    operator.vacuum.list(), operator.vacuum.events(real["vacuumId"])
    # SOP 3: vacuum a whole dev/test stack, in the window the run opens and ends.
    wait_done(operator, operator.vacuum.all(SECRET, "operator", PHRASE, dry_run=True))
    whole = wait_done(operator, operator.vacuum.all(SECRET, "operator", PHRASE, with_maintenance=True))
    assert whole["status"] == "completed", whole.get("error")
    # SOP 4: the secret code (init-secret is refused by OPS, not IAM: a code is set already).
    with pytest.raises(OpsClientError) as refused:
        operator.init_secret(SECRET)
    assert "AccessDenied" not in str(refused.value)
    # Notifications: subscribe to the events; read the maintenance audit.
    topic = operator.parameter("/g3nretailstack/ops/events-topic-arn")
    aws_client(local_stack, "operator", "sns").subscribe(
        TopicArn=topic, Protocol="email", Endpoint="o@example.com"
    )
    aws_client(local_stack, "operator", "logs").filter_log_events(
        logGroupName="/g3nretailstack/ops/maintenance-audit"
    )


@pytest.mark.usefixtures("stack")
def test_oncall_reads_and_cancels_but_can_start_neither_a_vacuum_nor_a_window(local_stack, monkeypatch):
    oncall = ops_client(local_stack, "oncall", monkeypatch)
    operator = ops_client(local_stack, "operator", monkeypatch)
    oncall.ping(), oncall.stat(), oncall.maintenance.list()
    access_denied(
        lambda: oncall.vacuum.org(SECRET, "TESTORG", "oncall", dry_run=True), "lambda:InvokeFunction"
    )
    access_denied(lambda: oncall.maintenance.schedule(SECRET, "On-call window", 600, soon(600)), "lambda:")
    sfn = aws_client(local_stack, "oncall", "stepfunctions")
    access_denied(
        lambda: sfn.start_execution(stateMachineArn=machine_arn("vacuum"), input="{}"), "states:Start"
    )
    access_denied(
        lambda: sfn.start_execution(stateMachineArn=machine_arn("maintenance"), input="{}"), "states:"
    )
    # Cancel: a window the operator scheduled, stopped by on-call; OPS closes its record.
    window = operator.maintenance.schedule(SECRET, "To be cancelled by on-call", 600, soon(3600))
    running = sfn.list_executions(stateMachineArn=machine_arn("maintenance"), statusFilter="RUNNING")
    (execution,) = [e for e in running["executions"] if window["maintenanceId"] in e["name"]]
    sfn.describe_execution(executionArn=execution["executionArn"])
    sfn.stop_execution(executionArn=execution["executionArn"], cause="on-call cancel")
    wait_until(
        lambda: operator.maintenance.get(window["maintenanceId"])["status"] == "cancelled",
        timeout=30,
        message="the stopped window's record to close",
    )


@pytest.mark.usefixtures("stack")
def test_steps_and_state_machines_need_the_console_starter(local_stack):
    for name in ("operator", "console"):
        lam = aws_client(local_stack, name, "lambda")
        for key in ("vacuum-steps", "maintenance-steps", "execution-status"):
            function = catalogue.function_name("local", key)
            access_denied(
                lambda lam=lam, f=function: lam.invoke(FunctionName=f, Payload=b"{}"), "lambda:Invoke"
            )
    operator = aws_client(local_stack, "operator", "stepfunctions")
    for key in ("vacuum", "maintenance"):
        access_denied(
            lambda k=key: operator.start_execution(stateMachineArn=machine_arn(k), input="{}"), "states:"
        )
    # With the console starter's policy, a console start of a window (it admits itself).
    console = aws_client(local_stack, "console", "stepfunctions")
    started = console.start_execution(
        stateMachineArn=machine_arn("maintenance"),
        input=json.dumps({"description": "Console window", "duration": 60, "source": "console"}),
    )
    described = console.describe_execution(executionArn=started["executionArn"])
    assert described["status"] in ("RUNNING", "SUCCEEDED"), described
    stop_running_executions()
    wait_for_execution(started["executionArn"], expect=None)


@pytest.mark.slow
@pytest.mark.usefixtures("stack")
def test_any_client_acts_as_the_identity_the_cli_and_the_aws_cli(local_stack):
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "G3N_OPS_"))},
        **credentials("oncall"),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": local_stack.endpoint_url,
        "G3N_OPS_ENDPOINT_URL": local_stack.endpoint_url,
    }
    g3n = [str(Path(sys.executable).parent / "g3n")]
    listed = subprocess.run([*g3n, "ops", "maintenance-list", "--output", "json"], env=environment,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    refused = subprocess.run(
        [*g3n, "ops", "vacuum-org", "--orgcode", "TESTORG", "--reason", "x", "--dry-run", "--output", "json"],
        env={**environment, "G3N_OPS_SECRET_CODE": SECRET}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "lambda:InvokeFunction" in refused.stdout + refused.stderr
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed")
    command = ["aws", "stepfunctions", "start-execution", "--state-machine-arn", machine_arn("vacuum")]
    denied = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr
    command = ["aws", "ssm", "get-parameter", "--name", "/g3nretailstack/ops/stage"]
    read = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert read.returncode == 0 and '"local"' in read.stdout, read.stderr
