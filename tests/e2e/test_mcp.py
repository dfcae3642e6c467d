"""The MCP server, driven in-process through an MCP client session against the local stack."""

from __future__ import annotations

import functools
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import boto3
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import ElicitResult

from g3n_ops.settings import settings
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.mcp_server import UNCONFIRMED_WRITES, build_server
from tests.maintenance_support import soon, stop_running_executions
from tests.support import SECRET, wait_until
from tests.vacuum_support import PHRASE, ops_items, registry, snapshot

pytestmark = pytest.mark.anyio

READS = {
    "ping",
    "stat",
    "services",
    "maintenance_list",
    "maintenance_get",
    "vacuum_status",
    "vacuum_list",
    "vacuum_events",
}
MAINTENANCE_WRITES = {
    "maintenance_schedule",
    "maintenance_start",
    "maintenance_update",
    "maintenance_end",
    "maintenance_cancel",
}
DESTRUCTIVE = {"vacuum_all", "vacuum_org", "vacuum_resume"}
TOOLS = READS | MAINTENANCE_WRITES | DESTRUCTIVE | {"vacuum_cancel"}
CROSS_ORG = {"uas", "usm"}  # vacuum-org skips them
# Tools that ask the operator first: every write but vacuum_cancel (a vacuum_org dry-run does not).
CONFIRMED = TOOLS - READS - UNCONFIRMED_WRITES
assert {"vacuum_cancel"} == UNCONFIRMED_WRITES  # cancelling only stops deletion


class Operator:
    """The person at the MCP client: answers every elicitation as told and keeps what was asked."""

    def __init__(self, action: str = "accept", *, typed: str | None = None, confirm: bool = True):
        self.action, self.typed, self.confirm = action, typed, confirm
        self.asked: list[str] = []
        self.forms: list[set[str]] = []  # the fields of each question's form

    async def __call__(self, context, params) -> ElicitResult:
        self.asked.append(params.message)
        fields = params.requested_schema["properties"]
        self.forms.append(set(fields))
        if self.action != "accept":
            return ElicitResult(action=self.action)
        content = {"typed": self.typed} if "typed" in fields else {"confirm": self.confirm}
        return ElicitResult(action="accept", content=content)


@pytest.fixture
def mcp_env(local_stack, monkeypatch):
    """The server's environment as an operator would set it: the endpoint and the secret code."""
    monkeypatch.setenv("G3N_OPS_ENDPOINT_URL", local_stack.endpoint_url)
    monkeypatch.setenv("G3N_OPS_SECRET_CODE", SECRET)


async def call(session: Client, tool: str, **arguments) -> dict:
    """A successful call's structured content (the same document the CLI prints as JSON)."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, f"{tool} failed: {result.content[0].text}"
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


async def call_error(session: Client, tool: str, **arguments) -> str:
    """A failed call's error code, checked to arrive in the CLI's two error forms."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"{tool} unexpectedly succeeded"
    error = result.structured_content["error"]
    assert result.content[0].text == f"error: {error['code']}: {error['message']}"
    return error["code"]


async def test_tools_are_listed_with_truthful_annotations():
    # Listing needs no stack: nothing is called until a tool runs.
    server = build_server(OpsClient(ClientConfig(endpoint_url="http://127.0.0.1:9")))
    async with Client(server) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}

    assert set(tools) == TOOLS
    for name, tool in tools.items():
        hints = tool.annotations
        assert hints.read_only_hint is (name in READS), name
        # Unset, destructiveHint defaults to true: every write says what it is explicitly.
        assert hints.destructive_hint is (name in DESTRUCTIVE), name
        assert hints.open_world_hint is False, name
        # The secret code comes from the server's environment, never from the model; the
        # operator's confirmation is elicited, never an argument.
        properties = tool.input_schema.get("properties", {})
        assert not any("secret" in parameter.lower() for parameter in properties), name
        assert not {"human", "typed_by_operator", "confirmation_phrase"} & set(properties), name
        # Neither the phrase nor the secret sits where a model (or an agent answering for the
        # operator) could read it.
        listed = json.dumps(tool.model_dump(mode="json")).lower()
        assert PHRASE.lower() not in listed and SECRET.lower() not in listed, name
    assert all(tools[name].annotations.idempotent_hint for name in READS | {"vacuum_cancel"})
    assert not any(tools[name].annotations.idempotent_hint for name in DESTRUCTIVE)
    for name in DESTRUCTIVE - {"vacuum_resume"}:  # resume continues a run that was confirmed
        assert "dry_run=true first" in tools[name].description
        assert tools[name].input_schema["properties"]["dry_run"]["default"] is True
    assert tools["vacuum_all"].input_schema["required"] == ["reason"]


