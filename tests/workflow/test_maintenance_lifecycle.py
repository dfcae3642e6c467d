"""The maintenance lifecycle, executed by the real ASL on the local stack.

Each test leaves the record and the execution consistent with each other, whatever an operator did
by hand in between (start early, cancel, end early) or did not do (end an overrunning window).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from email.message import Message

import boto3
import pytest

from g3n_ops.domain.maintenance_effect import NOT_EFFECTIVE_METRIC
from g3n_ops.observability import metrics
from g3n_ops.settings import settings
from g3n_ops.store import maintenance_state
from g3n_ops_client.errors import OpsClientError
from tests.maintenance_support import audit_lines, parse, soon
from tests.support import SECRET, run_cli, run_cli_json, wait_for_execution, wait_until

pytestmark = pytest.mark.slow


def actions(record: dict) -> list[str]:
    return [entry["action"] for entry in record["history"]]


def execution_output(execution_arn: str, *, expect: str = "SUCCEEDED", timeout: float = 30) -> dict:
    described = wait_for_execution(execution_arn, timeout=timeout, expect=expect)
    return json.loads(described.get("output") or "null") or {}


def standin_status(services_url: str, code: str) -> tuple[int, Message, dict]:
    try:
        with urllib.request.urlopen(f"{services_url}/{code}/orders", timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def watch_metrics(monkeypatch) -> list[dict]:
    """Every metric OPS's functions add from now on (the steps run in this process)."""
    emitted: list[dict] = []
    add_metric = metrics.add_metric
    monkeypatch.setattr(
        metrics, "add_metric", lambda **metric: (emitted.append(metric), add_metric(**metric))
    )
    return emitted


def wait_for_all(services_url: str, codes: list[str], status: int, *, deadline: datetime) -> float:
    """Poll every stand-in until all answer ``status``; fail at ``deadline``. Returns when (UTC s)."""

    def answered() -> float | None:
        if all(standin_status(services_url, code)[0] == status for code in codes):
            return datetime.now(UTC).timestamp()
        return None

    def seen() -> str:
        answers = {code: standin_status(services_url, code)[0] for code in codes}
        return f"all stand-ins answer {status} by {deadline.isoformat()} (seen: {answers})"

    return wait_until(
        answered, timeout=(deadline - datetime.now(UTC)).total_seconds(), interval=0.5, message=seen
    )


