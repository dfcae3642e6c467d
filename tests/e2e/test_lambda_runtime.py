"""The functions run as Lambda runs them: from the synthesised asset folder, the public
Powertools layer's packages (``aws-lambda-powertools[all]`` at the version the template's layer
parameter names) and the boto3 the Lambda Python 3.11 runtime bundles, and nothing from the dev
venv. Every handler is imported and given one real event in a separate interpreter (``-S``: no
site-packages), acting as its own role against the local stack (IAM enforced).

The layer and runtime packages are installed once with ``pip --target`` into the cache
(``~/.cache/g3n-ops/lambda-runtime/``, ``G3N_OPS_CACHE_DIR`` moves it); that first run needs the
package index. Whatever the layer's pydantic (Powertools' lock, not the project's pin) differs on
shows up here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from g3n_ops_client.local.iam.context import access_key_for, secret_key_for
from g3n_ops_client.local.iam.template import cache_dir, synthesised, synthesised_template
from infra import catalogue

# boto3 as the Lambda python3.11 runtime bundles it (it lags the project's pin; from the Lambda
# docs' "runtime-included SDK versions": update it when AWS updates the runtime).
LAMBDA_RUNTIME_BOTO3 = "1.40.4"
ACCOUNT, REGION = "123456789012", "us-east-1"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:g3n-local-ops-%s:not-a-real-execution"

RUNNER = textwrap.dedent(
    """
    import json, sys, time, uuid, importlib
    handler_path, event = sys.argv[1], json.loads(sys.argv[2])
    module, _, name = handler_path.rpartition(".")

    class Context:
        function_name = sys.argv[3]
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + sys.argv[3]
        memory_limit_in_mb = 512
        function_version = "$LATEST"
        aws_request_id = str(uuid.uuid4())
        log_group_name = "/aws/lambda/" + sys.argv[3]
        log_stream_name = "local"
        def get_remaining_time_in_millis(self):
            return 30000

    try:  # what Lambda reports of a raised error: its type and message
        result = getattr(importlib.import_module(module), name)(event, Context())
    except Exception as error:
        result = {"errorType": type(error).__name__, "errorMessage": str(error)}
    import boto3, pydantic, aws_lambda_powertools
    from aws_lambda_powertools.shared.version import VERSION
    files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
    print(json.dumps({
        "result": result,
        "versions": {"boto3": boto3.__version__, "pydantic": pydantic.VERSION, "powertools": VERSION},
        "paths": sys.path,
        "files": sorted({f for f in files if "site-packages" in f or ".venv" in f}),
    }, default=str))
    """
)


def pip_target(name: str, *requirements: str) -> Path:
    target = cache_dir().parent / "lambda-runtime" / name
    if not (target / ".complete").exists():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-compile", "--target", str(target), "--python-version", "3.11",
                   "--platform", "manylinux2014_x86_64", "--only-binary=:all:", *requirements]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"pip could not build {name}: {done.stderr[-2000:]}"
        (target / ".complete").write_text("")
    return target


@pytest.fixture(scope="module")
def lambda_paths() -> list[Path]:
    """What Lambda puts on sys.path, in its order: the function's code, the layer, the runtime."""
    template = synthesised_template("local")
    (layer_parameter,) = {
        p["Default"]
        for p in template["Parameters"].values()
        if "/aws/service/powertools/" in p.get("Default", "")
    }
    version = layer_parameter.rsplit("/", 1)[1]
    layer = pip_target(f"powertools-{version}", f"aws-lambda-powertools[all]=={version}")
    # The published layer leaves the SDK out (the runtime has it): so does this one.
    for path in layer.iterdir():
        if path.name.split("-")[0] in ("boto3", "botocore", "s3transfer"):
            shutil.rmtree(path)
    runtime = pip_target(f"boto3-{LAMBDA_RUNTIME_BOTO3}", f"boto3=={LAMBDA_RUNTIME_BOTO3}")
    return [synthesised("local") / "asset", layer, runtime]


def events(local_stack) -> dict[str, dict]:
    api_event = {
        "version": "2.0", "routeKey": "$default", "rawPath": "/maintenance", "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {"http": {"method": "GET", "path": "/maintenance", "sourceIp": "127.0.0.1"},
                           "requestId": "r", "stage": "$default", "accountId": ACCOUNT, "apiId": "local",
                           "routeKey": "$default", "timeEpoch": 0},
        "isBase64Encoded": False,
    }  # fmt: skip
    status_event = {
        "version": "0", "id": "e", "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": ACCOUNT, "region": REGION, "time": "2026-12-06T00:00:00Z",
        "resources": [EXECUTION % "vacuum"],
        "detail": {"executionArn": EXECUTION % "vacuum", "status": "ABORTED",
                   "stateMachineArn": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:g3n-local-ops-vacuum",
                   "name": "not-a-real-execution", "input": "{}"},
    }  # fmt: skip
    return {
        "api": api_event,
        "admin": {"operation": "rotate-secret", "secretCode": "not-the-code-0001", "newSecretCode": "x" * 20},
        "maintenance": {"operation": "maintenance-schedule", "secretCode": "not-the-code-0002",
                        "description": "x", "duration": 600, "start": "2099-01-01T00:00:00Z"},
        "maintenance-steps": {"step": "admit", "maintenanceId": "mw-20261206-00000000",
                              "executionArn": EXECUTION % "maintenance"},
        "vacuum": {"operation": "vacuum-list"},
        "vacuum-steps": {"step": "admit", "input": {"vacuumId": "20261206-000000-abcdef"},
                         "executionArn": EXECUTION % "vacuum"},
        "execution-status": status_event,
    }  # fmt: skip


@pytest.mark.parametrize("spec", catalogue.FUNCTIONS, ids=lambda spec: spec.key)
@pytest.mark.usefixtures("stack")
def test_each_handler_imports_and_runs_a_real_event_as_lambda_would(spec, local_stack, lambda_paths):
    name = catalogue.function_name("local", spec.key)
    environment = {
        **local_stack.provisioner.function_environment(),
        "PYTHONPATH": os.pathsep.join(str(path) for path in lambda_paths),
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL": local_stack.endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": access_key_for(name),  # the function's role, enforced by the stack
        "AWS_SECRET_ACCESS_KEY": secret_key_for(name),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "POWERTOOLS_SERVICE_NAME": "g3n-ops",
        "POWERTOOLS_METRICS_NAMESPACE": "G3nOps",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    event = events(local_stack)[spec.key]
    command = [sys.executable, "-S", "-s", "-c", RUNNER, spec.handler, json.dumps(event), name]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Nothing from the dev venv: every third-party module came from the layer or the runtime.
    venv = str(Path(sys.prefix))
    assert not [path for path in report["paths"] if path.startswith(venv)], report["paths"]
    assert not [f for f in report["files"] if f.startswith(venv)], report["files"]
    assert report["versions"]["boto3"] == LAMBDA_RUNTIME_BOTO3
    result = report["result"]
    assert "AccessDenied" not in json.dumps(result), result
    if spec.key == "api":
        assert result["statusCode"] == 200, result
    elif spec.key == "vacuum":
        assert "result" in result, result
    elif spec.key in ("admin", "maintenance"):  # read the secret's hash, verified with scrypt
        assert result["error"]["code"] == "secret-code-mismatch", result
    else:  # a step event naming an execution that does not exist: refused after DescribeExecution
        assert "StepCallerRefused" in json.dumps(result) or "step-caller-refused" in json.dumps(result), (
            result
        )
