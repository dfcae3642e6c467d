"""The MCP server: OPS's operations as tools for an assistant, over stdio (``g3n ops mcp``).

A thin adapter over ``OpsClient``, the library the CLI uses, so a tool and its CLI command send
the same request and fail with the same error code. Three rules keep the operator in charge:

- Every tool that writes (maintenance schedule/start/update/end/cancel, a real vacuum, resume)
  runs only after a human confirms it through MCP elicitation (``@confirmed``): the operator types
  the orgcode, the vacuum-all confirmation phrase or the run's id, or answers a yes/no that shows
  what will happen (the text that becomes public, the start, the 503s); a model's arguments cannot
  stand in for it (the answer is a resolved parameter, never a tool argument). A client that
  cannot elicit is refused with the exact ``g3n ops`` command to run instead. The one exception,
  ``UNCONFIRMED_WRITES``: vacuum_cancel, which only stops deletion.
- The secret code comes from this server's environment (``G3N_OPS_SECRET_CODE``), read when a
  gated tool runs. It is never a tool parameter, so the model can neither see nor invent it. It is
  deliberately NOT elicited: MCP forbids form-mode elicitation of secrets (the answer passes
  through the client, and on protocol 2026-07-28 rides ``request_state`` back and forth), and
  this stdio server has no web page for URL-mode elicitation. The human gate is the confirmation.
- No tool description, schema or elicitation message contains the confirmation phrase or the
  secret: an agent that answers elicitations by itself must not find the answer there.
- No tool issues or returns an operator bypass token (``--bypass``, ``--rotate-bypass``). The
  token lets its holder through every affected service's 503, so it is for the human's hands
  only: a tool result goes to the model (and into its transcript, logs, other tools), and an
  elicitation message passes through the client just the same, so MCP has no channel that reaches
  only the human. The operator issues one in a terminal (``g3n ops maintenance-update
  --rotate-bypass`` once the window is active, or ``--bypass`` on schedule/start), where it is
  printed once. Tool results say only whether a window has a bypass (``bypass``), and any
  ``bypassToken`` is dropped from a result before it is sent (``success``).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import shlex
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from g3n_ops.contract.maintenance import (
    MAX_DESCRIPTION_LENGTH,
    MAX_DURATION_SECONDS,
    MAX_TEXT_LENGTH,
    MIN_DURATION_SECONDS,
)
from g3n_ops.contract.statuses import MAINTENANCE_STATUSES, VACUUM_STATUSES
from g3n_ops.contract.vacuum import CONFIRMATION_PHRASE
from g3n_ops_client.cli.common import SECRET_ENV
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError

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


# -- a human confirms every write (MCP elicitation) ---------------------------------------------
# The writes that run without asking, and why. Every other tool that is not read-only is
# ``@confirmed`` (tests/e2e/test_mcp.py derives the list from the registered tools).
UNCONFIRMED_WRITES = frozenset(
    {
        "vacuum_cancel",  # only makes things safer: stops a vacuum before (or while) it deletes
    }
)
Arguments = dict[str, Any]
# The tool parameter a confirmed tool declares to receive what the operator typed (never exposed).
OPERATOR_TYPED = "typed_by_operator"
NOT_NEEDED = "not-needed"  # this call needs no confirmation (e.g. a vacuum-org dry-run)
CANNOT_ELICIT = "cannot-elicit"  # the client declared no (form) elicitation support


class TypedAnswer(BaseModel):
    """The form for a typed confirmation: the operator types the value the prompt asks for."""

    typed: str = Field(
        title="Type to confirm", max_length=200, description="Typed exactly; anything else runs nothing."
    )


class YesNoAnswer(BaseModel):
    confirm: bool = Field(title="Go ahead", description="Only true runs the operation.")


@dataclass(frozen=True)
class Confirmation:
    """What a human confirms before a tool runs, each part built from the tool's arguments.

    ``prompt`` never contains ``expected`` (an agent answering for the human must not find it
    there) nor the secret code, and shows what will happen; it also receives what the tool's
    ``lookup`` found (e.g. the window a start acts on). ``expected`` is None for a yes/no; ``cli``
    is the equivalent command, offered to a client that cannot elicit; ``needed`` says whether
    this call needs it (a dry-run does not).
    """

    prompt: Callable[[Arguments], str]
    cli: Callable[[Arguments], str]
    expected: Callable[[Arguments], str] | None = None
    needed: Callable[[Arguments], bool] = lambda arguments: True


def _quoted(text: object, limit: int = 200) -> str:
    return shlex.quote(str(text)[:limit])


def _refusal(confirmation: Confirmation, outcome: object, arguments: Arguments) -> OpsClientError | None:
    """None when the human confirmed (or no confirmation is needed), else why nothing runs."""
    if not isinstance(outcome, AcceptedElicitation):
        return OpsClientError(
            "confirmation-declined", "the operator declined the confirmation; nothing was done"
        )
    answer = outcome.data
    if answer == NOT_NEEDED:
        return None
    if answer == CANNOT_ELICIT:
        return OpsClientError(
            "confirmation-unavailable",
            "this operation needs a person to confirm it, and this MCP client cannot ask one "
            "(no elicitation support); nothing was done. Run it from a terminal: "
            + confirmation.cli(arguments),
        )
    if confirmation.expected is None:
        if isinstance(answer, YesNoAnswer) and answer.confirm:
            return None
        return OpsClientError("confirmation-declined", "the operator did not confirm; nothing was done")
    if isinstance(answer, TypedAnswer) and answer.typed == confirmation.expected(arguments):
        return None
    return OpsClientError(
        "confirmation-mismatch",
        "what the operator typed does not match what this operation acts on; nothing was done",
    )


def confirmed(
    confirmation: Confirmation, *, lookup: Callable[[Arguments], Arguments] | None = None
) -> Callable[[Callable[..., CallToolResult]], Callable[..., CallToolResult]]:
    """Make a tool ask a human first (apply below ``@tool``). One line per write tool.

    The answer arrives through a resolved parameter (``Resolve``): the SDK fills it by eliciting
    from the client (a server-to-client request, or ``InputRequiredResult`` on protocol
    2026-07-28), never from the model's arguments, and it is absent from the input schema. A tool
    that declares ``typed_by_operator`` receives the confirmed text (e.g. the phrase). ``lookup``
    (a read, no secret) adds what the prompt shows besides the arguments; it runs only when the
    human is about to be asked.
    """

    def decorate(function: Callable[..., CallToolResult]) -> Callable[..., CallToolResult]:
        # Annotations evaluated now: an explicit __signature__ is read as is, strings unresolved.
        hints = typing.get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
        exposed = [
            parameter.replace(annotation=hints.get(name, parameter.annotation))
            for name, parameter in signature.parameters.items()
            if name != OPERATOR_TYPED
        ]
        wants_typed = OPERATOR_TYPED in signature.parameters

        def ask(ctx: Context, **arguments: Any) -> Any:
            if not confirmation.needed(arguments):
                return NOT_NEEDED
            capabilities = ctx.client_capabilities
            elicitation = capabilities.elicitation if capabilities is not None else None
            # A bare ``elicitation: {}`` means form support; url-only does not (the SDK's rule).
            if elicitation is None or (elicitation.form is None and elicitation.url is not None):
                return CANNOT_ELICIT
            schema = YesNoAnswer if confirmation.expected is None else TypedAnswer
            shown = {**arguments, **lookup(arguments)} if lookup else arguments
            return Elicit(confirmation.prompt(shown), schema)

        keyword = inspect.Parameter.KEYWORD_ONLY
        ask.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("ctx", keyword, annotation=Context)]
            + [inspect.Parameter(parameter.name, keyword) for parameter in exposed]
        )
        ask.__annotations__ = {"ctx": Context}
        ask.__qualname__ = f"confirm_{function.__name__}"

        @functools.wraps(function)
        def run(*, human: Any, **arguments: Any) -> CallToolResult:
            refusal = _refusal(confirmation, human, arguments)
            if refusal is not None:
                return failure(refusal)
            if wants_typed and isinstance(human.data, TypedAnswer):
                arguments[OPERATOR_TYPED] = human.data.typed
            return function(**arguments)

        answer = Annotated[ElicitationResult[BaseModel], Resolve(ask)]
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*exposed, inspect.Parameter("human", keyword, annotation=answer)],
            return_annotation=hints.get("return", signature.return_annotation),
        )
        run.__annotations__ = {
            **{name: hint for name, hint in hints.items() if name != OPERATOR_TYPED},
            "human": answer,
        }
        del run.__wrapped__  # the SDK must read this signature, not the wrapped one
        return run

    return decorate


def _dry_run_flag(arguments: Arguments) -> str:
    return " --dry-run" if arguments.get("dry_run") else ""


def _dry_run_id_option(arguments: Arguments) -> str:
    return f" --dry-run-id {_quoted(arguments['dry_run_id'])}" if arguments.get("dry_run_id") else ""


# What a tool's ``lookup`` adds for its prompt: the maintenance window the call acts on (a record,
# or the active window's state), None when OPS could not say (the call then fails on its own).
WINDOW = "_window"
SERVICES_DOWN = "all 14 API services answer 503"


def _public(text: object, limit: int) -> str:
    """Operator text quoted as it will be published, so the human reads exactly that."""
    text = str(text)
    if len(text) <= limit:
        return f'"{text}"'
    return f'"{text[:limit]}…" (longer than OPS accepts: it will be refused)'


def _length(seconds: int) -> str:
    """A duration as a person reads it: 30 min, 1.5 h."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds} s"


