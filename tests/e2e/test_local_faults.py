"""Fault injection seen end to end: crashed steps invocations, a state machine under throttling,
and ``g3n ops local up --faults`` / ``g3n ops local faults`` against running stacks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import boto3
import pytest

import workflows
from g3n_ops.domain import step_caller
from g3n_ops_client import client as client_module
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local.lambda_runtime import TIMEOUT_ERROR
from tests.support import SECRET, asl_states, run_cli, run_cli_json, wait_for_execution

STEPS = "g3n-local-ops-maintenance-steps"
LIFECYCLE = "arn:aws:states:us-east-1:123456789012:stateMachine:g3n-local-ops-maintenance"


@pytest.fixture(scope="module")
def module_stack(local_stack):
    """One clean stack for the module (no window left active by another file's tests)."""
    local_stack.reset(seed=False)
    yield local_stack
    local_stack.set_faults(None)


@pytest.fixture
def trusted_steps(monkeypatch):
    """These tests hand-make steps events to see the fault layer, not the trust boundary (its own
    tests: tests/workflow/test_step_callers.py): Step Functions' word on the caller is taken as given."""
    monkeypatch.setattr(step_caller, "confirm", lambda *args, **kwargs: None)


@pytest.fixture
def faults(module_stack, monkeypatch):
    # From a quiet stack: an execution an earlier test left (or its ending, delivered late) would
    # draw the faults these tests count.
    assert module_stack.quiesce(timeout=30), "executions or invocations still running"
    monkeypatch.setenv("G3N_OPS_ENDPOINT_URL", module_stack.endpoint_url)
    yield module_stack
    module_stack.set_faults(None)
    sfn = boto3.client("stepfunctions")
    for execution in sfn.list_executions(stateMachineArn=LIFECYCLE, statusFilter="RUNNING")["executions"]:
        sfn.stop_execution(executionArn=execution["executionArn"], cause="test teardown")


def window(description: str) -> dict:
    return {"source": "console", "description": description, "duration": 5, "autoEnd": True}


def records_described(local_stack, description: str) -> list[dict]:
    page = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url)).maintenance.list()
    return [record for record in page["items"] if record["description"] == description]


def test_a_crashed_steps_invocation_did_its_work_and_answers_as_a_timeout(faults, trusted_steps):
    faults.set_faults("crash=1.0@maintenance-steps")
    event = {
        "step": "admit",
        "executionArn": f"{LIFECYCLE.replace('stateMachine', 'execution')}:x",
        "input": window("crashed admit"),
    }
    response = boto3.client("lambda").invoke(FunctionName=STEPS, Payload=json.dumps(event).encode())
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == TIMEOUT_ERROR == "Sandbox.Timedout"
    assert re.fullmatch(r"[0-9a-f-]{36} Task timed out after 30\.00 seconds", payload["errorMessage"])
    assert faults.fault_counts()["crash"] == 1
    faults.set_faults(None)
    assert [record["status"] for record in records_described(faults, "crashed admit")] == ["scheduled"]


def test_crash_is_scoped_to_its_steps_function_and_spares_other_functions(faults, trusted_steps):
    faults.set_faults("crash=1.0@vacuum-steps")
    event = {
        "step": "admit",
        "executionArn": f"{LIFECYCLE.replace('stateMachine', 'execution')}:y",
        "input": window("spared admit"),
    }
    response = boto3.client("lambda").invoke(FunctionName=STEPS, Payload=json.dumps(event).encode())
    assert "FunctionError" not in response and json.loads(response["Payload"].read())["maintenanceId"]
    faults.set_faults("crash=1.0")  # unscoped: steps functions only, never the API or operations
    assert OpsClient(ClientConfig(endpoint_url=faults.endpoint_url)).ping()["status"] == "ok"
    assert faults.fault_counts()["crash"] == 0


def test_step_functions_reports_a_crash_as_sandbox_timedout(faults):
    """The name a vacuum ASL's Retry must match for a lost Lambda result."""
    faults.set_faults("crash=1.0@maintenance-steps")
    sfn = boto3.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=LIFECYCLE,
        name=f"crashed-{uuid.uuid4()}",
        input=json.dumps(window("crashed lifecycle")),
    )
    wait_for_execution(started["executionArn"], timeout=30, expect="FAILED")
    events = sfn.get_execution_history(executionArn=started["executionArn"])["events"]
    failed = [event["taskFailedEventDetails"] for event in events if event["type"] == "TaskFailed"]
    assert [detail["error"] for detail in failed] == [TIMEOUT_ERROR]
    assert "Task timed out after" in json.loads(failed[0]["cause"])["errorMessage"]


