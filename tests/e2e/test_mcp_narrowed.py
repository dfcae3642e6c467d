"""MCP and the narrower windows: the human confirms a window with its scope and methods shown, and
no tool ever issues, takes or returns an operator bypass token (see g3n_ops_client/mcp_server/:
a result reaches the model, and MCP has no channel to the human alone)."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from g3n_ops_client.mcp_server import build_server, success
from tests.e2e.test_mcp import Operator
from tests.maintenance_support import soon
from tests.support import SECRET

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def secret_in_environment(ops, monkeypatch):
    """The MCP server's client reads the code from the environment (after ``ops`` cleared it)."""
    monkeypatch.setenv("G3N_OPS_SECRET_CODE", SECRET)


async def test_a_scoped_read_only_window_is_confirmed_with_its_scope_and_methods(ops):
    operator = Operator()
    async with Client(build_server(), elicitation_callback=operator) as session:
        result = await session.call_tool(
            "maintenance_schedule",
            {"description": "pay table", "duration": 600, "start": soon(600),
             "services": ["pay", "ord", "pay"], "allow_methods": ["GET", "HEAD"]},
        )  # fmt: skip
        assert not result.is_error, result.content[0].text
        window = result.structured_content
        assert window["services"] == ["ord", "pay"] and window["mode"] == "read-only"
        (asked,) = operator.asked
        assert "only the API services pay, ord, pay answer 503 (the others keep answering)" in asked
        assert "except GET, HEAD requests, which still pass (read-only maintenance)" in asked

        start = await session.call_tool("maintenance_start", {"maintenance_id": window["maintenanceId"]})
        assert not start.is_error
        assert "only the API services ord, pay answer 503" in operator.asked[-1]  # the looked-up window
        assert "GET, HEAD" in operator.asked[-1]

        refused = await session.call_tool(
            "maintenance_schedule",
            {"description": "x", "duration": 60, "start": soon(600), "services": ["pay", "nope"]},
        )
        assert refused.is_error and "invalid-input" in refused.content[0].text
        assert "the known ones are uas, usm" in refused.content[0].text
        await session.call_tool("maintenance_end", {"end_message": "done"})


async def test_no_tool_takes_or_returns_a_bypass_token(ops):
    window = ops.maintenance.schedule(SECRET, "Upgrade", 600, soon(600), bypass=True)
    token = window["bypassToken"]
    started = ops.maintenance.start(SECRET, window["maintenanceId"], bypass=True)
    async with Client(build_server(), elicitation_callback=Operator()) as session:
        tools = (await session.list_tools()).tools
        schemas = json.dumps([tool.input_schema for tool in tools]).lower()
        assert "bypass" not in schemas  # no tool can ask for one
        outputs = [
            await session.call_tool("maintenance_get", {"maintenance_id": window["maintenanceId"]}),
            await session.call_tool("ping", {}),
            await session.call_tool("maintenance_list", {}),
            await session.call_tool("maintenance_update", {"text": "checking the upgrade"}),
        ]
        text = json.dumps([output.model_dump(mode="json") for output in outputs])
        assert not any(output.is_error for output in outputs)
        assert token not in text and started["bypassToken"] not in text and "bypassSha256" not in text
        assert outputs[0].structured_content["bypass"] is True  # it may say that one exists
        await session.call_tool("maintenance_end", {"end_message": "done"})
    # The backstop: a result that carried one would lose it before reaching the model.
    dropped = success({"maintenanceId": "mw-20261201-3f2a9c1d", "bypassToken": "t" * 43})
    assert "bypassToken" not in dropped.structured_content and "t" * 43 not in dropped.content[0].text
