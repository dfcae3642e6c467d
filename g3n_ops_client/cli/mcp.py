"""``g3n ops mcp``: the MCP server on stdio, for an assistant (Claude Desktop, an IDE, …)."""

from __future__ import annotations

import click

from g3n_ops_client.client import ClientConfig, OpsClient


def register(ops: click.Group) -> None:
    @ops.command("mcp")
    @click.option(
        "--endpoint-url",
        envvar="G3N_OPS_ENDPOINT_URL",
        default=None,
        help="AWS endpoint, e.g. the local stack's http://127.0.0.1:4566.",
    )
    @click.option("--region", default=None, help="AWS region (default: your AWS configuration).")
    @click.option("--profile", default=None, help="AWS profile.")
    @click.option("--stage", default=None, help="Refuse to act unless OPS runs this stage.")
    def mcp(endpoint_url: str | None, region: str | None, profile: str | None, stage: str | None) -> None:
        """Serve OPS as MCP tools over stdio until the client disconnects.

        Gated tools use the secret code in G3N_OPS_SECRET_CODE (never a tool argument).
        """
        # Imported here: the SDK is heavy, and no other command needs it.
        from g3n_ops_client.mcp_server import build_server

        config = ClientConfig.from_options(
            endpoint_url=endpoint_url, region=region, profile=profile, stage=stage, source="mcp"
        )
        # stdout is the protocol channel from here on; everything else goes to stderr.
        build_server(OpsClient(config)).run("stdio")