def test_happy_path_schedule_start_on_time_services_503_update_end_services_recover(ops, local_stack):
    services_url = local_stack.info.services_url
    codes = [service.code for service in ops.registry().api_services]
    assert len(codes) == 14
    # Warm every stand-in's guard cache with "no maintenance", as a running service would have it.
    assert all(standin_status(services_url, code)[0] == 200 for code in codes)

    scheduled = ops.maintenance.schedule(SECRET, "Database upgrade", 3600, soon(3))
    maintenance_id = scheduled["maintenanceId"]
    assert scheduled["status"] == "scheduled"
    assert scheduled["executionArn"].endswith(f":{maintenance_id}")  # the execution is named after it

    active = wait_until(
        lambda: (record := ops.maintenance.get(maintenance_id))["status"] == "active" and record,
        timeout=10,
        message="the execution starts the window",
    )
    started_at = parse(active["startedAt"])
    assert abs((started_at - parse(scheduled["start"])).total_seconds()) < 2  # on time
    assert active["history"][-1]["source"] == "state-machine"

    ttl = timedelta(seconds=local_stack.guard_ttl_seconds + 2)
    wait_for_all(services_url, codes, 503, deadline=started_at + ttl)
    status, headers, body = standin_status(services_url, "cat")
    assert status == 503 and int(headers["Retry-After"]) > 3000
    assert body["maintenanceId"] == maintenance_id and body["expectedEnd"] == active["expectedEnd"]
    status_page = f"{local_stack.info.api_url}/status"
    assert headers["Link"] == f'<{status_page}>; rel="status"' and body["statusPage"] == status_page

    # The state machine proves it: every service's health URL answered 503 for this window.
    blocked = wait_until(
        lambda: (record := ops.maintenance.get(maintenance_id)).get("allBlockedAt") and record,
        timeout=local_stack.guard_ttl_seconds + local_stack.probe_margin_seconds + 5,
        message="the probes see every service blocked",
    )
    assert sorted(blocked["effectiveAt"]) == sorted(codes) and blocked["notEffective"] is None
    assert all(
        started_at <= parse(at) <= parse(blocked["allBlockedAt"]) for at in blocked["effectiveAt"].values()
    )
    assert max(blocked["effectiveAt"].values()) == blocked["allBlockedAt"]

    ops.maintenance.update(SECRET, "Migrations half done")
    ping = ops.ping()["maintenance"]
    assert ping["active"] and ping["maintenanceId"] == maintenance_id
    assert ping["latestUpdate"]["text"] == "Migrations half done"
    assert ping["expectedEnd"] == active["expectedEnd"] and ping["overrunning"] is False
    assert ping["effect"]["allBlockedAt"] == blocked["allBlockedAt"] and "notEffective" not in ping["effect"]
    assert ops.maintenance.get(maintenance_id)["updates"][-1]["text"] == "Migrations half done"

    ended = ops.maintenance.end(SECRET, "Upgrade complete")
    assert ended["status"] == "ended" and ended["endMessage"] == "Upgrade complete"
    assert ops.ping()["maintenance"] == {"active": False}
    wait_for_all(services_url, codes, 200, deadline=parse(ended["endedAt"]) + ttl)
    # ... and proves the recovery (an execution maintenance-end started, named after the window).
    recovered = wait_until(
        lambda: (record := ops.maintenance.get(maintenance_id)).get("allRecoveredAt") and record,
        timeout=local_stack.guard_ttl_seconds + local_stack.probe_margin_seconds + 5,
        message="the probes see every service recover",
    )
    assert sorted(recovered["recoveredAt"]) == sorted(codes) and recovered["notRecovered"] is None
    assert all(parse(at) >= parse(ended["endedAt"]) for at in recovered["recoveredAt"].values())
    recovery_execution = f"{settings().maintenance_state_machine_arn}:{maintenance_id}-ended".replace(
        ":stateMachine:", ":execution:"
    )
    assert execution_output(recovery_execution)["probe"]["outcome"] in ("all-recovered", "already-concluded")

    # Every transition is in the history, chained, with who did it.
    history = ended["history"]
    assert actions(ended) == ["schedule", "start", "end"]
    assert [(e["from"], e["to"]) for e in history] == [
        (None, "scheduled"),
        ("scheduled", "active"),
        ("active", "ended"),
    ]
    assert [e["source"] for e in history] == ["cli", "state-machine", "cli"]
    # One audit line per action, never the secret.
    lines = audit_lines(maintenance_id)
    assert [line["action"] for line in lines] == ["schedule", "start", "update", "end"]
    assert all(SECRET not in json.dumps(line) for line in lines)
    # The list shows it, newest first, and by status.
    assert ops.maintenance.list()["items"][0]["maintenanceId"] == maintenance_id
    assert [r["maintenanceId"] for r in ops.maintenance.list(status="ended")["items"]] == [maintenance_id]
    assert ops.maintenance.list(status="active")["items"] == []


def test_manual_start_before_the_scheduled_time_is_timed_from_the_real_start(ops):
    scheduled = ops.maintenance.schedule(SECRET, "Early start", 5, soon(120), auto_end=True)
    waiting_execution = scheduled["executionArn"]

    started = ops.maintenance.start(SECRET, scheduled["maintenanceId"])
    assert started["status"] == "active"
    assert started["history"][-1]["message"] == "started by hand before its scheduled time"
    assert started["executionArn"].endswith(f":{scheduled['maintenanceId']}-started")
    # The execution waiting for the scheduled start hands over to one timing the real start.
    wait_for_execution(waiting_execution, timeout=10, expect="ABORTED")
    output = execution_output(started["executionArn"], timeout=15)
    assert output["outcome"] == "auto-ended"

    ended = ops.maintenance.get(scheduled["maintenanceId"])
    assert ended["status"] == "ended" and actions(ended) == ["schedule", "start", "auto-end"]
    elapsed = (parse(ended["endedAt"]) - parse(ended["startedAt"])).total_seconds()
    assert 5 <= elapsed < 9  # its duration after the manual start, not after the scheduled one
    assert maintenance_state.read() == {"active": False}