async def test_ping_and_services(mcp_env, local_stack):
    local_stack.reset(seed=False)  # no window left active by another test on this worker
    async with Client(build_server()) as session:
        ping = await call(session, "ping")
        services = await call(session, "services")
    assert ping["status"] == "ok" and ping["service"] == "ops" and ping["maintenance"] == {"active": False}
    codes = {service["code"] for service in services["services"]}
    assert len(codes) == 15 and {"cat", "ntf", *CROSS_ORG} <= codes


async def test_g3n_ops_mcp_serves_over_stdio(local_stack):
    """The console command an MCP host launches: the protocol on stdout, nothing else there."""
    g3n = str(Path(sys.executable).with_name("g3n"))
    command = StdioServerParameters(
        command=g3n, args=["ops", "mcp"], env={"G3N_OPS_ENDPOINT_URL": local_stack.endpoint_url}
    )
    async with Client(command) as session:
        assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
        assert (await call(session, "ping"))["status"] == "ok"
        # No secret in this server's environment: refused before any request is made (vacuum_cancel
        # is the one write that asks nobody).
        vacuum_id = "20261201-020000-abcdef"
        assert await call_error(session, "vacuum_cancel", vacuum_id=vacuum_id) == "secret-code-required"
        # This client cannot elicit: a write is refused, with the command to run instead.
        result = await session.call_tool("maintenance_cancel", {"maintenance_id": "mw-20261201-3f2a9c1d"})
        assert result.structured_content["error"]["code"] == "confirmation-unavailable"
        assert "g3n ops maintenance-cancel --maintenance-id mw-20261201-3f2a9c1d" in result.content[0].text


async def test_gated_tools_need_the_right_secret_in_the_environment(mcp_env, monkeypatch):
    async with Client(build_server(), elicitation_callback=Operator(confirm=True)) as session:
        monkeypatch.delenv("G3N_OPS_SECRET_CODE")
        assert await call_error(session, "maintenance_cancel", maintenance_id="m-1") == "secret-code-required"
        monkeypatch.setenv("G3N_OPS_SECRET_CODE", "not-the-secret")
        assert (
            await call_error(session, "maintenance_cancel", maintenance_id="mw-20261201-3f2a9c1d")
            == "secret-code-mismatch"
        )
        assert (
            await call_error(session, "vacuum_org", orgcode="TESTORG", reason="test", dry_run=True)
            == "secret-code-mismatch"
        )


async def test_maintenance_lifecycle(seeded, mcp_env):
    # Far enough ahead that the state machine is still waiting when the window is started by hand.
    start = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    operator = Operator(confirm=True)
    async with Client(build_server(), elicitation_callback=operator) as session:
        scheduled = await call(
            session,
            "maintenance_schedule",
            description="MCP lifecycle test",
            duration=120,
            start=start,
            auto_end=False,
        )
        maintenance_id = scheduled["maintenanceId"]
        assert scheduled["status"] == "scheduled" and scheduled["autoEnd"] is False

        started = await call(session, "maintenance_start", maintenance_id=maintenance_id)
        assert started["status"] == "active"
        # A second start changes nothing and says why, with the CLI's code.
        assert (
            await call_error(session, "maintenance_start", maintenance_id=maintenance_id)
            == "maintenance-already-active"
        )

        updated = await call(session, "maintenance_update", text="halfway there")
        assert [update["text"] for update in updated["updates"]] == ["halfway there"]
        state = (await call(session, "ping"))["maintenance"]
        assert state["active"] is True and state["maintenanceId"] == maintenance_id
        assert state["latestUpdate"]["text"] == "halfway there"

        ended = await call(session, "maintenance_end", end_message="all done")
        assert ended["status"] == "ended"
        assert (await call(session, "ping"))["maintenance"]["active"] is False

        record = await call(session, "maintenance_get", maintenance_id=maintenance_id)
        listed = await call(session, "maintenance_list", status="ended")

    assert record["status"] == "ended"
    assert [entry["to"] for entry in record["history"]] == ["scheduled", "active", "ended"]
    # Every write asked the operator (schedule, start twice, update, end), showing what will happen
    # and what becomes public; the reads did not ask.
    asked_schedule, asked_start, _, asked_update, asked_end = operator.asked
    assert all(text in asked_schedule for text in ("MCP lifecycle test", "503", start, "public"))
    assert all(text in asked_start for text in (maintenance_id, "MCP lifecycle test", "503"))
    assert "halfway there" in asked_update and "public" in asked_update
    assert all(text in asked_end for text in ("all done", "public", maintenance_id))
    assert not any(SECRET in message for message in operator.asked)
    assert maintenance_id in {item["maintenanceId"] for item in listed["items"]}


