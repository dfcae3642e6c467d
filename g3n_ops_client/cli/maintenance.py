"""``g3n ops maintenance-*`` commands: list, get, schedule, start, update, end, cancel.

``--output json`` prints the record document (``maintenance-list``: the page); text is for people.

``--bypass`` (schedule, start) and ``--rotate-bypass`` (update) print the operator bypass token
once, in this answer only (``bypassToken`` in JSON): OPS keeps nothing it could show again.
"""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from g3n_ops.contract.statuses import MAINTENANCE_STATUSES
from g3n_ops_client.cli.common import Run, ops_command, resolve_secret, secret_code_option, stdout


def _say(text: str) -> None:
    stdout.print(text, markup=False)  # records hold free text: never read it as rich markup


def _status_line(record: dict) -> str:
    status = record["status"].upper()
    if record.get("overrunning") and record["status"] == "active":
        status += " (OVERRUNNING)"
    return status


def scope_line(document: dict) -> str:
    """Which services a window affects and what still passes, in a line."""
    services = document.get("services")
    line = ", ".join(services) if services else "all API services"
    methods = document.get("allowMethods")
    if methods:
        line += f"; read-only maintenance ({', '.join(methods)} still answer)"
    return line


def render_record(record: dict) -> None:
    """One window: what, when, where it stands, its updates and its history."""
    _say(f"maintenance {record['maintenanceId']}: {_status_line(record)}")
    _say(f"  description  {record['description']}")
    auto = "auto-end" if record.get("autoEnd") else "no auto-end (flagged overrunning if still active)"
    _say(f"  start        {record['start']} for {record['duration']} s, {auto}")
    _say(f"  scope        {scope_line(record)}")
    if "bypassToken" in record:
        _render_bypass(record["bypassToken"])
    elif record.get("bypass") and record["status"] in ("scheduled", "active"):
        _say("  bypass       an operator bypass token exists (shown once, when it was issued)")
    elif record.get("bypass"):
        _say("  bypass       an operator bypass was issued; it ended with the window")
    if record.get("startedAt"):
        _say(f"  started      {record['startedAt']} (expected end {record.get('expectedEnd')})")
    if record.get("endedAt"):
        _say(f"  ended        {record['endedAt']}: {record.get('endMessage') or ''}")
    if record.get("cancelledAt"):
        _say(f"  cancelled    {record['cancelledAt']}")
    _render_effect(record)
    updates = record.get("updates") or []
    if updates:
        _say(f"  updates ({len(updates)}):")
        for update in updates:
            _say(f"    {update['at']}  {update['text']}")
    _say("  history:")
    for entry in record.get("history") or []:
        line = f"    {entry['at']}  {entry['action']:<9} {entry.get('from') or '—'} → {entry['to']}"
        line += f"  by {entry.get('source') or '?'}"
        if entry.get("message"):
            line += f": {entry['message']}"
        _say(line)


def _render_bypass(token: str | None) -> None:
    if token is None:
        _say(
            "  bypass       issued by the first attempt of this request and not shown again; "
            "get a new one with maintenance-update --rotate-bypass"
        )
        return
    _say(f"  bypass token {token}")
    _say(
        "               shown this once: send it as X-G3N-Maintenance-Bypass to pass the 503 on the "
        "affected services while the window is active (it ends with the window)"
    )


def _render_effect(record: dict) -> None:
    """What the probes proved: when each API service answered 503 (and recovered), or which never did."""
    for per_service, all_done, missing, verb in (
        ("effectiveAt", "allBlockedAt", "notEffective", "blocked"),
        ("recoveredAt", "allRecoveredAt", "notRecovered", "recovered"),
    ):
        seen = record.get(per_service) or {}
        if record.get(all_done):
            _say(f"  {verb:<12} every API service by {record[all_done]} ({len(seen)} probed)")
        elif record.get(missing):
            _say(f"  {verb:<12} NOT on {', '.join(record[missing])} ({len(seen)} services were)")
        elif seen:
            _say(f"  {verb:<12} {len(seen)} API services so far")
    if record.get("notEffective"):
        _say("  not effective: those services kept serving during the window (see the playbook)")
    if record.get("othersUnaffected"):
        _say(f"  others       every service outside the window kept answering ({record['othersUnaffected']})")
    elif record.get("collateral"):
        _say(f"  COLLATERAL   {', '.join(record['collateral'])}: outside the window, yet not answering")


def render_page(page: dict) -> None:
    items = page["items"]
    if not items:
        stdout.print("no maintenance windows")
    else:
        table = Table()
        for column in ("maintenance id", "status", "start", "duration"):
            table.add_column(column, no_wrap=True)  # ids and times must stay copyable
        table.add_column("description")
        for record in items:
            table.add_row(
                record["maintenanceId"],
                "overrunning"
                if record["status"] == "active" and record.get("overrunning")
                else record["status"],
                record["start"],
                f"{record['duration']} s",
                Text(record["description"]),
            )
        stdout.print(table)
    if page.get("nextToken"):
        stdout.print("more: pass --next-token " + page["nextToken"], markup=False)


