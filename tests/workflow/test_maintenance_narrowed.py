"""Windows the way operators use them (issue 18), on the local stack's 14 stand-ins through HTTP,
across each window's start, its effect and its end:

- an operator bypass (``--bypass``): the token passes on every affected service, a wrong one, one
  in another casing, an oversized or malformed one gets the same 503 as none; rotated, the old
  one stops; ended, it is nothing;
- a read-only window (``--allow-methods GET,HEAD``): GET answers 200, POST 503;
- a scoped window (``--services pay,ord``): those answer 503, the other 12 go on with 200, and the
  effect probe proves both sides (``allBlockedAt`` and ``othersUnaffected``, or ``collateral``).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

import boto3
import pytest

from g3n_maintenance_guard import BYPASS_HEADER
from g3n_ops.settings import settings
from g3n_ops_client.errors import OpsClientError
from infra.project import PROJECT_ROOT
from tests.maintenance_support import audit_lines, parse, soon
from tests.support import SECRET, run_cli, run_cli_json, wait_until

pytestmark = pytest.mark.slow

SCOPE = ["ord", "pay"]  # in registry order
REGISTRY_FILE = PROJECT_ROOT / "infra" / "registry.json"


def call(services_url: str, code: str, *, method: str = "GET", headers: dict | None = None):
    """One request to a stand-in: (status, body as text)."""
    data = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(
        f"{services_url}/{code}/orders", data=data, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def raw_call(services_url: str, code: str, header_lines: list[bytes]) -> tuple[int, bytes]:
    """A request with header bytes no well-behaved client would send (not ASCII, say)."""
    parts = urlsplit(services_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("GET", f"{parts.path}/{code}/orders", skip_accept_encoding=True)
    for line in header_lines:
        name, _, value = line.partition(b": ")
        connection.putheader(name.decode(), value)
    connection.endheaders()
    response = connection.getresponse()
    status, body = response.status, response.read()
    connection.close()
    return status, body


def statuses(services_url: str, codes: list[str], **options) -> dict[str, int]:
    return {code: call(services_url, code, **options)[0] for code in codes}


def until_all(services_url: str, codes: list[str], status: int, *, timeout: float, **options) -> None:
    wait_until(
        lambda: set(statuses(services_url, codes, **options).values()) == {status},
        timeout=timeout,
        message=f"{codes} answer {status} ({options})",
    )


def record_with(ops, maintenance_id: str, field: str, *, timeout: float) -> dict:
    return wait_until(
        lambda: (record := ops.maintenance.get(maintenance_id)).get(field) and record,
        timeout=timeout,
        message=f"the window's {field}",
    )


def cli_json(capsys, *args: str) -> dict:
    code, document = run_cli_json(capsys, "ops", *args)
    assert code == 0, document
    return document


def test_the_bypass_passes_on_every_service_through_start_rotation_and_end(ops, local_stack, capsys):
    services_url = local_stack.info.services_url
    codes = [service.code for service in ops.registry().api_services]
    ttl = local_stack.guard_ttl_seconds
    slack = ttl + local_stack.probe_margin_seconds
    assert set(statuses(services_url, codes).values()) == {200}  # warm: "no maintenance" cached

    window = cli_json(capsys, "maintenance-schedule", "--secret-code", SECRET, "--description", "Upgrade",
                      "--duration", "600", "--start", soon(2), "--bypass")  # fmt: skip
    token, maintenance_id = window["bypassToken"], window["maintenanceId"]
    assert isinstance(token, str) and len(token) == 43 and window["bypass"] is True
    assert "bypassSha256" not in window
    header = {BYPASS_HEADER: token}

    # Start: the execution starts it; without the header every service turns 503, with it none does.
    until_all(services_url, codes, 503, timeout=ttl + 10)
    assert set(statuses(services_url, codes, headers=header).values()) == {200}
    assert set(statuses(services_url, codes, method="POST", headers=header).values()) == {200}
    refused = call(services_url, "cat")
    assert refused[0] == 503 and token not in refused[1] and "bypass" not in refused[1].lower()
    hostile = {
        "wrong": {BYPASS_HEADER: "W" * 43},
        "upper": {BYPASS_HEADER: token.upper()},
        "lower": {BYPASS_HEADER: token.lower()},
        "swapped": {BYPASS_HEADER: token.swapcase()},
        "truncated": {BYPASS_HEADER: token[:-1]},
        "padded": {BYPASS_HEADER: token + "=" * 3},
        "oversized": {BYPASS_HEADER: token * 200},
        "repeated": {BYPASS_HEADER: f"{token}, {token}"},
        "other header": {"X-G3N-Maintenance": token},
    }
    for name, headers in hostile.items():
        answers = {call(services_url, code, headers=headers) for code in ("cat", "pay")}
        # Same status and body as no header at all (Retry-After aside: not in the body).
        assert {status for status, _ in answers} == {503}, name
        assert call(services_url, "cat", headers=headers)[1] == refused[1], name
    # The header's name in another casing is the same header.
    assert call(services_url, "ord", headers={"x-g3n-MAINTENANCE-bypass": token})[0] == 200
    # Bytes that are not ASCII, a header with nothing in it: refused like any wrong value.
    for lines in (
        [b"X-G3N-Maintenance-Bypass: " + token.encode() + "\u00e9".encode("latin-1")],
        [b"X-G3N-Maintenance-Bypass: \xff\xfe" + token.encode()],
        [b"X-G3N-Maintenance-Bypass: "],
    ):
        assert raw_call(services_url, "ord", lines)[0] == 503

    # Effect: the probes never send the header, so they see the window in force everywhere.
    blocked = record_with(ops, maintenance_id, "allBlockedAt", timeout=slack + 10)
    assert sorted(blocked["effectiveAt"]) == sorted(codes) and blocked["bypass"] is True

    # Rotation: a new token; within the TTL the old one stops passing.
    rotated = cli_json(capsys, "maintenance-update", "--secret-code", SECRET, "--rotate-bypass")
    new_token = rotated["bypassToken"]
    assert new_token != token and len(new_token) == 43
    assert rotated["history"][-1]["action"] == "rotate-bypass"
    until_all(services_url, codes, 503, timeout=ttl + 5, headers=header)
    assert set(statuses(services_url, codes, headers={BYPASS_HEADER: new_token}).values()) == {200}
    code, out, _ = run_cli(capsys, "ops", "maintenance-update", "--secret-code", SECRET, "--text", "x",
                           "--rotate-bypass")  # fmt: skip
    assert code == 0 and "bypass token" in out and "shown this once" in out
    code, _, err = run_cli(capsys, "ops", "maintenance-update", "--secret-code", SECRET)
    assert code != 0 and "--rotate-bypass" in err

    # End: every service answers again, header or not; the record forgets the digest.
    ended = ops.maintenance.end(SECRET, "Upgrade checked through the bypass, done")
    assert "bypassToken" not in ended and "bypassSha256" not in ended
    until_all(services_url, codes, 200, timeout=ttl + 5)
    # A later window without a bypass: yesterday's tokens are nothing.
    later = ops.maintenance.schedule(SECRET, "Another", 600, soon(600))
    ops.maintenance.start(SECRET, later["maintenanceId"])
    until_all(services_url, codes, 503, timeout=ttl + 5)
    for old in (token, new_token):
        assert set(statuses(services_url, ["cat", "ord"], headers={BYPASS_HEADER: old}).values()) == {503}
    ops.maintenance.end(SECRET, "done")
    # Nothing OPS wrote holds a token (the leak-scan test searches everywhere; this is the quick look).
    written = json.dumps([audit_lines(maintenance_id), ops.maintenance.get(maintenance_id), ops.ping()])
    assert token not in written and new_token not in written


def test_a_read_only_window_serves_get_and_stops_post_across_its_start_and_end(ops, local_stack, capsys):
    services_url = local_stack.info.services_url
    codes = [service.code for service in ops.registry().api_services]
    ttl = local_stack.guard_ttl_seconds
    slack = ttl + local_stack.probe_margin_seconds
    assert set(statuses(services_url, codes, method="POST").values()) == {200}

    window = cli_json(capsys, "maintenance-schedule", "--secret-code", SECRET, "--description", "Migration",
                      "--duration", "600", "--start", soon(2), "--allow-methods", "get, head,GET")  # fmt: skip  # noqa: E501
    maintenance_id = window["maintenanceId"]
    assert window["allowMethods"] == ["GET", "HEAD"] and window["mode"] == "read-only"

    until_all(services_url, codes, 503, timeout=ttl + 10, method="POST")
    assert set(statuses(services_url, codes).values()) == {200}
    assert set(statuses(services_url, codes, method="HEAD").values()) == {200}
    assert set(statuses(services_url, ["cat", "pay"], method="DELETE").values()) == {503}
    document = json.loads(call(services_url, "pay", method="POST")[1])
    assert "read-only maintenance" in document["message"] and document["mode"] == "read-only"
    assert document["maintenanceId"] == maintenance_id and document["allowMethods"] == ["GET", "HEAD"]

    # Effect: the probe uses a method the window stops (GET would pass), so it proves the window.
    blocked = record_with(ops, maintenance_id, "allBlockedAt", timeout=slack + 10)
    assert sorted(blocked["effectiveAt"]) == sorted(codes) and blocked["notEffective"] is None

    # Every read says so: ping, maintenance-get, the status page.
    assert ops.ping()["maintenance"]["mode"] == "read-only"
    code, out, _ = run_cli(capsys, "ops", "ping")
    assert code == 0 and "read-only maintenance" in out
    code, out, _ = run_cli(capsys, "ops", "maintenance-get", "--maintenance-id", maintenance_id)
    assert code == 0 and "read-only maintenance (GET, HEAD still answer)" in out
    page = urllib.request.urlopen(f"{local_stack.info.api_url}/status", timeout=10).read().decode()
    assert "Read-only maintenance in progress" in page and "read-only maintenance: GET, HEAD" in page

    ops.maintenance.end(SECRET, "Migration done")
    until_all(services_url, codes, 200, timeout=ttl + 5, method="POST")
    recovered = record_with(ops, maintenance_id, "allRecoveredAt", timeout=slack + 10)
    assert sorted(recovered["recoveredAt"]) == sorted(codes)


def test_a_scoped_window_blocks_its_services_and_proves_the_others_unaffected(ops, local_stack, capsys):
    services_url = local_stack.info.services_url
    codes = [service.code for service in ops.registry().api_services]
    others = [code for code in codes if code not in SCOPE]
    ttl = local_stack.guard_ttl_seconds
    slack = ttl + local_stack.probe_margin_seconds
    assert set(statuses(services_url, codes).values()) == {200}

    window = cli_json(capsys, "maintenance-schedule", "--secret-code", SECRET, "--description", "pay table",
                      "--duration", "600", "--start", soon(2), "--services", " pay,,ord, pay ")  # fmt: skip
    maintenance_id = window["maintenanceId"]
    assert window["services"] == SCOPE

    until_all(services_url, SCOPE, 503, timeout=ttl + 10)
    # A guard sees a window within its TTL: past it, the others still answer 200.
    record = ops.maintenance.get(maintenance_id)
    wait_until(
        lambda: parse(record["startedAt"]) + timedelta(seconds=ttl + 1) <= parse(soon(0)),
        timeout=ttl + 2,
        message="a TTL since the start",
    )
    assert set(statuses(services_url, others).values()) == {200}
    assert set(statuses(services_url, others, method="POST").values()) == {200}

    # Effect, both sides: the affected ones 503 for this window, the others kept answering.
    proven = record_with(ops, maintenance_id, "othersUnaffected", timeout=slack + 15)
    assert sorted(proven["effectiveAt"]) == SCOPE and proven["allBlockedAt"]
    assert proven["notEffective"] is None and proven.get("collateral") is None
    assert parse(proven["othersUnaffected"]) >= parse(proven["startedAt"]) + timedelta(seconds=slack)

    # ping, maintenance-get and the status page name the affected services.
    state = ops.ping()["maintenance"]
    assert state["services"] == SCOPE and state["effect"]["othersUnaffected"] == proven["othersUnaffected"]
    code, out, _ = run_cli(capsys, "ops", "ping")
    assert code == 0 and "affects ord, pay" in out and "the other services kept answering" in out
    code, out, _ = run_cli(capsys, "ops", "maintenance-get", "--maintenance-id", maintenance_id)
    assert code == 0 and "scope        ord, pay" in out
    request = urllib.request.Request(
        f"{local_stack.info.api_url}/status", headers={"Accept": "application/json"}
    )
    public = json.loads(urllib.request.urlopen(request, timeout=10).read())
    assert public["active"]["services"] == SCOPE and public["active"]["effect"]["othersUnaffected"]
    page = urllib.request.urlopen(f"{local_stack.info.api_url}/status", timeout=10).read().decode()
    assert "<dt>Affected services</dt><dd>ord, pay</dd>" in page

    # One window at a time: a scoped window is that one window.
    second = ops.maintenance.schedule(SECRET, "Another", 600, soon(600), services=["cat"])
    with pytest.raises(OpsClientError) as raised:
        ops.maintenance.start(SECRET, second["maintenanceId"])
    assert raised.value.code == "maintenance-already-active"

    ops.maintenance.end(SECRET, "pay table done")
    until_all(services_url, codes, 200, timeout=ttl + 5)
    recovered = record_with(ops, maintenance_id, "allRecoveredAt", timeout=slack + 10)
    assert sorted(recovered["recoveredAt"]) == SCOPE  # only the affected had anything to recover from


def test_a_service_outside_the_scope_that_stops_answering_is_collateral(ops, local_stack, capsys):
    services_url = local_stack.info.services_url
    slack = local_stack.guard_ttl_seconds + local_stack.probe_margin_seconds
    local_stack.rig_standin("cat", "error")  # outside the window, and failing: not "unaffected"
    scheduled = ops.maintenance.schedule(SECRET, "pay only", 600, soon(1), services="pay")
    record = record_with(ops, scheduled["maintenanceId"], "collateral", timeout=slack + 15)
    assert record["collateral"] == ["cat"] and record.get("othersUnaffected") is None
    assert sorted(record["effectiveAt"]) == ["pay"] and record["allBlockedAt"]
    assert call(services_url, "pay")[0] == 503 and call(services_url, "ord")[0] == 200
    code, out, _ = run_cli(capsys, "ops", "ping")
    assert code == 0 and "COLLATERAL: cat" in out
    local_stack.rig_standin("cat", None)
    ops.maintenance.end(SECRET, "done")


def test_a_recurring_window_from_cdk_json_carries_its_scope_and_methods(ops, local_stack):
    """What an EventBridge schedule built from a ``recurringMaintenance`` entry starts."""
    from infra.constructs.schedules import RecurringWindow, api_service_codes  # the CDK: only here

    entry = {"name": "nightly-pay", "cron": "0 3 * * ? *", "description": "Nightly pay reindex",
             "duration": 600, "services": ["pay", "ORD", "pay"], "allowMethods": ["head", "GET"]}  # fmt: skip
    window = RecurringWindow.from_context(entry, api_codes=api_service_codes(REGISTRY_FILE))
    sfn = boto3.client("stepfunctions")
    sfn.start_execution(
        stateMachineArn=settings().maintenance_state_machine_arn, input=json.dumps(window.execution_input())
    )
    record = wait_until(
        lambda: (items := ops.maintenance.list()["items"]) and items[0]["status"] == "active" and items[0],
        timeout=15,
        message="the scheduled window starts",
    )
    assert record["source"] == "schedule" and record["services"] == SCOPE
    assert record["allowMethods"] == ["GET", "HEAD"] and record["bypass"] is False
    services_url = local_stack.info.services_url
    until_all(services_url, SCOPE, 503, timeout=local_stack.guard_ttl_seconds + 5, method="POST")
    assert set(statuses(services_url, SCOPE).values()) == {200}  # GET still answers
    assert call(services_url, "cat", method="POST")[0] == 200  # not in the window
    ops.maintenance.end(SECRET, "done")