async def test_vacuum_org_dry_run_counts_what_was_seeded(seeded, mcp_env):
    orgcode = "TESTORG"
    async with Client(build_server()) as session:
        services = (await call(session, "services"))["services"]
        vacuum = await call(session, "vacuum_org", orgcode=orgcode, reason="MCP dry-run test", dry_run=True)
        assert vacuum["dryRun"] is True and vacuum["scope"] == "org" and vacuum["orgcode"] == orgcode

        vacuum = await wait_final(session, vacuum, timeout=90, interval=0.5)

    assert vacuum["status"] == "completed", vacuum
    scoped = [service for service in services if service["code"] not in CROSS_ORG]
    items = sum(seeded["tables"][table["name"]][orgcode] for service in scoped for table in service["tables"])
    org_objects = [
        seeded["buckets"][bucket].get(orgcode, {}) for service in scoped for bucket in service["buckets"]
    ]
    totals = vacuum["stats"]["totals"]
    assert totals["items"] == items
    assert totals["objects"] == sum(prefix["versions"] + prefix["deleteMarkers"] for prefix in org_objects)
    assert totals["bytes"] == sum(prefix["bytes"] for prefix in org_objects)
    assert set(vacuum["stats"]["services"]) == {service["code"] for service in scoped}


# -- a human confirms destructive tools (MCP elicitation) -----------------------------------------
def vacuum_executions() -> list[dict]:
    sfn = boto3.client("stepfunctions")
    machine = settings().vacuum_state_machine_arn
    return sfn.list_executions(stateMachineArn=machine)["executions"]


async def wait_final(session: Client, record: dict, *, timeout: float = 60, interval: float = 0.2) -> dict:
    """The run's final record, read through the MCP session: ``wait_until`` polls in a worker
    thread, each read runs on the session's event loop (which keeps running meanwhile)."""
    seen = [record]

    def ended() -> dict | None:
        status = functools.partial(call, session, "vacuum_status", vacuum_id=record["vacuumId"])
        seen.append(anyio.from_thread.run(status))
        return seen[-1] if seen[-1]["status"] in {"completed", "cancelled", "failed"} else None

    return await anyio.to_thread.run_sync(
        lambda: wait_until(
            ended,
            timeout=timeout,
            interval=interval,
            message=lambda: f"vacuum {record['vacuumId']} (still {seen[-1]['status']}) ends",
        )
    )


@pytest.mark.slow
async def test_declining_or_typing_a_wrong_answer_deletes_nothing(seeded, mcp_env):
    data, items = snapshot(registry()), ops_items()
    org_answers = [
        (Operator("decline"), "confirmation-declined"),
        (Operator("cancel"), "confirmation-declined"),
        (Operator(typed="testorg"), "confirmation-mismatch"),  # another org: case matters
        (Operator(typed="TESTORG "), "confirmation-mismatch"),
        (Operator(typed=""), "confirmation-mismatch"),
    ]
    for operator, code in org_answers:
        async with Client(build_server(), elicitation_callback=operator) as session:
            real = {"orgcode": "TESTORG", "reason": "MCP refusal test", "dry_run": False}
            assert await call_error(session, "vacuum_org", **real) == code
            # The model cannot answer for the operator through its own arguments.
            forged = {
                "human": {"action": "accept", "data": {"typed": "TESTORG"}},
                "typed_by_operator": "TESTORG",
            }
            assert await call_error(session, "vacuum_org", **real, **forged) == code
        assert len(operator.asked) == 2
        # The prompt does not give the answer away (an agent answering for the human would copy it).
        assert not any("TESTORG" in message for message in operator.asked)

    phrase_answers = [
        (Operator("decline"), "confirmation-declined"),
        (Operator(typed=PHRASE.lower()), "confirmation-mismatch"),
        (Operator(typed=PHRASE + " "), "confirmation-mismatch"),
    ]
    for operator, code in phrase_answers:
        async with Client(build_server(), elicitation_callback=operator) as session:
            for dry_run in (False, True):  # vacuum-all asks for the phrase even for a dry-run
                assert await call_error(session, "vacuum_all", reason="MCP refusal", dry_run=dry_run) == code
        assert operator.asked and not any(PHRASE.lower() in message.lower() for message in operator.asked)

    # Nothing reached OPS: no record, no mutex, no execution, not one item or object gone.
    assert vacuum_executions() == []
    assert ops_items() == items
    assert snapshot(registry()) == data


