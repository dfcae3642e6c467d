"""``g3n ops vacuum-all | vacuum-org | vacuum-cancel | vacuum-resume | vacuum-status | vacuum-list |
vacuum-events``."""

from __future__ import annotations

import json
import sys

import click
from rich import box
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from g3n_ops.contract.statuses import VACUUM_STATUSES
from g3n_ops_client.cli.common import Run, ops_command, resolve_secret, secret_code_option, stdout

COUNTER_COLUMNS = (
    ("items", "items", str),
    ("objects", "objects", str),
    ("bytes", "bytes", decimal),
    ("uploads", "uploads", str),
    ("logStreams", "log streams", str),
)
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
    if record.get("slowestUnits"):
        stdout.print(slowest_table(record["slowestUnits"]))


def duration(seconds: float) -> str:
    """A unit's elapsed time, short: 0.8s, 42.0s, 3m07s, 2h05m."""
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def compact_counts(counts: dict | None) -> str:
    """``items=12 objects=3 bytes=4096``: the counters first, in the stats' order; zeros left out."""
    order = [field for field, _, _ in COUNTER_COLUMNS]
    shown = [(name, value) for name, value in (counts or {}).items() if value not in (0, None)]
    shown.sort(key=lambda pair: (order.index(pair[0]) if pair[0] in order else len(order), pair[0]))
    return " ".join(f"{name}={value}" for name, value in shown) or "-"


def slowest_table(units: list[dict]) -> Table:
    """The units that took longest (from their unit-done entries), slowest first."""
    table = Table("unit", "service", "elapsed", "counts", title="slowest units")
    for unit in units:
        table.add_row(
            Text(str(unit.get("unit") or unit.get("unitId"))),
            Text(str(unit.get("service") or "")),
            duration(unit.get("elapsedSeconds") or 0),
            Text(compact_counts(unit.get("counts"))),
        )
    return table


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


# An event's own columns; anything else it carries goes to "details".
_EVENT_COLUMNS = ("at", "action", "status", "service", "unit", "unitId", "counts", "totals", "elapsedSeconds")


def _where(event: dict) -> str:
    """The service or unit an event is about (unit-done: both)."""
    parts = [str(event[key]) for key in ("service", "unit") if event.get(key)]
    return " ".join(parts)


def _details(event: dict) -> str:
    """Whatever the action carries besides its columns, as key=value (any action): a list as its
    length (``units=22``), an error as ``code: message``, other objects as compact JSON."""
    parts = []
    for key, value in event.items():
        if key in _EVENT_COLUMNS or value in (None, "", {}, []):
            continue
        if key == "startedAt" and event.get("action") == "unit-done":
            continue  # its elapsed time says it
        if isinstance(value, list):
            shown = str(len(value))
        elif key.endswith("Digest") and isinstance(value, str):
            shown = value[:12] + "…"  # enough to compare; --output json has it whole
        elif isinstance(value, dict) and key == "error" and "code" in value:
            shown = f"{value.get('code')}: {value.get('message')}"
        elif isinstance(value, dict):
            shown = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
        else:
            shown = value
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def print_events(document: dict) -> None:
    """One page of the trail as a table, a row an entry: time, event, status (where it changed),
    service or unit, counts (a unit's, or the run's totals at its end), elapsed time (unit-done),
    details. Times are UTC; when the page is all one day, the day is said once above it."""
    stdout.print(_headline(document), markup=False)
    events = document["events"]
    days = {str(event.get("at") or "")[:10] for event in events}
    one_day = len(days) == 1 and all(len(str(event.get("at") or "")) > 11 for event in events)
    if one_day:
        stdout.print(f"  {days.pop()} (UTC)", markup=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header, fixed, min_width in (
        ("time", True, None),
        ("event", True, None),
        ("status", True, None),
        ("service / unit", False, 12),
        ("counts", False, 12),
        ("elapsed", True, None),
        ("details", False, 10),
    ):
        # A narrow terminal wraps the free columns' cells; it never cuts one short.
        table.add_column(header, no_wrap=fixed, overflow="fold", min_width=min_width)
    previous = None
    for event in events:
        at = str(event.get("at") or "")
        status = event.get("status") or ""
        counts = event.get("counts", event.get("totals"))
        elapsed = event.get("elapsedSeconds")
        table.add_row(
            at[11:].rstrip("Z") if one_day else at,
            Text(str(event.get("action"))),
            Text(str(status) if status != previous else ""),  # said where it changes
            Text(_where(event)),
            Text(compact_counts(counts) if isinstance(counts, dict) else ""),
            duration(elapsed) if elapsed is not None else "",
            Text(_details(event)),
        )
        previous = status
    if events:
        stdout.print(table)
    else:
        stdout.print("  (no audit entries)", markup=False)
    if document.get("nextToken"):
        stdout.print(f"more: --next-token {document['nextToken']}", markup=False)


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
        """A vacuum run: status, per-service stats and its slowest units (with --watch, live
        progress until it ends)."""
        if watch:
            record = follow(run, vacuum_id, timeout)
        else:  # people see the slowest units so far; JSON has them once the run has ended
            record = run.client.vacuum.status(vacuum_id, slowest_units=not run.json)
        run.emit(record, print_record)
        if watch and record["status"] == "failed":
            sys.exit(1)

    @ops_command(ops, "vacuum-list")
    @click.option(
        "--status", type=click.Choice(VACUUM_STATUSES), default=None, help="Only runs in this status."
    )
    @click.option("--limit", type=click.IntRange(1, 100), default=None, help="At most this many (a page).")
    @click.option("--next-token", default=None, help="Continue from the previous page.")
    def vacuum_list(run: Run, status: str | None, limit: int | None, next_token: str | None) -> None:
        """Vacuum runs (dry-runs included), newest first, a page at a time."""
        run.emit(run.client.vacuum.list(status=status, limit=limit, next_token=next_token), print_page)

    @ops_command(ops, "vacuum-events")
    @click.option("--vacuum-id", required=True, help="The run.")
    @click.option(
        "--limit", type=click.IntRange(1, 500), default=None, help="At most this many (a page; default 100)."
    )
    @click.option("--next-token", default=None, help="Continue from the previous page.")
    def vacuum_events(run: Run, vacuum_id: str, limit: int | None, next_token: str | None) -> None:
        """A run's trail in time order, a page at a time: every audit entry with its details
        (per unit: counts and elapsed time; reasons, errors)."""
        document = run.client.vacuum.events(vacuum_id, limit=limit, next_token=next_token)
        run.emit(document, print_events)
