"""A platform service adopts the maintenance guard as its README says, and it works.

The "service" is a Lambda function built only from what the README lists: the guard layer (the
folder the stack ships, ``python/g3n_maintenance_guard``), Powertools at the version of the
Powertools layer OPS deploys, and boto3. Each run is a fresh interpreter (a cold container) whose
``sys.path`` holds those and the standard library, nothing of the dev venv; it is configured by the
two environment variables only, found the way a service finds them (the SSM discovery parameters),
and it is invoked with API Gateway events against the local stack while a real window is off, on,
and off again.

Powertools and boto3 are installed once (``pip install --target``) into pytest's cache folder and
reused by later runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from g3n_ops.contract import discovery
from g3n_ops_client.local.defaults import LOCAL_REGION
from infra.project import PROJECT_ROOT
from tests.maintenance_support import soon
from tests.support import SECRET

POWERTOOLS = f"aws-lambda-powertools=={metadata.version('aws-lambda-powertools')}"  # the layer's version
BOTO3 = f"boto3=={metadata.version('boto3')}"

# The README's adoption, step 3: both ways of wrapping a handler.
RESOLVER_SERVICE = """
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from g3n_maintenance_guard import MaintenanceGuard

guard = MaintenanceGuard()                 # module level: one cache per container
app = APIGatewayHttpResolver()
app.use(middlewares=[guard.middleware])    # every route, except /ping and /stat


@app.get("/orders")
def orders():
    return {"orders": []}


@app.get("/ping")
def ping():
    return {"ok": True}


def handler(event, context):
    return app.resolve(event, context)
"""
PLAIN_SERVICE = """
import json

from g3n_maintenance_guard import maintenance_guard


@maintenance_guard                         # a plain API Gateway (REST or HTTP API) handler
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"orders": []})}
"""
# The container: sys.path is the layer, the packages and the function's code, then the stdlib.
RUNNER = """
import importlib, importlib.util, json, sys
layer, packages, code, module = sys.argv[1:5]
sys.path[:0] = [layer, packages, code]
dev_only = ("g3n_ops", "g3n_ops_client", "pydantic", "moto", "aws_cdk")
leaked = [name for name in dev_only if importlib.util.find_spec(name)]
service = importlib.import_module(module)
responses = [service.handler(event, None) for event in json.load(sys.stdin)]
used = ("g3n_maintenance_guard", "aws_lambda_powertools", "boto3")
origins = {name: sys.modules[name].__file__ for name in used}
print(json.dumps({"leaked": leaked, "origins": origins, "responses": responses}))
"""


def http_event(path: str) -> dict:
    """API Gateway HTTP API (payload 2.0), as API Gateway sends it to the service's function."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1"},
            "requestId": "adoption-test",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _packages(cache: Path) -> Path:
    """Powertools and boto3 alone, installed once (an atomic rename: parallel runs are safe)."""
    target = cache / f"{POWERTOOLS}+{BOTO3}".replace("==", "-")
    if (target / ".complete").exists():
        return target
    building = cache / f".building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-compile", "--target", str(building), POWERTOOLS, BOTO3]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"pip install {POWERTOOLS} {BOTO3} failed:\n{done.stderr[-3000:]}"
    (building / ".complete").touch()
    try:
        building.rename(target)
    except OSError:  # another run got there first
        shutil.rmtree(building, ignore_errors=True)
    return target


@pytest.fixture(scope="module")
def lambda_service(request, tmp_path_factory) -> dict[str, Path]:
    """The service function's three folders: the guard layer, the packages, the function code."""
    from infra.constructs.guard import stage_layer_content  # the CDK: only where a test needs it

    folder = tmp_path_factory.mktemp("service")
    layer = stage_layer_content(PROJECT_ROOT / "lambdas" / "g3n_maintenance_guard", folder) / "python"
    code = folder / "code"
    code.mkdir()
    (code / "resolver_service.py").write_text(RESOLVER_SERVICE)
    (code / "plain_service.py").write_text(PLAIN_SERVICE)
    cache = getattr(request.config, "cache", None)  # None with -p no:cacheprovider: this run only
    packages = _packages(Path(cache.mkdir("guard-adoption")) if cache else folder)
    return {"layer": layer, "packages": packages, "code": code, "home": folder}


def invoke(service: dict[str, Path], environment: dict[str, str], module: str, *paths: str) -> list[dict]:
    """One cold container of ``module``: each path is one API Gateway request to it."""
    home = service["home"]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_ACCESS_KEY_ID": "orders-service",
        "AWS_SECRET_ACCESS_KEY": "orders-service",
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        "POWERTOOLS_SERVICE_NAME": "orders",
        **environment,
    }
    # -I: no PYTHON* variables, no user site, no script folder; -S: no site-packages (the venv's).
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            RUNNER,
            *map(str, (service["layer"], service["packages"])),
            str(service["code"]),
            module,
        ],
        input=json.dumps([http_event(path) for path in paths]),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["leaked"] == []
    assert result["origins"] == {
        "g3n_maintenance_guard": str(service["layer"] / "g3n_maintenance_guard" / "__init__.py"),
        "aws_lambda_powertools": str(service["packages"] / "aws_lambda_powertools" / "__init__.py"),
        "boto3": str(service["packages"] / "boto3" / "__init__.py"),
    }
    return result["responses"]


@pytest.mark.slow
def test_a_service_built_as_the_readme_says_answers_503_during_a_window(lambda_service, ops, local_stack):
    # The two variables, from what OPS publishes (a deployed service reads the same parameters,
    # or the guard construct's ``environment`` in the same CDK app).
    status_url = ops.parameter(discovery.API_URL) + "/status"
    environment = {
        "G3N_OPS_TABLE_NAME": ops.parameter(discovery.TABLE_NAME),
        "G3N_OPS_STATUS_URL": status_url,
        "AWS_ENDPOINT_URL": local_stack.endpoint_url,  # the local stack stands in for AWS
    }
    before = invoke(lambda_service, environment, "resolver_service", "/orders", "/ping")
    assert [response["statusCode"] for response in before] == [200, 200]
    assert json.loads(before[0]["body"]) == {"orders": []}

    window = ops.maintenance.schedule(SECRET, "Database upgrade", 600, soon(3600))
    ops.maintenance.start(SECRET, window["maintenanceId"])
    blocked, ping = invoke(lambda_service, environment, "resolver_service", "/orders", "/ping")
    assert (blocked["statusCode"], ping["statusCode"]) == (503, 200)
    headers = {key.lower(): value for key, value in blocked["headers"].items()}
    assert 5 <= int(headers["retry-after"]) <= 600
    assert headers["link"] == f'<{status_url}>; rel="status"'
    body = json.loads(blocked["body"])
    assert body["maintenanceId"] == window["maintenanceId"]
    assert body["statusPage"] == status_url and "Database upgrade" in body["message"]
    (plain,) = invoke(lambda_service, environment, "plain_service", "/orders")
    assert (
        plain["statusCode"] == 503 and json.loads(plain["body"])["maintenanceId"] == window["maintenanceId"]
    )

    ops.maintenance.end(SECRET, "done")
    after = invoke(lambda_service, environment, "resolver_service", "/orders")
    assert [response["statusCode"] for response in after] == [200]