@pytest.mark.slow
async def test_the_operator_confirms_and_the_vacuum_proceeds(seeded, mcp_env):
    operator = Operator(typed="TESTORG", confirm=True)
    async with Client(build_server(), elicitation_callback=operator) as session:
        dry = await call(session, "vacuum_org", orgcode="TESTORG", reason="MCP confirmed", dry_run=True)
        assert operator.asked == []  # a dry-run deletes nothing: nobody is asked
        assert (await wait_final(session, dry))["status"] == "completed"

        real = await call(session, "vacuum_org", orgcode="TESTORG", reason="MCP confirmed", dry_run=False)
        assert (real["status"], real["dryRun"], real["orgcode"]) == ("pending", False, "TESTORG")
        assert len(operator.asked) == 1
        # Cancelling only stops deletion: it asks nobody, and stops the run inside its pending window.
        cancelled = await call(session, "vacuum_cancel", vacuum_id=real["vacuumId"])
        assert cancelled["status"] == "cancelled" and len(operator.asked) == 1

    phrase = Operator(typed=PHRASE)
    async with Client(build_server(), elicitation_callback=phrase) as session:
        record = await call(session, "vacuum_all", reason="MCP confirmed", dry_run=True)
        assert (record["scope"], record["dryRun"]) == ("all", True) and len(phrase.asked) == 1
        assert (await wait_final(session, record))["status"] == "completed"


async def test_a_client_without_elicitation_gets_the_cli_command(seeded, mcp_env):
    async with Client(build_server()) as session:  # declares no elicitation capability
        refusals = {
            "vacuum_org": (
                {"orgcode": "TESTORG", "reason": "tidy up", "dry_run": False},
                "g3n ops vacuum-org --orgcode TESTORG --reason 'tidy up'",
            ),
            "vacuum_all": ({"reason": "reset", "dry_run": True}, "g3n ops vacuum-all --reason reset"),
            "vacuum_resume": (
                {"vacuum_id": "20261201-020000-abcdef"},
                "g3n ops vacuum-resume --vacuum-id 20261201-020000-abcdef",
            ),
            "maintenance_schedule": (
                {
                    "description": "DB upgrade",
                    "duration": 600,
                    "start": "2026-12-01T02:00:00Z",
                    "auto_end": True,
                },
                "g3n ops maintenance-schedule --description 'DB upgrade' --duration 600 "
                "--start 2026-12-01T02:00:00Z --auto-end",
            ),
            "maintenance_start": (
                {"maintenance_id": "mw-20261201-3f2a9c1d"},
                "g3n ops maintenance-start --maintenance-id mw-20261201-3f2a9c1d",
            ),
            "maintenance_update": ({"text": "half done"}, "g3n ops maintenance-update --text 'half done'"),
            "maintenance_end": ({"end_message": "done"}, "g3n ops maintenance-end --end-message done"),
            "maintenance_cancel": (
                {"maintenance_id": "mw-20261201-3f2a9c1d"},
                "g3n ops maintenance-cancel --maintenance-id mw-20261201-3f2a9c1d",
            ),
        }
        assert set(refusals) == CONFIRMED
        for tool, (arguments, command) in refusals.items():
            result = await session.call_tool(tool, arguments)
            assert result.structured_content["error"]["code"] == "confirmation-unavailable", tool
            assert command in result.content[0].text, result.content[0].text
            assert PHRASE not in result.content[0].text
        # What needs no human still works: an org dry-run.
        dry = await call(session, "vacuum_org", orgcode="TESTORG", reason="count", dry_run=True)
        assert dry["dryRun"] is True and dry["status"] in {"pending", "running", "completed"}
    assert [execution["name"] for execution in vacuum_executions()] == [f"vacuum-{dry['vacuumId']}"]


