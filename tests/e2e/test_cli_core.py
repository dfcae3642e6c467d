"""`g3n ops ping | stat | services | rotate-secret | local up` against the embedded local stack."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from g3n_ops.domain import secret
from g3n_ops.store import table
from tests.support import SECRET, run_cli, run_cli_json


def test_ping_reports_health_and_no_maintenance(seeded, capsys):
    code, document = run_cli_json(capsys, "ops", "ping")
    assert code == 0
    assert document["status"] == "ok" and document["stage"] == "local"
    assert document["maintenance"] == {"active": False}
    code, out, _ = run_cli(capsys, "ops", "ping")
    assert code == 0 and "no maintenance window is active" in out


def test_a_client_makes_each_aws_client_once_however_often_it_calls(seeded, client):
    client.ping()
    made = client.aws("lambda")
    client.ping(), client.maintenance.list()
    assert client.aws("lambda") is made


def test_stat_counts_every_seeded_table(seeded, capsys):
    code, document = run_cli_json(capsys, "ops", "stat")
    assert code == 0
    counts = {name: count for s in document["services"].values() for name, count in s["tables"].items()}
    assert counts == {name: sum(per_org.values()) for name, per_org in seeded["tables"].items()}
    assert document["vacuum"]["last"] is None
    code, out, _ = run_cli(capsys, "ops", "stat")
    assert code == 0 and "g3n-local-inv-movements" in out


def test_services_prints_the_registry_contract(seeded, capsys):
    code, document = run_cli_json(capsys, "ops", "services")
    assert code == 0
    services = document["services"]
    assert sum(1 for s in services if s["api"]) == 14
    tables = [t for s in services for t in s["tables"]]
    assert len(tables) == 20
    assert set(tables[0]) >= {"name", "keySchema", "orgIndex"}
    assert set(services[0]) >= {"code", "name", "api", "tables", "buckets", "logGroups"}
    cat = next(s for s in services if s["code"] == "cat")
    assert cat["buckets"] == ["g3n-local-123456789012-cat-media"]
    assert cat["logGroups"] == ["/aws/lambda/g3n-local-cat-api"]


def test_wrong_secret_is_refused_changes_nothing_and_is_never_printed(seeded, capsys):
    before = table.get(secret.SECRET_PK)
    wrong = "guess-1234567890"
    code, out, err = run_cli(
        capsys, "ops", "rotate-secret", "--secret-code", wrong, "--new-secret-code", "another-1234567890"
    )
    assert code != 0
    assert err.startswith("error: secret-code-mismatch: ")
    assert wrong not in out + err and "another-1234567890" not in out + err  # nor in the handler's logs
    assert table.get(secret.SECRET_PK) == before
    code, out, _ = run_cli(
        capsys,
        "ops",
        "rotate-secret",
        "--secret-code",
        wrong,
        "--new-secret-code",
        "another-1234567890",
        "--output",
        "json",
    )
    assert code != 0 and json.loads(out)["error"]["code"] == "secret-code-mismatch"


def test_rotate_secret_through_the_cli(seeded, capsys):
    code, _, _ = run_cli(
        capsys, "ops", "rotate-secret", "--secret-code", SECRET, "--new-secret-code", "rotated-code-000001"
    )
    assert code == 0
    secret.verify("rotated-code-000001")
    code, _, _ = run_cli(
        capsys, "ops", "rotate-secret", "--secret-code", "rotated-code-000001", "--new-secret-code", SECRET
    )
    assert code == 0


def test_a_gated_command_without_a_secret_does_not_block_on_stdin(seeded, capsys):
    code, out = run_cli_json(capsys, "ops", "rotate-secret", "--new-secret-code", "abcdefghijklmnop")
    assert code != 0 and out["error"]["code"] == "secret-code-required"


def test_bad_flags_are_invalid_input(seeded, capsys):
    code, out, _ = run_cli(capsys, "ops", "ping", "--no-such-flag", "--output", "json")
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid-input"


def test_the_wrong_stage_is_refused(seeded, capsys):
    code, out = run_cli_json(capsys, "ops", "ping", "--stage", "prod")
    assert code != 0 and out["error"]["code"] == "stage-mismatch"


def test_an_unreachable_endpoint_is_named(capsys):
    code, out = run_cli_json(capsys, "ops", "ping", "--endpoint-url", "http://127.0.0.1:9")
    assert code != 0 and out["error"]["code"] == "endpoint-unreachable"


@pytest.mark.slow
def test_local_up_serves_until_interrupted(tmp_path):
    env = {**os.environ, "G3N_OPS_SECRET_CODE": "local-up-secret-01", "PYTHONUNBUFFERED": "1"}
    env.pop("AWS_ENDPOINT_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from g3n_ops_client.cli import main; main()",
            "ops",
            "local",
            "up",
            "--port",
            "0",
            "--output",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())
        assert "secretCode" not in info  # it came from the environment, so it is not printed
        with urllib.request.urlopen(info["apiUrl"] + "/ping", timeout=10) as response:
            assert json.loads(response.read())["status"] == "ok"
        with urllib.request.urlopen(info["servicesUrl"] + "/cat/products", timeout=10) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


# Run in a process of its own: a second stack in this one would share moto's backends with the
# session's stack.
STOP_SCRIPT = """
import json, sys, time
from datetime import UTC, datetime, timedelta
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.local import LocalStack
from g3n_ops_client.local.defaults import LOCAL_ACCOUNT, LOCAL_REGION

secret = sys.argv[1]
stack = LocalStack(port=0, secret_code=secret, guard_ttl_seconds=1, probe_margin_seconds=1)
stack.start(seed=False)
client = OpsClient(ClientConfig(endpoint_url=stack.endpoint_url))
start = datetime.now(UTC) + timedelta(minutes=5)
window = client.maintenance.schedule(secret, "left running", 60, start)
client.maintenance.start(secret, window["maintenanceId"])
while client.maintenance.get(window["maintenanceId"])["status"] != "active":
    time.sleep(0.2)
stack.stop()
backend = stepfunctions_parser_backends[LOCAL_ACCOUNT][LOCAL_REGION]
executions = [e for machine in backend.state_machines for e in machine.executions]
print(json.dumps(sorted({execution.status for execution in executions})))
"""


@pytest.mark.slow
def test_stopping_the_local_stack_stops_the_executions_it_runs():
    """A window still running when the stack stops (`local up` interrupted, a test session's end)
    is stopped with it: no execution thread goes on probing a server that is gone."""
    result = subprocess.run(
        [sys.executable, "-c", STOP_SCRIPT, "local-stop-secret-01"],
        capture_output=True,
        text=True,
        timeout=120,
        env={key: value for key, value in os.environ.items() if key != "AWS_ENDPOINT_URL"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RUNNING" not in json.loads(result.stdout.splitlines()[-1])