bypass_option = click.option(
    "--bypass",
    is_flag=True,
    help="Issue an operator bypass token (printed once): requests with X-G3N-Maintenance-Bypass: "
    "<token> pass the 503 on the affected services while the window is active.",
)


def register(ops: click.Group) -> None:
    @ops_command(ops, "maintenance-list")
    @click.option(
        "--status", type=click.Choice(MAINTENANCE_STATUSES), default=None, help="Only windows in this status."
    )
    @click.option("--limit", type=click.IntRange(1, 100), default=None, help="At most this many (a page).")
    @click.option("--next-token", default=None, help="Continue from the previous page.")
    def maintenance_list(run: Run, status: str | None, limit: int | None, next_token: str | None) -> None:
        """Maintenance windows, newest first."""
        run.emit(run.client.maintenance.list(status=status, limit=limit, next_token=next_token), render_page)

    @ops_command(ops, "maintenance-get")
    @click.option("--maintenance-id", required=True, help="The window's id (mw-…).")
    def maintenance_get(run: Run, maintenance_id: str) -> None:
        """One window with its updates and full history."""
        run.emit(run.client.maintenance.get(maintenance_id), render_record)

    @ops_command(ops, "maintenance-schedule")
    @secret_code_option
    @click.option("--description", required=True, help="What the window is for (API callers see it).")
    @click.option(
        "--duration", type=int, required=True, metavar="SECONDS", help="Planned length, 5 s to 7 days."
    )
    @click.option(
        "--start",
        required=True,
        metavar="ISO8601",
        help="Start time with a timezone, e.g. 2026-12-01T02:00:00Z.",
    )
    @click.option(
        "--auto-end", is_flag=True, help="End it after the duration (otherwise it is flagged overrunning)."
    )
    @click.option(
        "--services",
        default=None,
        metavar="CODES",
        help="Only these API services answer 503, e.g. pay,ord (default: all 14).",
    )
    @click.option(
        "--allow-methods",
        default=None,
        metavar="METHODS",
        help="HTTP methods that still pass, e.g. GET,HEAD (read-only maintenance).",
    )
    @bypass_option
    def maintenance_schedule(
        run: Run,
        secret_code: str | None,
        description: str,
        duration: int,
        start: str,
        auto_end: bool,
        services: str | None,
        allow_methods: str | None,
        bypass: bool,
    ) -> None:
        """Schedule a window: from its start the API services (all 14, or --services) answer 503."""
        secret = resolve_secret(secret_code)
        run.emit(
            run.client.maintenance.schedule(
                secret,
                description,
                duration,
                start,
                auto_end=auto_end,
                services=services,
                allow_methods=allow_methods,
                bypass=bypass,
            ),
            render_record,
        )

    @ops_command(ops, "maintenance-start")
    @secret_code_option
    @click.option("--maintenance-id", required=True, help="The scheduled window to start now.")
    @bypass_option
    def maintenance_start(run: Run, secret_code: str | None, maintenance_id: str, bypass: bool) -> None:
        """Start a scheduled window now, before its start time."""
        secret = resolve_secret(secret_code)
        run.emit(run.client.maintenance.start(secret, maintenance_id, bypass=bypass), render_record)

    @ops_command(ops, "maintenance-update")
    @secret_code_option
    @click.option("--text", default=None, help="The update, as API callers will read it.")
    @click.option(
        "--rotate-bypass",
        is_flag=True,
        help="Issue a new operator bypass token (printed once) and void the old one.",
    )
    def maintenance_update(run: Run, secret_code: str | None, text: str | None, rotate_bypass: bool) -> None:
        """Post an update on the active window (503 answers and ping carry the latest), and/or
        rotate its operator bypass."""
        if text is None and not rotate_bypass:
            raise click.UsageError("give --text, --rotate-bypass, or both")
        secret = resolve_secret(secret_code)
        run.emit(run.client.maintenance.update(secret, text, rotate_bypass=rotate_bypass), render_record)

    @ops_command(ops, "maintenance-end")
    @secret_code_option
    @click.option("--end-message", required=True, help="Closing note, kept in the window's history.")
    def maintenance_end(run: Run, secret_code: str | None, end_message: str) -> None:
        """End the active window: services recover within their 20 s cache."""
        run.emit(run.client.maintenance.end(resolve_secret(secret_code), end_message), render_record)

    @ops_command(ops, "maintenance-cancel")
    @secret_code_option
    @click.option("--maintenance-id", required=True, help="The scheduled window to cancel.")
    def maintenance_cancel(run: Run, secret_code: str | None, maintenance_id: str) -> None:
        """Cancel a window that has not started (an active one is ended with maintenance-end)."""
        run.emit(run.client.maintenance.cancel(resolve_secret(secret_code), maintenance_id), render_record)