async def test_every_write_tool_asks_and_declined_does_nothing(seeded, mcp_env, client):
    """Every write the server registers (not read-only), but the exempt vacuum_cancel, asks the
    operator, showing what will happen; declined, nothing reaches OPS. A new write tool fails here
    until it is given arguments below, and then unless it asks."""
    later = client.maintenance.schedule(SECRET, "Scheduled for later", 600, soon(3600))["maintenanceId"]
    active = client.maintenance.schedule(SECRET, "Running now", 600, soon(3600))["maintenanceId"]
    client.maintenance.start(SECRET, active)
    vacuums = client.vacuum.list()["items"]
    failed_run = "20261201-020000-abcdef"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Each write's arguments, and what its question must show the operator.
    writes = {
        "maintenance_schedule": (
            {"description": "Unasked window", "duration": 600, "start": now},
            ["Unasked window", "NOW", "503", "public"],
        ),
        "maintenance_start": ({"maintenance_id": later}, [later, "Scheduled for later", "NOW", "503"]),
        "maintenance_update": (
            {"text": "Unasked update"},
            ["Unasked update", active, "Running now", "public"],
        ),
        "maintenance_end": ({"end_message": "Unasked end"}, ["Unasked end", active, "public"]),
        "maintenance_cancel": ({"maintenance_id": later}, [later, "Scheduled for later"]),
        "vacuum_all": (
            {"reason": "unasked", "dry_run": False, "with_maintenance": True},
            ["PERMANENTLY", "503"],
        ),
        "vacuum_org": ({"orgcode": "TESTORG", "reason": "unasked", "dry_run": False}, ["PERMANENTLY"]),
        "vacuum_resume": ({"vacuum_id": failed_run}, ["RESUME"]),
    }
    operator = Operator("decline")
    try:
        async with Client(build_server(), elicitation_callback=operator) as session:
            listed = (await session.list_tools()).tools
            registered = {tool.name for tool in listed if not tool.annotations.read_only_hint}
            assert registered >= UNCONFIRMED_WRITES
            assert set(writes) == registered - UNCONFIRMED_WRITES
            for tool, (arguments, shown) in writes.items():
                asked = len(operator.asked)
                assert await call_error(session, tool, **arguments) == "confirmation-declined", tool
                assert len(operator.asked) == asked + 1, f"{tool} did not ask the operator"
                question = operator.asked[-1]
                assert all(text in question for text in shown), (tool, question)
                assert SECRET not in question and PHRASE.lower() not in question.lower(), tool

        # Resume is the typed-id confirmation: the form asks to type, the prompt does not give the id,
        # and a wrong id runs nothing either.
        resume = list(writes).index("vacuum_resume")
        assert operator.forms[resume] == {"typed"} and failed_run not in operator.asked[resume]
        async with Client(build_server(), elicitation_callback=Operator(typed=failed_run[:-1])) as session:
            assert await call_error(session, "vacuum_resume", vacuum_id=failed_run) == "confirmation-mismatch"

        # Nothing reached OPS: no new window, none started, updated, ended or cancelled; no vacuum.
        assert {item["maintenanceId"] for item in client.maintenance.list()["items"]} == {later, active}
        assert client.maintenance.get(later)["status"] == "scheduled"
        window = client.maintenance.get(active)
        assert (window["status"], window["updates"], window["endMessage"]) == ("active", [], None)
        assert client.ping()["maintenance"]["maintenanceId"] == active
        assert client.vacuum.list()["items"] == vacuums and vacuum_executions() == []
    finally:  # never leave a window active (or due) for the next test on this stack
        for maintenance_id in (later, active):
            status = client.maintenance.get(maintenance_id)["status"]
            if status == "active":
                client.maintenance.end(SECRET, "test over")
            elif status == "scheduled":
                client.maintenance.cancel(SECRET, maintenance_id)
        stop_running_executions()
