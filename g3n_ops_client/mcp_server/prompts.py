"""What the human is asked before each write: the prompt, the typed answer, the CLI equivalent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from g3n_ops.contract.maintenance import (
    MAX_DESCRIPTION_LENGTH,
    MAX_TEXT_LENGTH,
)
from g3n_ops.contract.vacuum import CONFIRMATION_PHRASE
from g3n_ops_client.mcp_server.confirmation import Arguments, Confirmation, quoted


def _dry_run_flag(arguments: Arguments) -> str:
    return " --dry-run" if arguments.get("dry_run") else ""


def _dry_run_id_option(arguments: Arguments) -> str:
    return f" --dry-run-id {quoted(arguments['dry_run_id'])}" if arguments.get("dry_run_id") else ""


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
    return f" {flag} {quoted(joined)}"


VACUUM_ORG = Confirmation(
    needed=lambda a: not a["dry_run"],
    prompt=lambda a: (
        "An assistant asks to PERMANENTLY delete one organisation's data from every org-scoped "
        f"service (reason: {str(a['reason'])[:200]}). After the pending window it cannot be undone. "
        "To allow it, type that organisation's orgcode exactly as the platform writes it."
    ),
    expected=lambda a: a["orgcode"],
    cli=lambda a: (
        f"g3n ops vacuum-org --orgcode {quoted(a['orgcode'])} --reason {quoted(a['reason'])}"
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
        f"g3n ops vacuum-all --reason {quoted(a['reason'])} "
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
    cli=lambda a: f"g3n ops vacuum-resume --vacuum-id {quoted(a['vacuum_id'])}",
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
        f"g3n ops maintenance-schedule --description {quoted(a['description'], MAX_DESCRIPTION_LENGTH)} "
        f"--duration {int(a['duration'])} --start {quoted(a['start'])}"
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
    cli=lambda a: f"g3n ops maintenance-start --maintenance-id {quoted(a['maintenance_id'])}",
)
MAINTENANCE_UPDATE = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to post an update on the active maintenance window {_window(a)}. It is "
        "public at once, on the status page and in every 503 body of the 14 API services: "
        + _public(a["text"], MAX_TEXT_LENGTH)
        + ". Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-update --text {quoted(a['text'], MAX_TEXT_LENGTH)}",
)
MAINTENANCE_END = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to END the active maintenance window {_window(a)} now: "
        + _ended_scope(a)
        + " answer again (within their 20 s cache). This end message is public on the status "
        "page: " + _public(a["end_message"], MAX_TEXT_LENGTH) + ". Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-end --end-message {quoted(a['end_message'], MAX_TEXT_LENGTH)}",
)
MAINTENANCE_CANCEL = Confirmation(
    prompt=lambda a: (
        f"An assistant asks to cancel the scheduled maintenance window {_window(a)}: it will not "
        "start, and leaves the status page. Go ahead?"
    ),
    cli=lambda a: f"g3n ops maintenance-cancel --maintenance-id {quoted(a['maintenance_id'])}",
)