def test_cancel_before_start_stops_the_execution(ops):
    scheduled = ops.maintenance.schedule(SECRET, "Not needed after all", 60, soon(30))
    cancelled = ops.maintenance.cancel(SECRET, scheduled["maintenanceId"])
    assert cancelled["status"] == "cancelled" and cancelled["cancelledAt"]
    wait_for_execution(scheduled["executionArn"], timeout=10, expect="ABORTED")
    for again in (ops.maintenance.cancel, ops.maintenance.start):
        with pytest.raises(OpsClientError) as refused:
            again(SECRET, scheduled["maintenanceId"])
        assert refused.value.code == "invalid-transition"
    record = ops.maintenance.get(scheduled["maintenanceId"])
    assert actions(record) == ["schedule", "cancel"] and record["status"] == "cancelled"
    assert [line["action"] for line in audit_lines(scheduled["maintenanceId"])] == ["schedule", "cancel"]


def test_end_before_the_duration_elapses_leaves_the_execution_nothing_to_do(ops):
    scheduled = ops.maintenance.schedule(SECRET, "Quick fix", 5, soon(1), auto_end=True)
    wait_until(lambda: ops.maintenance.get(scheduled["maintenanceId"])["status"] == "active", timeout=10)
    ended = ops.maintenance.end(SECRET, "Fixed sooner than planned")
    assert ended["status"] == "ended"

    output = execution_output(scheduled["executionArn"], timeout=15)
    assert output["outcome"] == "already-ended"
    record = ops.maintenance.get(scheduled["maintenanceId"])
    assert actions(record) == ["schedule", "start", "end"]  # no auto-end on top of the manual end
    assert record["endMessage"] == "Fixed sooner than planned"
    # Ended before the probes' deadline: no verdict on the start, and the recovery is still proven.
    assert record["notEffective"] is None
    record = wait_until(
        lambda: (record := ops.maintenance.get(scheduled["maintenanceId"])).get("allRecoveredAt") and record,
        timeout=15,
        message="the recovery is proven after a manual end",
    )
    assert record["notRecovered"] is None and record["allRecoveredAt"] >= record["endedAt"]


def test_overrun_without_auto_end_is_flagged_and_shown_in_ping(ops, monkeypatch):
    emitted = watch_metrics(monkeypatch)
    scheduled = ops.maintenance.schedule(SECRET, "Long migration", 5, soon(1))
    output = execution_output(scheduled["executionArn"], timeout=15)
    assert output["outcome"] == "overrunning"
    assert {"name": "MaintenanceOverrunning", "unit": "Count", "value": 1} in emitted  # the alarm's metric

    record = ops.maintenance.get(scheduled["maintenanceId"])
    assert record["status"] == "active" and record["overrunning"] is True
    assert actions(record) == ["schedule", "start", "overrun"]
    assert datetime.now(UTC) >= parse(record["expectedEnd"])  # never flagged before its end
    ping = ops.ping()["maintenance"]
    assert ping["overrunning"] is True and ping["maintenanceId"] == scheduled["maintenanceId"]

    ended = ops.maintenance.end(SECRET, "Finally done")
    assert ended["status"] == "ended" and ended["overrunning"] is True
    assert ops.ping()["maintenance"] == {"active": False}
    assert [line["action"] for line in audit_lines(scheduled["maintenanceId"])] == [
        "schedule",
        "start",
        "overrun",
        "end",
    ]


def test_a_schedule_or_console_execution_creates_its_own_record(ops):
    sfn = boto3.client("stepfunctions")  # started the way EventBridge Scheduler starts it
    window = {"source": "schedule", "description": "Nightly reindex", "duration": 5, "autoEnd": True}
    execution_arn = sfn.start_execution(
        stateMachineArn=settings().maintenance_state_machine_arn, input=json.dumps(window)
    )["executionArn"]
    output = execution_output(execution_arn, timeout=20)
    assert output["outcome"] == "auto-ended"
    [record] = ops.maintenance.list()["items"]
    assert record["executionArn"] == execution_arn  # the record remembers the execution timing it
    assert record["source"] == "schedule" and record["status"] == "ended"
    assert actions(record) == ["schedule", "start", "auto-end"]
    assert (parse(record["startedAt"]) - parse(record["createdAt"])).total_seconds() < 3  # start = now