def _when(start: object) -> str:
    """``NOW`` for a start that is due (a minute's slack), else the time as given. No relative
    time: the prompt must read the same if the SDK asks again on a later round."""
    try:
        moment = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
    except ValueError:
        return f"at {start}"
    if moment.tzinfo is not None and moment <= datetime.now(UTC) + timedelta(minutes=1):
        return f"NOW ({start})"
    return f"at {start}"


def _window(arguments: Arguments) -> str:
    """The looked-up window as the prompt names it: its id and public description."""
    window = arguments.get(WINDOW)
    if not window:
        named = f"{str(arguments['maintenance_id'])[:64]} " if arguments.get("maintenance_id") else ""
        return named + "(OPS could not show it: the call is likely refused)"
    details = f"{window['maintenanceId']} ({_public(window.get('description', ''), MAX_DESCRIPTION_LENGTH)}"
    if window.get("duration") is not None:
        details += f", planned {_length(int(window['duration']))}"
        details += ", ending by itself" if window.get("autoEnd") else ", until someone ends it"
    return details + ")"


def _names(values: object, limit: int = 20) -> str:
    """A list of codes or methods as the prompt shows them (bounded: the model wrote them)."""
    items = [str(value)[:32] for value in values] if isinstance(values, list | tuple) else [str(values)[:200]]
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _scope(services: object, methods: object) -> str:
    """Who answers 503 during a window, as the human must read it before agreeing."""
    text = (
        f"only the API services {_names(services)} answer 503 (the others keep answering)"
        if services
        else SERVICES_DOWN
    )
    if methods:
        text += f", except {_names(methods)} requests, which still pass (read-only maintenance)"
    return text


