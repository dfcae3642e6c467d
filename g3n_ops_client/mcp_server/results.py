"""What a tool returns: the document (without what the model must never see) or the CLI's error."""

from __future__ import annotations

import json
import os

from mcp_types import CallToolResult, TextContent

from g3n_ops_client.cli.common import SECRET_ENV
from g3n_ops_client.errors import OpsClientError


def secret_from_environment() -> str:
    """The operator's secret code, read at call time so a restart is not needed after setting it."""
    code = os.environ.get(SECRET_ENV)
    if not code:
        raise OpsClientError(
            "secret-code-required",
            f"this tool needs the operator's secret code: set {SECRET_ENV} in the MCP server's environment",
        )
    return code


# Never sent to the model (see the module's docstring): no tool asks for one; this is the backstop.
WITHHELD = ("bypassToken",)


def success(document: dict) -> CallToolResult:
    if isinstance(document, dict):
        document = {key: value for key, value in document.items() if key not in WITHHELD}
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(document, indent=2, default=str))],
        structured_content=document,
    )


def failure(error: OpsClientError) -> CallToolResult:
    """The CLI's error, in both forms: its text line and its ``--output json`` document."""
    return CallToolResult(
        content=[TextContent(type="text", text=f"error: {error.code}: {error.message}")],
        structured_content=error.to_dict(),
        is_error=True,
    )
