"""The tools: OPS's operations over ``OpsClient``, each read annotated, each write confirmed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from g3n_ops.contract.maintenance import (
    MAX_DURATION_SECONDS,
    MIN_DURATION_SECONDS,
)
from g3n_ops.contract.statuses import MAINTENANCE_STATUSES, VACUUM_STATUSES
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.mcp_server.confirmation import Arguments, confirmed
from g3n_ops_client.mcp_server.prompts import (
    MAINTENANCE_CANCEL,
    MAINTENANCE_END,
    MAINTENANCE_SCHEDULE,
    MAINTENANCE_START,
    MAINTENANCE_UPDATE,
    VACUUM_ALL,
    VACUUM_ORG,
    VACUUM_RESUME,
    WINDOW,
)
from g3n_ops_client.mcp_server.results import failure, secret_from_environment, success

INSTRUCTIONS = """\
Operate g3n OPS, the control plane of the g3nretailstack platform: maintenance windows (all 14 API
services answer 503 while one is active) and vacuums (permanent deletion of a stack's or an
organisation's data). Reads are safe at any time. Writes that need the operator's secret code use
the code configured in this server's environment; you never supply it. Before any vacuum, run the
same tool with dry_run=true, show the operator the per-service counts, and only proceed when they
explicitly ask for the real run (it is bound to that dry-run: without a completed dry-run of the same
scope it is refused with dry-run-required). Every write (maintenance schedule, start, update, end,
cancel; a real vacuum; resume) asks the operator to confirm through this client; you cannot confirm
for them, and a client without that support is told the terminal command to run instead. A window
may cover only some services (services, e.g. ["pay", "ord"]) and let some methods through
(allow_methods, e.g. ["GET", "HEAD"]: read-only maintenance). An operator bypass token is never
available here: the operator gets one in a terminal (`g3n ops maintenance-update --rotate-bypass`);
never ask them for it. A real vacuum waits in a pending window (status `pending`) during which
vacuum_cancel (never asked: it only stops deletion) stops it. Errors come back as
`error: <code>: <message>`."""

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


MaintenanceId = Annotated[str, Field(description="The maintenance window's id (maintenanceId).")]
VacuumId = Annotated[str, Field(description="The vacuum's id (vacuumId).")]
PageLimit = Annotated[int | None, Field(ge=1, le=100, description="At most this many (a page).")]
NextToken = Annotated[str | None, Field(description="The nextToken of the previous page, to continue.")]
Reason = Annotated[str, Field(description="Why this vacuum runs; recorded in its record and audit.")]
DryRunId = Annotated[
    str | None,
    Field(
        description="A real run's dry-run (its vacuumId). Default: the newest completed dry-run of the "
        "same scope from the last 24 h; without one the real run is refused (dry-run-required)."
    ),
]
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

    def window_named(arguments: Arguments) -> Arguments:
        """For a start's or cancel's prompt: the window it acts on (a read, no secret)."""
        try:
            with lock:
                return {WINDOW: ops.maintenance.get(arguments["maintenance_id"])}
        except OpsClientError:
            return {WINDOW: None}

    def window_active(arguments: Arguments) -> Arguments:
        """For an update's or end's prompt: the active window (a read, no secret)."""
        try:
            with lock:
                state = ops.ping()["maintenance"]
        except (OpsClientError, KeyError, TypeError):
            return {WINDOW: None}
        return {WINDOW: state if state.get("active") else None}

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
            Literal[MAINTENANCE_STATUSES] | None,  # type: ignore[valid-type]
            Field(description="Only windows in this status."),
        ] = None,
        limit: PageLimit = None,
        next_token: NextToken = None,
    ) -> CallToolResult:
        """Maintenance windows, newest first, one page at a time (`nextToken` continues)."""
        return call(lambda: ops.maintenance.list(status=status, limit=limit, next_token=next_token))

    @tool(annotations=_read("Get a maintenance window"))
    def maintenance_get(maintenance_id: MaintenanceId) -> CallToolResult:
        """One maintenance window with its updates and full history of transitions."""
        return call(lambda: ops.maintenance.get(maintenance_id))

    @tool(annotations=_read("Vacuum status"))
    def vacuum_status(vacuum_id: VacuumId) -> CallToolResult:
        """A vacuum's record: status and its per-service stats and totals. Poll it after
        vacuum_all / vacuum_org until it is final: completed, cancelled or failed (their numbers are
        final from the first read that shows them); cancelling and failing are not final (chunks
        still in flight, `chunksInFlight`): keep polling. An ended run lists its `slowestUnits`."""
        return call(lambda: ops.vacuum.status(vacuum_id))

    @tool(annotations=_read("List vacuum runs"))
    def vacuum_list(
        status: Annotated[
            Literal[VACUUM_STATUSES] | None,  # type: ignore[valid-type]
            Field(description="Only runs in this status."),
        ] = None,
        limit: PageLimit = None,
        next_token: NextToken = None,
    ) -> CallToolResult:
        """Vacuum runs (dry-runs included), newest first, one page at a time (`nextToken`
        continues). Each run: id, status, scope, orgcode, dry-run or the dry-run it is bound to,
        times and totals. Equivalent to `g3n ops vacuum-list`."""
        return call(lambda: ops.vacuum.list(status=status, limit=limit, next_token=next_token))

    @tool(annotations=_read("Vacuum run events"))
    def vacuum_events(
        vacuum_id: VacuumId,
        limit: Annotated[
            int | None, Field(ge=1, le=500, description="At most this many entries (a page; default 100).")
        ] = None,
        next_token: Annotated[str | None, Field(description="The nextToken of the previous page.")] = None,
    ) -> CallToolResult:
        """A vacuum run's trail in time order, one page at a time (`nextToken` continues; null on
        the last page): requested, admitted, started, unit-done (per unit: counts, elapsedSeconds),
        continued, verified, cancel-requested, completed / cancelled / failed with reasons and
        totals. Equivalent to `g3n ops vacuum-events`."""
        return call(lambda: ops.vacuum.events(vacuum_id, limit=limit, next_token=next_token))

    # -- maintenance writes (a human confirms; secret code from the environment) ---------------
    @tool(annotations=_write("Schedule a maintenance window", idempotent=False))
    @confirmed(MAINTENANCE_SCHEDULE)
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
        services: Annotated[
            list[str] | None,
            Field(
                description='Only these API services (registry codes, e.g. ["pay", "ord"]) answer 503; '
                "default: all 14. An unknown code is refused with the known ones listed.",
                max_length=64,
            ),
        ] = None,
        allow_methods: Annotated[
            list[str] | None,
            Field(
                description='HTTP methods that still pass during the window, e.g. ["GET", "HEAD"] '
                "(read-only maintenance); default: none.",
                max_length=16,
            ),
        ] = None,
    ) -> CallToolResult:
        """Schedule a maintenance window. At its start the API services (all 14, or `services`)
        answer 503 until it ends, except `allow_methods`; its description is public (status page,
        503 bodies). Creates a new window on every call: check maintenance_list first to avoid a
        duplicate. The operator confirms it, scope and methods shown, in this client. No operator
        bypass here: the operator issues one in a terminal (see the server's instructions)."""
        return gated(
            lambda secret: ops.maintenance.schedule(
                secret,
                description,
                duration,
                start,
                auto_end=auto_end,
                services=services,
                allow_methods=allow_methods,
            )
        )

    @tool(annotations=_write("Start a maintenance window now", idempotent=True))
    @confirmed(MAINTENANCE_START, lookup=window_named)
    def maintenance_start(maintenance_id: MaintenanceId) -> CallToolResult:
        """Start a scheduled window now (before its start time): the API services answer 503 from
        now on (within their 20 s cache). Fails if another window is active."""
        return gated(lambda secret: ops.maintenance.start(secret, maintenance_id))

    @tool(annotations=_write("Post a maintenance update", idempotent=False))
    @confirmed(MAINTENANCE_UPDATE, lookup=window_active)
    def maintenance_update(
        text: Annotated[str, Field(description="The update, as API callers will read it.")],
    ) -> CallToolResult:
        """Post a progress update on the ACTIVE window: public at once (the status page; the 503
        answers carry the latest one). The operator confirms the text in this client."""
        return gated(lambda secret: ops.maintenance.update(secret, text))

    @tool(annotations=_write("End the active maintenance window", idempotent=False))
    @confirmed(MAINTENANCE_END, lookup=window_active)
    def maintenance_end(
        end_message: Annotated[
            str, Field(description="Closing note, public on the status page and kept in the history.")
        ],
    ) -> CallToolResult:
        """End the ACTIVE window: the API services recover within their 20 s cache."""
        return gated(lambda secret: ops.maintenance.end(secret, end_message))

    @tool(annotations=_write("Cancel a scheduled maintenance window", idempotent=True))
    @confirmed(MAINTENANCE_CANCEL, lookup=window_named)
    def maintenance_cancel(maintenance_id: MaintenanceId) -> CallToolResult:
        """Cancel a window that has not started yet (an active one is ended with maintenance_end)."""
        return gated(lambda secret: ops.maintenance.cancel(secret, maintenance_id))

    # -- vacuum (destructive; secret code from the environment) -------------------------------
    @tool(annotations=_write("Vacuum ALL data of the stack", idempotent=False, destructive=True))
    @confirmed(VACUUM_ALL)
    def vacuum_all(
        reason: Reason,
        dry_run: DryRun = True,
        dry_run_id: DryRunId = None,
        with_maintenance: Annotated[
            bool,
            Field(
                description="Real runs only: open a maintenance window while the run deletes (the "
                "services answer 503); it ends when the run ends. Refused on a dry-run."
            ),
        ] = False,
        typed_by_operator: str = "",
    ) -> CallToolResult:
        """PERMANENTLY delete every item, object version and log event of every service on this
        (dev/test) stack. Always run with dry_run=true first and show the operator the counts
        (vacuum_status until completed). The operator confirms every call (dry-run included) by
        typing the confirmation phrase into this client. A real run waits in `pending` for the
        pending window (vacuum_cancel stops it), then deletes. Only one vacuum runs at a time."""
        return gated(
            lambda secret: ops.vacuum.all(
                secret,
                reason,
                typed_by_operator,
                dry_run=dry_run,
                dry_run_id=dry_run_id,
                with_maintenance=with_maintenance,
            )
        )

    @tool(annotations=_write("Vacuum one organisation's data", idempotent=False, destructive=True))
    @confirmed(VACUUM_ORG)
    def vacuum_org(
        orgcode: Annotated[str, Field(description="The organisation whose data goes, e.g. TESTORG.")],
        reason: Reason,
        dry_run: DryRun = True,
        dry_run_id: DryRunId = None,
    ) -> CallToolResult:
        """PERMANENTLY delete one organisation's items and S3 objects from every org-scoped service
        (uas and usm are cross-org and skipped). Always run with dry_run=true first and show the
        operator the counts (vacuum_status until completed). A real run (dry_run=false) needs the
        operator to type the orgcode into this client. It then waits in `pending` for the pending
        window (vacuum_cancel stops it), then deletes. Only one vacuum runs at a time."""
        return gated(
            lambda secret: ops.vacuum.org(secret, orgcode, reason, dry_run=dry_run, dry_run_id=dry_run_id)
        )

    @tool(annotations=_write("Cancel a pending or running vacuum", idempotent=True))
    def vacuum_cancel(vacuum_id: VacuumId) -> CallToolResult:  # in UNCONFIRMED_WRITES: never asks
        """Cancel a vacuum: in its pending window nothing is deleted; a running one stops at its
        next checkpoint (within seconds), its stats exactly what was deleted until then. It only
        stops deletion, so the operator is not asked to confirm it."""
        return gated(lambda secret: ops.vacuum.cancel(secret, vacuum_id))

    @tool(annotations=_write("Resume a failed vacuum", idempotent=False, destructive=True))
    @confirmed(VACUUM_RESUME)
    def vacuum_resume(vacuum_id: VacuumId) -> CallToolResult:
        """Continue a FAILED vacuum (same record and plan, each unit from where it stopped): it
        deletes what the run had still to delete. Only when the operator asks for it; check the
        failure (vacuum_status) first. The operator confirms by typing the run's id into this
        client. Only one vacuum runs at a time."""
        return gated(lambda secret: ops.vacuum.resume(secret, vacuum_id))

    return server
