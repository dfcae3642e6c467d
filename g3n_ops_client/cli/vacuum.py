"""``g3n ops vacuum-all | vacuum-org | vacuum-cancel | vacuum-resume | vacuum-status | vacuum-list |
vacuum-events``."""

from __future__ import annotations

import json
import sys

import click
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from g3n_ops_client.cli.common import Run, ops_command, resolve_secret, secret_code_option, stdout

COUNTER_COLUMNS = (
    ("items", "items", str),
    ("objects", "objects", str),
    ("bytes", "bytes", decimal),
    ("uploads", "uploads", str),
    ("logStreams", "log streams", str),
)
STATUSES = ("pending", "running", "cancelling", "failing", "completed", "cancelled", "failed")
_TIMES = (("createdAt", "created"), ("startedAt", "started"), ("finishedAt", "finished"))


dry_run_id_option = click.option(
    "--dry-run-id",
    default=None,
    metavar="V",
    help="The completed dry-run this real run is bound to (default: the newest matching one, "
    "at most 24 h old).",
)


# -- text output ---------------------------------------------------------------------------------
def _headline(record: dict) -> str:
    scope = "all data" if record["scope"] == "all" else f"org {record.get('orgcode')}"
    dry = " (dry-run: counts what would be deleted, deletes nothing)" if record.get("dryRun") else ""
    return f"vacuum {record['vacuumId']} · {scope}{dry} · {record['status']}"


def _counts(entry: dict) -> str:
    parts = []
    for field, label, shown in COUNTER_COLUMNS:
        if field in entry:
            parts.append(f"{label} {shown(int(entry[field]))}")
    return " · ".join(parts)


def stats_table(record: dict) -> Table:
    """Per service what went (or would go); for a real run bound to a dry-run, what the dry-run
    counted beside each counter."""
    services = record.get("stats", {}).get("services", {})
    counted = record.get("dryRunStats") or None
    fields = [column for column in COUNTER_COLUMNS if any(column[0] in s for s in services.values())]
    verb = "would delete" if record.get("dryRun") else "deleted"
    headers = []
    for _, label, _ in fields:
        headers += [label, "dry-run"] if counted else [label]  # each counter, then what was counted
    title = f"{verb} per service" + (f" (dry-run {record.get('dryRunId')} counted)" if counted else "")
    table = Table("service", *headers, "units done", title=title)

    def cells(entry: dict, dry: dict | None) -> list[str]:
        row = []
        for field, _, shown in fields:
            row.append(shown(int(entry.get(field, 0))))
            if counted:
                row.append(shown(int(dry[field])) if dry and field in dry else "-")
        return row

    dry_services = (counted or {}).get("services", {})
    for code, entry in services.items():
        done = f"{entry.get('unitsDone', 0)}/{entry.get('units', 0)}"
        table.add_row(code, *cells(entry, dry_services.get(code)), done)
    totals = record.get("stats", {}).get("totals", {})
    table.add_section()
    done = f"{totals.get('unitsDone', 0)}/{totals.get('units', 0)}"
    table.add_row("total", *cells(totals, (counted or {}).get("totals")), done)
    return table


def print_record(record: dict) -> None:
    stdout.print(_headline(record), markup=False)
    stdout.print(f"  reason: {record.get('reason')}", markup=False)
    if record.get("dryRunId"):
        stdout.print(f"  bound to dry-run {record['dryRunId']}", markup=False)
    if record.get("maintenanceId"):
        stdout.print(f"  under maintenance window {record['maintenanceId']}", markup=False)
    times = [f"{name} {record[key]}" for key, name in _TIMES if record.get(key)]
    stdout.print("  " + " · ".join(times), markup=False)
    error = record.get("error")
    if error:
        stdout.print(f"  error: {error.get('code')}: {error.get('message')}", markup=False)
    if record.get("stats", {}).get("services"):
        stdout.print(stats_table(record))


