"""No secret anywhere: one known code through every surface that takes it (CLI and MCP; maintenance
schedule/start/update/end, vacuum dry-run/run/cancel, rotate-secret, wrong codes), then every
place OPS writes to is read back and searched for the code, the code it was rotated to, the wrong
codes, and their encodings (base64 at every alignment, hex, percent-encoding), case-insensitively:

- every log event of every log group on the local stack (audit, service groups) and everything the
  handlers printed (their stdout is what Lambda ships to CloudWatch Logs), at DEBUG level;
- every execution's full history, every OPS item, the CLI's and the MCP tools' output;
- the synthesised CloudFormation template (a separate test: it needs no stack).

The operator bypass tokens (issue 18) go through the same scan: issued by schedule, start and a
rotation, sent to a stand-in service (right, wrong, in another casing), they must be in the
CLI's answers that issued them (shown once) and nowhere else: no log, audit entry, execution
history, OPS item, status page (HTML or JSON), 503 body or MCP tool output.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

import anyio
import boto3
import pytest
from mcp import Client
from mcp_types import ElicitResult

from g3n_maintenance_guard import BYPASS_HEADER
from g3n_ops.observability import logger
from g3n_ops_client.mcp_server import build_server
from tests.maintenance_support import soon
from tests.support import SECRET, run_cli, wait_until
from tests.vacuum_support import ops_items

NEW_CODE = "rotated-code-9d41c7e2b8"
WRONG_CODES = ("wrong-code-5b2e11aa70", "wrong-code-0c9f3d6e42")


def encodings(code: str) -> set[str]:
    """The code as it could leak without being spelled out: base64 (standard and URL-safe, at all
    three alignments inside a longer blob, padding stripped), hex, percent-encoding."""
    raw = code.encode()
    found = {code, raw.hex(), urllib.parse.quote(code), urllib.parse.quote_plus(code)}
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            blob = encode(b"\0" * shift + raw).decode().rstrip("=")
            # Drop the characters that mix with the neighbouring bytes; the middle is stable.
            found.add(blob[(shift * 4 + 2) // 3 + 1 : -2])
    return {text.lower() for text in found if len(text) >= 8}


def leaks(text: str, codes: tuple[str, ...]) -> dict[str, list[str]]:
    lowered = text.lower()
    return {code: hits for code in codes if (hits := sorted(e for e in encodings(code) if e in lowered))}


def everything_stored() -> dict[str, str]:
    """Every log event of every group, every execution history, every OPS item, as text."""
    logs, sfn = boto3.client("logs"), boto3.client("stepfunctions")
    found: dict[str, str] = {}
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            events = logs.get_paginator("filter_log_events").paginate(logGroupName=group["logGroupName"])
            found[f"log group {group['logGroupName']}"] = json.dumps([e for p in events for e in p["events"]])
    for machine in sfn.list_state_machines()["stateMachines"]:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"]):
            for execution in page["executions"]:
                arn = execution["executionArn"]
                history = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
                described = sfn.describe_execution(executionArn=arn)
                found[f"execution {arn}"] = json.dumps([described, *history], default=str)
    found["OPS table"] = json.dumps(ops_items(), default=str)
    return found


def exercise_lockout(cli, local_stack) -> None:
    """The lockout's own path goes through the scan too: enough wrong codes to lock, then the right
    code refused while locked (its audit entries, metrics and the event must not carry a code)."""
    with local_stack.secret_lockout(threshold=len(WRONG_CODES), window_seconds=60):
        for code in WRONG_CODES:
            answer = cli("maintenance-update", "--secret-code", code, "--text", "wrong")
            assert answer["error"]["code"] == "secret-code-mismatch"
        locked = cli("maintenance-update", "--secret-code", SECRET, "--text", "locked out")
        assert locked["error"]["code"] == "secret-code-locked"


@pytest.mark.slow
def test_the_code_appears_nowhere_after_every_surface_used_it(
    seeded, local_stack, capsys, caplog, monkeypatch, ops_log_level
):
    ops_log_level("DEBUG")  # the most the handlers ever log
    # Every record OPS's code logs, with its structured extras (not botocore's own client-side
    # DEBUG dumps of the request the CLI sends, which by design carry what the operator typed).
    caplog.set_level("DEBUG", logger=logger.name)
    printed: list[str] = []

    def cli(*args: str) -> dict:
        _, out, err = run_cli(capsys, "ops", *args, "--output", "json")
        printed.extend((out, err))
        # The stand-ins run in this process: their guard's metric lines (EMF) share its stdout.
        return json.loads("\n".join(line for line in out.splitlines() if not line.startswith('{"_aws"')))

    # Maintenance, through the CLI, code from the flag; with an operator bypass, issued three times.
    window = cli("maintenance-schedule", "--secret-code", SECRET, "--description", "no-secret test",
                 "--duration", "60", "--start", soon(30), "--bypass")  # fmt: skip
    window_id = window["maintenanceId"]
    started = cli("maintenance-start", "--secret-code", SECRET, "--maintenance-id", window_id, "--bypass")
    assert started["status"] == "active"
    assert cli("maintenance-update", "--secret-code", SECRET, "--text", "halfway")["status"] == "active"
    rotated = cli("maintenance-update", "--secret-code", SECRET, "--rotate-bypass")
    tokens = (window["bypassToken"], started["bypassToken"], rotated["bypassToken"])
    public = use_the_bypass(local_stack, rotated["bypassToken"], tokens[:2])
    exercise_lockout(cli, local_stack)
    assert cli("maintenance-end", "--secret-code", SECRET, "--end-message", "done")["status"] == "ended"

    # Vacuum: a dry-run, a real run, its cancel (in the pending window), through the CLI, code from
    # the environment this time.
    monkeypatch.setenv("G3N_OPS_SECRET_CODE", SECRET)
    dry = cli("vacuum-org", "--orgcode", "TESTORG", "--reason", "no-secret test", "--dry-run")
    assert (
        cli("vacuum-status", "--vacuum-id", dry["vacuumId"], "--watch", "--timeout", "60")["status"]
        == "completed"
    )
    real = cli("vacuum-org", "--orgcode", "TESTORG", "--reason", "no-secret test")
    # Cancelled in its pending window, or (the window is 2 s here, a loaded machine can miss it)
    # cancelling once running, then cancelled: either way every surface used the code.
    assert cli("vacuum-cancel", "--vacuum-id", real["vacuumId"])["status"] in ("cancelled", "cancelling")
    final = cli("vacuum-status", "--vacuum-id", real["vacuumId"], "--watch", "--timeout", "60")
    assert final["status"] == "cancelled"

    # MCP: the server's environment holds the code; the tools' output is captured. The operator
    # confirms each write when asked (yes/no).
    async def operator_confirms(context, params) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    async def through_mcp() -> list[str]:
        async with Client(build_server(), elicitation_callback=operator_confirms) as session:
            scheduled = await session.call_tool(
                "maintenance_schedule", {"description": "mcp", "duration": 60, "start": soon(60)}
            )
            counted = await session.call_tool(
                "vacuum_org", {"orgcode": "TESTORG", "reason": "mcp", "dry_run": True}
            )
            monkeypatch.setenv("G3N_OPS_SECRET_CODE", WRONG_CODES[0])
            refused = await session.call_tool("maintenance_update", {"text": "wrong"})
        results = (scheduled, counted, refused)
        assert [result.is_error for result in results] == [False, False, True]
        printed.extend(json.dumps(result.model_dump(mode="json")) for result in results)
        return scheduled.structured_content["maintenanceId"]

    mcp_window = anyio.run(through_mcp)
    mcp_output = printed[-3:]  # the three tools' results

    # Rotation: to a new code, used once, and back (the session's other tests use SECRET).
    assert cli("rotate-secret", "--secret-code", SECRET, "--new-secret-code", NEW_CODE) == {"rotated": True}
    cancelled = cli("maintenance-cancel", "--secret-code", NEW_CODE, "--maintenance-id", mcp_window)
    assert cancelled["status"] == "cancelled"
    assert cli("rotate-secret", "--secret-code", NEW_CODE, "--new-secret-code", SECRET) == {"rotated": True}

    printed.extend(capsys.readouterr())  # whatever was printed between CLI calls
    codes = (SECRET, NEW_CODE, *WRONG_CODES)
    found = {
        "CLI and MCP output": "\n".join(printed),
        "handler logs": json.dumps(
            [record.__dict__ for record in caplog.records if record.name.startswith("g3n")], default=str
        ),
        **everything_stored(),
    }
    assert "secret code mismatch" in found["handler logs"]  # the logs were captured indeed
    assert len(found) > 3 and any(name.startswith("execution") for name in found)
    assert {name: hits for name, text in found.items() if (hits := leaks(text, codes))} == {}

    # The bypass tokens: in the CLI answers that issued them, once each, and nowhere else.
    cli_output = found.pop("CLI and MCP output")
    assert all(cli_output.count(token) == 1 for token in tokens)
    found |= {"MCP output": json.dumps(mcp_output), "status page and 503 bodies": public}
    assert {name: hits for name, text in found.items() if (hits := leaks(text, tokens))} == {}


def use_the_bypass(local_stack, token: str, voided: tuple[str, ...]) -> str:
    """Requests to the stand-ins with the bypass, a voided one, a wrong one and one in another
    casing; returns what the public and the refused callers saw (status page, 503 bodies)."""
    services_url, seen = local_stack.info.services_url, []

    def get(url: str, headers: dict) -> int:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
                seen.append(answer.read().decode())
                return answer.status
        except urllib.error.HTTPError as error:
            seen.append(error.read().decode())
            return error.code

    wait = local_stack.guard_ttl_seconds + 5
    wait_until(lambda: get(f"{services_url}/ord/orders", {}) == 503, timeout=wait, message="the window")
    wait_until(lambda: get(f"{services_url}/ord/orders", {BYPASS_HEADER: voided[-1]}) == 503,
               timeout=wait, message="the rotation")  # fmt: skip
    assert get(f"{services_url}/ord/orders", {BYPASS_HEADER: token}) == 200
    # Each service caches the state for its own TTL: pay too must have seen the rotation.
    wait_until(lambda: get(f"{services_url}/pay/orders", {BYPASS_HEADER: voided[-1]}) == 503,
               timeout=wait, message="the rotation at pay")  # fmt: skip
    for other in (*voided, token.upper(), token[::-1]):
        assert get(f"{services_url}/pay/orders", {BYPASS_HEADER: other}) == 503
    api = local_stack.info.api_url
    get(f"{api}/status", {})
    get(f"{api}/status", {"Accept": "application/json"})
    return "\n".join(seen)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_synthesised_template_carries_no_code(tmp_path, monkeypatch):
    from tests.infra.test_stack import _synth

    monkeypatch.setenv("G3N_OPS_SECRET_CODE", SECRET)
    _, template = _synth(tmp_path, {}, nag=False)
    assert leaks(template.text, (SECRET,)) == {}


def test_the_scan_finds_each_encoding():
    """The scanner itself: it would see the code spelled out, in base64 inside a blob, or in hex."""
    for text in (
        f"x{SECRET}y",
        SECRET.upper(),
        base64.b64encode(b"prefix:" + SECRET.encode()).decode(),
        base64.urlsafe_b64encode(b"ab" + SECRET.encode() + b"cd").decode(),
        SECRET.encode().hex(),
        urllib.parse.quote(SECRET),
    ):
        assert leaks(text, (SECRET,)), text
    assert leaks("nothing to see " + base64.b64encode(b"other").decode(), (SECRET,)) == {}
