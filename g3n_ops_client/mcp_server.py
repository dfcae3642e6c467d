"""The MCP server: OPS's operations as tools for an assistant, over stdio (``g3n ops mcp``).

A thin adapter over ``OpsClient``, the library the CLI uses, so a tool and its CLI command send
the same request and fail with the same error code. Two rules keep the operator in charge:

- The secret code comes from this server's environment (``G3N_OPS_SECRET_CODE``), read when a
  gated tool runs. It is never a tool parameter, so the model can neither see nor invent it.
- The ``vacuum_all`` confirmation phrase IS a parameter: the operator has to type it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from g3n_ops.domain.maintenance import MAX_DURATION_SECONDS, MIN_DURATION_SECONDS
from g3n_ops_client.cli.common import SECRET_ENV
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError

INSTRUCTIONS = """\
Operate g3n OPS, the control plane of the g3nretailstack platform: maintenance windows (all 14 API
services answer 503 while one is active) and vacuums (permanent deletion of a stack's or an
organisation's data). Reads are safe at any time. Writes that need the operator's secret code use
the code configured in this server's environment; you never supply it. Before any vacuum, run the
same tool with dry_run=true, show the operator the per-service counts, and only proceed when they
explicitly ask for the real run. A real vacuum waits in a pending window (status `pending`) during
which vacuum_cancel stops it. Errors come back as `error: <code>: <message>`."""

# Every tool acts on this platform's own OPS stack, a closed set of resources: not open-world.
_READ = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def _write(title: str, *, idempotent: bool, destructive: bool = False) -> ToolAnnotations:
    return ToolAnnotations(
        title=title,
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=False,
    )


def _read(title: str) -> ToolAnnotations:
    return _READ.model_copy(update={"title": title})


def secret_from_environment() -> str:
    """The operator's secret code, read at call time so a restart is not needed after setting it."""
    code = os.environ.get(SECRET_ENV)
    if not code:
        raise OpsClientError(
            "secret-code-required",
            f"this tool needs the operator's secret code: set {SECRET_ENV} in the MCP server's environment",
        )
    return code


def success(document: dict) -> CallToolResult:
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


MaintenanceId = Annotated[str, Field(description="The maintenance window's id (maintenanceId).")]
VacuumId = Annotated[str, Field(description="The vacuum's id (vacuumId).")]
Reason = Annotated[str, Field(description="Why this vacuum runs; recorded in its record and audit.")]
DryRun = Annotated[
    bool,
    Field(
        description="true: only count what would be deleted (nothing is touched). "
        "Always run with true first and show the operator the counts."
    ),
]


def build_server(client: OpsClient | None = None) -> MCPServer:
    """The server with every OPS tool; ``client`` defaults to one configured from the environment."""
    ops = client or OpsClient(ClientConfig.from_options(source="mcp"))
    # Tools run on worker threads; one boto3 session must not build clients from several at once.
    lock = threading.Lock()

    def call(operation: Callable[[], dict]) -> CallToolResult:
        try:
            with lock:
                return success(operation())
        except OpsClientError as error:
            return failure(error)

    def gated(operation: Callable[[str], dict]) -> CallToolResult:
        """A secret-gated call: no secret in the environment, no request at all."""
        try:
            secret = secret_from_environment()
        except OpsClientError as error:
            return failure(error)
        return call(lambda: operation(secret))

    server = MCPServer("g3n-ops", instructions=INSTRUCTIONS)
    tool = server.tool

    # -- reads -------------------------------------------------------------------------------
    @tool(annotations=_read("Ping OPS"))
    def ping() -> CallToolResult:
        """Health of OPS and the current maintenance state (whether a window is active, its latest
        update and expected end). Equivalent to `g3n ops ping`."""
        return call(ops.ping)

    @tool(annotations=_read("OPS at a glance"))
    def stat() -> CallToolResult:
        """Maintenance windows counted by status, the last vacuum, and item counts of the service
        tables. Equivalent to `g3n ops stat`."""
        return call(ops.stat)

    @tool(annotations=_read("Service registry"))
    def services() -> CallToolResult:
        """The service registry: every service with its tables, buckets and log groups, i.e. what a
        vacuum would touch (uas and usm are cross-org and skipped by vacuum_org)."""
        return call(ops.services)

    @tool(annotations=_read("List maintenance windows"))
    def maintenance_list(
        status: Annotated[
            Literal["scheduled", "active", "ended", "cancelled"] | None,
            Field(description="Only windows in this status."),
        ] = None,
        limit: Annotated[int | None, Field(ge=1, le=100, description="At most this many (a page).")] = None,
        next_token: Annotated[
            str | None, Field(description="The nextToken of the previous page, to continue.")
        ] = None,
    ) -> CallToolResult:
        """Maintenance windows, newest first, one page at a time (`nextToken` continues)."""
        return call(lambda: ops.maintenance.list(status=status, limit=limit, next_token=next_token))

    @tool(annotations=_read("Get a maintenance window"))
    def maintenance_get(maintenance_id: MaintenanceId) -> CallToolResult:
        """One maintenance window with its updates and full history of transitions."""
        return call(lambda: ops.maintenance.get(maintenance_id))

    @tool(annotations=_read("Vacuum status"))
    def vacuum_status(vacuum_id: VacuumId) -> CallToolResult:
        """A vacuum's record: status (pending, running, completed, cancelled, failed) and its
        per-service stats and totals. Poll it after vacuum_all / vacuum_org until it is final."""
        return call(lambda: ops.vacuum.status(vacuum_id))

    # -- maintenance writes (secret code from the environment) --------------------------------
    @tool(annotations=_write("Schedule a maintenance window", idempotent=False))
    def maintenance_schedule(
        description: Annotated[str, Field(description="What the window is for; shown to API callers.")],
        duration: Annotated[
            int,
            Field(
                ge=MIN_DURATION_SECONDS,
                le=MAX_DURATION_SECONDS,
                description="Planned length in seconds.",
            ),
        ],
        start: Annotated[
            str, Field(description="Start time, ISO 8601 with a zone, e.g. 2026-12-01T02:00:00Z.")
        ],
        auto_end: Annotated[
            bool,
            Field(description="End it after the duration (otherwise it is marked overrunning)."),
        ] = False,
    ) -> CallToolResult:
        """Schedule a maintenance window. At its start all 14 API services answer 503 until it
        ends. Creates a new window on every call. Check maintenance_list first to avoid a duplicate."""
        return gated(
            lambda secret: ops.maintenance.schedule(secret, description, duration, start, auto_end=auto_end)
        )

    @tool(annotations=_write("Start a maintenance window now", idempotent=True))
    def maintenance_start(maintenance_id: MaintenanceId) -> CallToolResult:
        """Start a scheduled window now (before its start time): the API services answer 503 from
        now on (within their 20 s cache). Fails if another window is active."""
        return gated(lambda secret: ops.maintenance.start(secret, maintenance_id))

    @tool(annotations=_write("Post a maintenance update", idempotent=False))
    def maintenance_update(
        text: Annotated[str, Field(description="The update, as API callers will read it.")],
    ) -> CallToolResult:
        """Post a progress update on the ACTIVE window; the 503 answers carry the latest one."""
        return gated(lambda secret: ops.maintenance.update(secret, text))

    @tool(annotations=_write("End the active maintenance window", idempotent=False))
    def maintenance_end(
        end_message: Annotated[str, Field(description="Closing note recorded in the window's history.")],
    ) -> CallToolResult:
        """End the ACTIVE window: the API services recover within their 20 s cache."""
        return gated(lambda secret: ops.maintenance.end(secret, end_message))

    @tool(annotations=_write("Cancel a scheduled maintenance window", idempotent=True))
    def maintenance_cancel(maintenance_id: MaintenanceId) -> CallToolResult:
        """Cancel a window that has not started yet (an active one is ended with maintenance_end)."""
        return gated(lambda secret: ops.maintenance.cancel(secret, maintenance_id))

    # -- vacuum (destructive; secret code from the environment) -------------------------------
    @tool(annotations=_write("Vacuum ALL data of the stack", idempotent=False, destructive=True))
    def vacuum_all(
        reason: Reason,
        confirmation_phrase: Annotated[
            str,
            Field(
                description="Exactly what the operator typed; must be VACUUM ALL DATA PERMANENTLY. "
                "Never fill it in yourself."
            ),
        ],
        dry_run: DryRun = True,
    ) -> CallToolResult:
        """PERMANENTLY delete every item, object version and log event of every service on this
        (dev/test) stack. Always run with dry_run=true first and show the operator the counts
        (vacuum_status until completed). A real run waits in `pending` for the pending window
        (vacuum_cancel stops it), then deletes. Only one vacuum runs at a time."""
        return gated(lambda secret: ops.vacuum.all(secret, reason, confirmation_phrase, dry_run=dry_run))

    @tool(annotations=_write("Vacuum one organisation's data", idempotent=False, destructive=True))
    def vacuum_org(
        orgcode: Annotated[str, Field(description="The organisation whose data goes, e.g. TESTORG.")],
        reason: Reason,
        dry_run: DryRun = True,
    ) -> CallToolResult:
        """PERMANENTLY delete one organisation's items and S3 objects from every org-scoped service
        (uas and usm are cross-org and skipped). Always run with dry_run=true first and show the
        operator the counts (vacuum_status until completed). A real run waits in `pending` for the
        pending window (vacuum_cancel stops it), then deletes. Only one vacuum runs at a time."""
        return gated(lambda secret: ops.vacuum.org(secret, orgcode, reason, dry_run=dry_run))

    @tool(annotations=_write("Cancel a pending or running vacuum", idempotent=True))
    def vacuum_cancel(vacuum_id: VacuumId) -> CallToolResult:
        """Cancel a vacuum: in its pending window nothing is deleted; a running one stops at its
        next checkpoint (within seconds), its stats exactly what was deleted until then."""
        return gated(lambda secret: ops.vacuum.cancel(secret, vacuum_id))

    @tool(annotations=_write("Resume a failed vacuum", idempotent=False, destructive=True))
    def vacuum_resume(vacuum_id: VacuumId) -> CallToolResult:
        """Continue a FAILED vacuum (same record and plan, each unit from where it stopped): it
        deletes what the run had still to delete. Only when the operator asks for it; check the
        failure (vacuum_status) first. Only one vacuum runs at a time."""
        return gated(lambda secret: ops.vacuum.resume(secret, vacuum_id))

    return server
