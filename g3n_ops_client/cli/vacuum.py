"""``g3n ops vacuum-all | vacuum-org | vacuum-cancel | vacuum-resume | vacuum-status``."""

from __future__ import annotations

import sys

import click
from rich.filesize import decimal
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table

from g3n_ops_client.cli.common import Run, ops_command, resolve_secret, secret_code_option, stdout

COUNTER_COLUMNS = (
    ("items", "items", str),
    ("objects", "objects", str),
    ("bytes", "bytes", decimal),
    ("logStreams", "log streams", str),
    ("logBytes", "log bytes", decimal),
)
_TIMES = (("createdAt", "created"), ("startedAt", "started"), ("finishedAt", "finished"))


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
    services = record.get("stats", {}).get("services", {})
    fields = [column for column in COUNTER_COLUMNS if any(column[0] in s for s in services.values())]
    verb = "would delete" if record.get("dryRun") else "deleted"
    table = Table("service", *(label for _, label, _ in fields), "units done", title=f"{verb} per service")
    for code, entry in services.items():
        done = f"{entry.get('unitsDone', 0)}/{entry.get('units', 0)}"
        table.add_row(code, *(shown(int(entry.get(field, 0))) for field, _, shown in fields), done)
    totals = record.get("stats", {}).get("totals", {})
    table.add_section()
    done = f"{totals.get('unitsDone', 0)}/{totals.get('units', 0)}"
    table.add_row("total", *(shown(int(totals.get(field, 0))) for field, _, shown in fields), done)
    return table


def print_record(record: dict) -> None:
    stdout.print(_headline(record), markup=False)
    stdout.print(f"  reason: {record.get('reason')}", markup=False)
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
    def vacuum_all(run: Run, secret_code, reason: str, confirmation_phrase: str, dry_run: bool) -> None:
        """Purge ALL data of the stack: every service table, bucket (all versions) and log group's
        streams, after a pending window that vacuum-cancel can stop. OPS's own table is kept."""
        record = run.client.vacuum.all(resolve_secret(secret_code), reason, confirmation_phrase, dry_run)
        run.emit(record, print_requested)

    @ops_command(ops, "vacuum-org")
    @secret_code_option
    @click.option(
        "--orgcode", required=True, help="The organisation, exactly as the platform writes it (e.g. TESTORG)."
    )
    @click.option("--reason", required=True, help="Why (kept on the record and in the audit).")
    @click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
    def vacuum_org(run: Run, secret_code, orgcode: str, reason: str, dry_run: bool) -> None:
        """Purge one organisation's data from the org-scoped services (users and sessions are kept),
        after a pending window that vacuum-cancel can stop."""
        record = run.client.vacuum.org(resolve_secret(secret_code), orgcode, reason, dry_run)
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