def print_requested(record: dict) -> None:
    print_record(record)
    vacuum_id = record["vacuumId"]
    if record["status"] == "pending" and not record.get("dryRun"):
        stdout.print(
            "It starts after the pending window. Cancel it with: "
            f"g3n ops vacuum-cancel --vacuum-id {vacuum_id}",
            markup=False,
        )
    stdout.print(f"Watch it with: g3n ops vacuum-status --vacuum-id {vacuum_id} --watch", markup=False)


# -- live progress -------------------------------------------------------------------------------
class LiveProgress:
    """One progress line per service (units done of units, with its counts) while a run goes."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.lines: dict[str, int] = {}
        self.status: str | None = None

    def __call__(self, record: dict) -> None:
        if record["status"] != self.status:
            self.status = record["status"]
            self.progress.console.print(_headline(record), markup=False)
        for code, entry in record.get("stats", {}).get("services", {}).items():
            if code not in self.lines:
                total = max(1, int(entry.get("units", 1)))
                self.lines[code] = self.progress.add_task(code, total=total, counts="")
            self.progress.update(
                self.lines[code], completed=int(entry.get("unitsDone", 0)), counts=_counts(entry)
            )


def follow(run: Run, vacuum_id: str, timeout: float) -> dict:
    """Poll the run until it ends; for people, with a live progress line per service."""
    if run.json:
        return run.client.vacuum.wait(vacuum_id, timeout=timeout)
    columns = (
        TextColumn("{task.description:>5}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} units"),
        TextColumn("{task.fields[counts]}"),
    )
    with Progress(*columns, console=stdout) as progress:
        return run.client.vacuum.wait(vacuum_id, timeout=timeout, on_update=LiveProgress(progress))


def print_page(page: dict) -> None:
    table = Table("vacuum id", "status", "scope", "dry-run", "created", "finished", "items", "reason")
    for run in page["items"]:
        scope = "all" if run["scope"] == "all" else f"org {run.get('orgcode')}"
        table.add_row(
            run["vacuumId"],
            run["status"],
            scope,
            "yes" if run.get("dryRun") else f"no (of {run.get('dryRunId') or '-'})",
            run.get("createdAt") or "",
            run.get("finishedAt") or "",
            str((run.get("totals") or {}).get("items", 0)),
            Text(run.get("reason") or ""),  # free text: never rich markup
        )
    stdout.print(table)
    if page.get("nextToken"):
        stdout.print(f"more: --next-token {page['nextToken']}", markup=False)


def _details(event: dict) -> str:
    """Whatever the action carries besides when/what/status, as key=value (any action)."""
    parts = []
    for key, value in event.items():
        if key in ("at", "action", "status") or value in (None, "", {}, []):
            continue
        shown = json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else value
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def print_events(document: dict) -> None:
    stdout.print(_headline(document), markup=False)
    for event in document["events"]:
        action, status = str(event.get("action")), event.get("status") or ""
        line = f"  {event.get('at')}  {action:<12} {status:<10} {_details(event)}"
        stdout.print(line.rstrip(), markup=False)
    if not document["events"]:
        stdout.print("  (no audit entries)", markup=False)


def register(ops: click.Group) -> None:
    @ops_command(ops, "vacuum-all")
    @secret_code_option
    @click.option("--reason", required=True, help="Why (kept on the record and in the audit).")
    @click.option(
        "--confirmation-phrase",
        required=True,
        metavar="PHRASE",
        help="Exactly: VACUUM ALL DATA PERMANENTLY",
    )
    @click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
    @dry_run_id_option
    @click.option(
        "--with-maintenance",
        is_flag=True,
        help="Open a maintenance window for the real run (services answer 503 while their data goes); "
        "it ends when the run ends. Refused with --dry-run or while another window is active.",
    )
    def vacuum_all(
        run: Run,
        secret_code,
        reason: str,
        confirmation_phrase: str,
        dry_run: bool,
        dry_run_id: str | None,
        with_maintenance: bool,
    ) -> None:
        """Purge ALL data of the stack: every service table, bucket (all versions) and log group's
        streams, after a pending window that vacuum-cancel can stop. OPS's own table is kept.
        A real run needs a completed vacuum-all dry-run first."""
        secret = resolve_secret(secret_code)
        record = run.client.vacuum.all(
            secret,
            reason,
            confirmation_phrase,
            dry_run,
            dry_run_id=dry_run_id,
            with_maintenance=with_maintenance,
        )
        run.emit(record, print_requested)

    @ops_command(ops, "vacuum-org")
    @secret_code_option
    @click.option(
        "--orgcode", required=True, help="The organisation, exactly as the platform writes it (e.g. TESTORG)."
    )
    @click.option("--reason", required=True, help="Why (kept on the record and in the audit).")
    @click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
    @dry_run_id_option
    def vacuum_org(
        run: Run, secret_code, orgcode: str, reason: str, dry_run: bool, dry_run_id: str | None
    ) -> None:
        """Purge one organisation's data from the org-scoped services (users and sessions are kept),
        after a pending window that vacuum-cancel can stop. A real run needs a completed dry-run
        of the same org first."""
        secret = resolve_secret(secret_code)
        record = run.client.vacuum.org(secret, orgcode, reason, dry_run, dry_run_id=dry_run_id)
        run.emit(record, print_requested)

    @ops_command(ops, "vacuum-cancel")
    @secret_code_option
    @click.option("--vacuum-id", required=True, help="The run to cancel (pending or running).")
    def vacuum_cancel(run: Run, secret_code, vacuum_id: str) -> None:
        """Cancel a vacuum: while pending nothing is deleted; a running one stops at its next
        checkpoint (within seconds) with exact partial stats."""
        run.emit(run.client.vacuum.cancel(resolve_secret(secret_code), vacuum_id), print_record)

    @ops_command(ops, "vacuum-resume")
    @secret_code_option
    @click.option("--vacuum-id", required=True, help="The failed run to continue.")
    def vacuum_resume(run: Run, secret_code, vacuum_id: str) -> None:
        """Continue a failed vacuum: same record and plan, each unit from its stored cursor, in a
        new execution (it takes the vacuum mutex)."""
        record = run.client.vacuum.resume(resolve_secret(secret_code), vacuum_id)
        run.emit(record, print_requested)

    @ops_command(ops, "vacuum-status")
    @click.option("--vacuum-id", required=True, help="The run.")
    @click.option("--watch", is_flag=True, help="Follow the run live until it ends (exit 1 if it failed).")
    @click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=6 * 3600,
        show_default=True,
        help="With --watch: give up after this many seconds.",
    )
    def vacuum_status(run: Run, vacuum_id: str, watch: bool, timeout: float) -> None:
        """A vacuum run: status and per-service stats (with --watch, live progress until it ends)."""
        record = follow(run, vacuum_id, timeout) if watch else run.client.vacuum.status(vacuum_id)
        run.emit(record, print_record)
        if watch and record["status"] == "failed":
            sys.exit(1)

    @ops_command(ops, "vacuum-list")
    @click.option("--status", type=click.Choice(STATUSES), default=None, help="Only runs in this status.")
    @click.option("--limit", type=click.IntRange(1, 100), default=None, help="At most this many (a page).")
    @click.option("--next-token", default=None, help="Continue from the previous page.")
    def vacuum_list(run: Run, status: str | None, limit: int | None, next_token: str | None) -> None:
        """Vacuum runs (dry-runs included), newest first, a page at a time."""
        run.emit(run.client.vacuum.list(status=status, limit=limit, next_token=next_token), print_page)

    @ops_command(ops, "vacuum-events")
    @click.option("--vacuum-id", required=True, help="The run.")
    def vacuum_events(run: Run, vacuum_id: str) -> None:
        """A run's trail in time order: every audit entry with its details (counts, reasons, errors)."""
        run.emit(run.client.vacuum.events(vacuum_id), print_events)