@pytest.mark.parametrize(
    "window",
    [
        {"description": "no duration"},
        {"description": "a secret in the input", "duration": 60, "secretCode": SECRET},
        {"description": "too short", "duration": 1},
    ],
    ids=["missing-duration", "unknown-field", "out-of-bounds"],
)
def test_bad_console_input_fails_the_execution_readably(ops, window):
    sfn = boto3.client("stepfunctions")
    execution_arn = sfn.start_execution(
        stateMachineArn=settings().maintenance_state_machine_arn, input=json.dumps(window)
    )["executionArn"]
    described = wait_for_execution(execution_arn, timeout=15, expect="FAILED")
    assert described["error"] == "InvalidInput"
    assert SECRET not in (described.get("cause") or "")
    assert ops.maintenance.list()["items"] == []


def test_a_scheduled_start_while_another_window_is_active_cancels_the_later_one(ops):
    first = ops.maintenance.schedule(SECRET, "First", 3600, soon(600))
    ops.maintenance.start(SECRET, first["maintenanceId"])
    second = ops.maintenance.schedule(SECRET, "Second", 60, soon(1))

    output = execution_output(second["executionArn"], timeout=15)
    assert output["outcome"] == "not-started"
    record = ops.maintenance.get(second["maintenanceId"])
    assert record["status"] == "cancelled"
    assert f"maintenance {first['maintenanceId']} is active" in record["history"][-1]["message"]
    assert ops.ping()["maintenance"]["maintenanceId"] == first["maintenanceId"]


def test_a_service_that_never_flips_ends_in_not_effective_shown_by_ping_and_get(
    ops, local_stack, monkeypatch, capsys
):
    emitted = watch_metrics(monkeypatch)
    codes = [service.code for service in ops.registry().api_services]
    local_stack.rig_standin("pos", "never-flip")  # never adopted the guard
    local_stack.rig_standin("ord", "error")  # the probes must tolerate these two
    local_stack.rig_standin("cat", "timeout")

    scheduled = ops.maintenance.schedule(SECRET, "Payments cutover", 3600, soon(1))
    maintenance_id = scheduled["maintenanceId"]
    slack = local_stack.guard_ttl_seconds + local_stack.probe_margin_seconds
    record = wait_until(
        lambda: (record := ops.maintenance.get(maintenance_id)).get("notEffective") and record,
        timeout=slack + 15,
        message="the probes give up on the services that never answer 503",
    )
    assert record["notEffective"] == ["cat", "ord", "pos"]
    assert record["allBlockedAt"] is None
    assert sorted(record["effectiveAt"]) == sorted(set(codes) - {"cat", "ord", "pos"})
    deadline = parse(record["startedAt"]) + timedelta(seconds=slack)
    assert datetime.now(UTC) >= deadline  # no verdict before the guard TTL + margin
    assert {"name": NOT_EFFECTIVE_METRIC, "unit": "Count", "value": 3} in emitted

    code, out, _ = run_cli(capsys, "ops", "ping")
    assert code == 0 and "NOT EFFECTIVE on cat, ord, pos" in out
    code, document = run_cli_json(capsys, "ops", "ping")
    assert document["maintenance"]["effect"]["notEffective"] == ["cat", "ord", "pos"]
    code, out, _ = run_cli(capsys, "ops", "maintenance-get", "--maintenance-id", maintenance_id)
    assert code == 0 and "NOT on cat, ord, pos" in out
    code, document = run_cli_json(capsys, "ops", "maintenance-get", "--maintenance-id", maintenance_id)
    assert document["notEffective"] == ["cat", "ord", "pos"] and len(document["effectiveAt"]) == 11

    # Fixed, then ended: every service's recovery is proven, pos's too (it never stopped answering).
    local_stack.rig_standin("ord", None)
    local_stack.rig_standin("cat", None)
    ops.maintenance.end(SECRET, "Cutover done")
    recovered = wait_until(
        lambda: (record := ops.maintenance.get(maintenance_id)).get("allRecoveredAt") and record,
        timeout=slack + 10,
        message="the probes see every service recover",
    )
    assert sorted(recovered["recoveredAt"]) == sorted(codes) and recovered["notRecovered"] is None
    assert recovered["notEffective"] == ["cat", "ord", "pos"]  # the verdict on the window stays