@pytest.mark.slow
def test_a_lifecycle_completes_under_moderate_throttling(faults):
    faults.set_faults("throttle=0.3,latency=5", seed=11)
    sfn = boto3.client("stepfunctions")
    started = sfn.start_execution(
        stateMachineArn=LIFECYCLE,
        name=f"throttled-{uuid.uuid4()}",
        input=json.dumps(window("throttled lifecycle")),
    )
    wait_for_execution(started["executionArn"], timeout=60)
    counts = faults.fault_counts()
    faults.set_faults(None)
    assert counts["throttle"] > 0 and counts["latency"] > counts["throttle"]
    [record] = records_described(faults, "throttled lifecycle")
    assert record["status"] == "ended"


@pytest.mark.parametrize(
    ("spec", "name"),
    [("throttle=1.0@dynamodb", "AwsThrottled"), ("server=1.0@dynamodb", "AwsServerError")],
)
def test_a_step_whose_aws_calls_keep_failing_reports_the_name_the_workflow_retries(
    faults, compressed_retry_waits, trusted_steps, spec, name
):
    """Past botocore's few retries, a raw ``ProvisionedThroughputExceededException`` would fail a
    run at once; the steps' edge names it so the workflow's Retry backs off and tries again."""
    faults.set_faults(spec)
    event = {
        "step": "admit",
        "executionArn": f"{LIFECYCLE.replace('stateMachine', 'execution')}:{name}",
        "input": window(f"admit under {spec}"),
    }
    response = boto3.client("lambda").invoke(FunctionName=STEPS, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == name, payload
    assert "the maintenance window's admit step" in payload["errorMessage"]
    assert name in _task_retries("maintenance-lifecycle.asl.json")
    assert name in _task_retries("vacuum.asl.json")
    faults.set_faults(None)
    assert records_described(faults, f"admit under {spec}") == []  # nothing half-written


def test_a_throttled_read_or_request_is_sent_again_and_nothing_else_is(
    faults, compressed_retry_waits, monkeypatch
):
    """The client repeats an operation the account throttled only where repeating cannot act
    twice: a read, or a request with its requestId. A cancel (which may have acted before it was
    throttled) is sent once and its error shown."""
    monkeypatch.setattr(client_module, "INVOKE_BACKOFF_SECONDS", 0.01)
    client = OpsClient(ClientConfig(endpoint_url=faults.endpoint_url))
    sent = {}
    for name, call in {
        "read": lambda: client.vacuum.status("20261130-000000-abcdef"),
        "request": lambda: client.vacuum.org(SECRET, "TESTORG", "throttled", dry_run=True),
        "cancel": lambda: client.vacuum.cancel(SECRET, "20261130-000000-abcdef"),
    }.items():
        faults.set_faults("throttle=1.0@dynamodb")
        with pytest.raises(OpsClientError) as throttled:
            call()
        assert throttled.value.code == "aws-throttled", name
        sent[name] = faults.fault_counts()["throttle"]
    faults.set_faults(None)
    attempts = client_module.INVOKE_ATTEMPTS
    assert sent["read"] % attempts == 0 and sent["read"] // attempts == sent["cancel"] > 0, sent
    assert sent["request"] % attempts == 0, sent


def test_watching_a_run_outlasts_a_throttled_poll(faults, compressed_retry_waits, monkeypatch):
    """The client's wait skips a poll the account throttles (no news) and times out only on the
    clock; an error that is not transient still ends the wait at once."""
    monkeypatch.setattr(client_module, "INVOKE_BACKOFF_SECONDS", 0.01)
    client = OpsClient(ClientConfig(endpoint_url=faults.endpoint_url))
    faults.set_faults("throttle=1.0@dynamodb")
    with pytest.raises(OpsClientError) as timed_out:
        client.vacuum.wait("20261130-000000-abcdef", timeout=1.0, poll=0.1)
    assert timed_out.value.code == "timeout" and "aws-throttled" in timed_out.value.message
    faults.set_faults(None)
    with pytest.raises(OpsClientError) as missing:
        client.vacuum.wait("20261130-000000-abcdef", timeout=5.0, poll=0.1)
    assert missing.value.code == "vacuum-not-found"


def _task_retries(asl_file: str) -> set[str]:
    """Every error name some task of a workflow retries."""
    states = asl_states(json.loads(workflows.read_asl(asl_file))["States"]).values()
    return {name for state in states for rule in state.get("Retry", []) for name in rule["ErrorEquals"]}


# -- the CLI -------------------------------------------------------------------------------------------
def test_local_faults_sets_shows_and_clears_faults_on_the_running_stack(faults, capsys):
    code, document = run_cli_json(
        capsys, "ops", "local", "faults", "throttle=0.20,latency=5@s3", "--fault-seed", "4"
    )
    assert code == 0
    assert document["faults"] == "throttle=0.2,latency=5@s3" and document["seed"] == 4
    assert faults.faults.spec.text() == "throttle=0.2,latency=5@s3"
    assert document["injected"] == {"throttle": 0, "server": 0, "crash": 0, "latency": 0}
    code, document = run_cli_json(capsys, "ops", "local", "faults")  # no SPEC: show
    assert code == 0 and document["faults"] == "throttle=0.2,latency=5@s3"
    code, out, _ = run_cli(capsys, "ops", "local", "faults", "none")
    assert code == 0 and "faults: none" in out and "injected so far: throttle 0" in out
    assert not faults.faults.spec.active


@pytest.mark.parametrize(
    "args",
    [("throttle=2",), ("boom=1",), ("server=1@s4",), ("latency=-1",), ("throttle=0.1", "--fault-seed", "x")],
)
def test_local_faults_refuses_a_bad_spec_and_changes_nothing(faults, capsys, args):
    faults.set_faults("latency=1")
    code, out, _ = run_cli(capsys, "ops", "local", "faults", *args, "--output", "json")
    assert code != 0 and json.loads(out)["error"]["code"] == "invalid-input"
    code, _, err = run_cli(capsys, "ops", "local", "faults", *args)
    assert code != 0 and err.startswith("error: invalid-input: ")
    assert faults.faults.spec.text() == "latency=1"


def test_the_control_route_validates_what_it_is_sent(faults):
    faults.set_faults("latency=1")
    for body in (
        b"not json",
        b"[1]",
        b'{"faults": 5}',
        b'{"faults": "throttle=7"}',
        b'{"faults": "", "seed": "x"}',
    ):
        request = urllib.request.Request(faults.faults_url, data=body, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["error"]["code"] == "invalid-input"
    assert faults.faults.spec.text() == "latency=1"


def test_local_faults_names_a_missing_or_unreachable_stack(faults, capsys, monkeypatch):
    monkeypatch.delenv("G3N_OPS_ENDPOINT_URL")
    code, document = run_cli_json(capsys, "ops", "local", "faults", "none")
    assert code != 0 and document["error"]["code"] == "invalid-input"
    assert "G3N_OPS_ENDPOINT_URL" in document["error"]["message"]
    code, document = run_cli_json(capsys, "ops", "local", "faults", "--endpoint-url", "http://127.0.0.1:9")
    assert code != 0 and document["error"]["code"] == "endpoint-unreachable"


def test_local_up_refuses_a_bad_spec_before_starting(capsys):
    code, out, _ = run_cli(capsys, "ops", "local", "up", "--faults", "crash=0.5@s3", "--output", "json")
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid-input"


@pytest.mark.slow
def test_local_up_starts_with_faults_and_honours_vacuum_tuning_from_its_environment(capsys):
    env = {**os.environ, "G3N_OPS_SECRET_CODE": "local-up-secret-02", "PYTHONUNBUFFERED": "1"}
    env.update(VACUUM_CHUNK_ITEMS="7", VACUUM_RETRY_SECONDS="3")
    env.pop("AWS_ENDPOINT_URL", None)
    command = "from g3n_ops_client.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "ops", "local", "up", "--port", "0", "--output", "json",
         "--faults", "throttle=0.1,crash=0.2@vacuum-steps", "--fault-seed", "9"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )  # fmt: skip
    try:
        info = json.loads(process.stdout.readline())
        assert info["faults"] == "throttle=0.1,crash=0.2@vacuum-steps" and info["seed"] == 9
        endpoint = info["endpointUrl"]
        # The local stack's own keys and region, given here: run alone, this test's process has none.
        lam = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("lambda", endpoint_url=endpoint)
        function = lam.get_function_configuration(FunctionName="g3n-local-ops-vacuum-steps")
        variables = function["Environment"]["Variables"]
        assert variables["VACUUM_CHUNK_ITEMS"] == "7" and variables["VACUUM_RETRY_SECONDS"] == "3"
        code, document = run_cli_json(capsys, "ops", "local", "faults", "none", "--endpoint-url", endpoint)
        assert code == 0 and document["faults"] == "none"
        with urllib.request.urlopen(endpoint + "/_ops/local/faults", timeout=10) as response:
            assert json.loads(response.read())["faults"] == "none"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