def _window_scope(arguments: Arguments) -> str:
    """The looked-up window's scope (a record or the state): who answers 503 while it is active."""
    window = arguments.get(WINDOW) or {}
    return _scope(window.get("services"), window.get("allowMethods"))


def _ended_scope(arguments: Arguments) -> str:
    services = (arguments.get(WINDOW) or {}).get("services")
    return f"the API services {_names(services)}" if services else "the 14 API services"


def _list_option(flag: str, values: object) -> str:
    if not values:
        return ""
    joined = ",".join(str(value) for value in values) if isinstance(values, list | tuple) else str(values)
    return f" {flag} {_quoted(joined)}"


VACUUM_ORG = Confirmation(
    needed=lambda a: not a["dry_run"],
    prompt=lambda a: (
        "An assistant asks to PERMANENTLY delete one organisation's data from every org-scoped "
        f"service (reason: {str(a['reason'])[:200]}). After the pending window it cannot be undone. "
        "To allow it, type that organisation's orgcode exactly as the platform writes it."
    ),
    expected=lambda a: a["orgcode"],
    cli=lambda a: (
        f"g3n ops vacuum-org --orgcode {_quoted(a['orgcode'])} --reason {_quoted(a['reason'])}"
        + _dry_run_flag(a)
        + _dry_run_id_option(a)
    ),
)
# vacuum-all needs the phrase for a dry-run too (the server checks it on every vacuum-all).
VACUUM_ALL = Confirmation(
    prompt=lambda a: (
        (
            "An assistant asks for a DRY-RUN of vacuum-all (nothing is deleted). "
            if a["dry_run"]
            else "An assistant asks to PERMANENTLY delete ALL data of every service on this stack. "
        )
        + (
            f"It opens a maintenance window first: {SERVICES_DOWN} until the run ends. "
            if a.get("with_maintenance")
            else ""
        )
        + f"Reason: {str(a['reason'])[:200]}. To allow it, type the vacuum-all confirmation phrase "
        "(see the vacuum-all playbook)."
    ),
    expected=lambda a: CONFIRMATION_PHRASE,
    cli=lambda a: (
        f"g3n ops vacuum-all --reason {_quoted(a['reason'])} "
        "--confirmation-phrase '<the phrase from the vacuum-all playbook>'"
        + _dry_run_flag(a)
        + _dry_run_id_option(a)
        + (" --with-maintenance" if a.get("with_maintenance") else "")
    ),
)
VACUUM_RESUME = Confirmation(
    prompt=lambda a: (
        "An assistant asks to RESUME a failed vacuum run: it goes on deleting what that run had still "
        "to delete (its reviewed plan), and that cannot be undone. To allow it, type the run's vacuum "
        "id (g3n ops vacuum-status shows it)."
    ),
    expected=lambda a: a["vacuum_id"],
    cli=lambda a: f"g3n ops vacuum-resume --vacuum-id {_quoted(a['vacuum_id'])}",
)
MAINTENANCE_SCHEDULE = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to schedule a maintenance window starting {_when(a['start'])} for "
        f"{_length(a['duration'])}"
        + (", ending by itself" if a.get("auto_end") else ", until someone ends it")
        + f". From its start {_scope(a.get('services'), a.get('allow_methods'))} until it ends. "
        + "Its description is public (the status "
        "page lists the window from now if it starts within 7 days; every 503 body carries it): "
        + _public(a["description"], MAX_DESCRIPTION_LENGTH)
        + ". Go ahead?"
    ),
    cli=lambda a: (
        f"g3n ops maintenance-schedule --description {_quoted(a['description'], MAX_DESCRIPTION_LENGTH)} "
        f"--duration {int(a['duration'])} --start {_quoted(a['start'])}"
        + (" --auto-end" if a.get("auto_end") else "")
        + _list_option("--services", a.get("services"))
        + _list_option("--allow-methods", a.get("allow_methods"))
    ),
)
MAINTENANCE_START = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to start the maintenance window {_window(a)} NOW: {_window_scope(a)} until "
        "it ends; every 503 body and the public status page show its description. Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-start --maintenance-id {_quoted(a['maintenance_id'])}",
)
MAINTENANCE_UPDATE = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to post an update on the active maintenance window {_window(a)}. It is "
        "public at once, on the status page and in every 503 body of the 14 API services: "
        + _public(a["text"], MAX_TEXT_LENGTH)
        + ". Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-update --text {_quoted(a['text'], MAX_TEXT_LENGTH)}",
)
MAINTENANCE_END = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to END the active maintenance window {_window(a)} now: "
        + _ended_scope(a)
        + " answer again (within their 20 s cache). This end message is public on the status "
        "page: " + _public(a["end_message"], MAX_TEXT_LENGTH) + ". Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-end --end-message {_quoted(a['end_message'], MAX_TEXT_LENGTH)}",
)
MAINTENANCE_CANCEL = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to cancel the scheduled maintenance window {_window(a)}: it will not "
        "start, and leaves the status page. Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-cancel --maintenance-id {_quoted(a['maintenance_id'])}",
)


MaintenanceId = Annotated[str, Field(description="The maintenance window's id (maintenanceId).")]
VacuumId = Annotated[str, Field(description="The vacuum's id (vacuumId).")]
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
        limit: Annotated[int | None, Field(ge=1, le=100, description="At most this many (a page).")] = None,
        next_token: Annotated[
            str | None, Field(description="The nextToken of the previous page, to continue.")
        ] = None,
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
