"""Every playbook end to end on a freshly seeded embedded local stack (``make demo``).

It drives OPS only through the client library the CLI and MCP server use, prints what an
operator would see, and checks each step: a misbehaving step raises ``DemoFailure`` and the
command exits non-zero.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from g3n_ops.contract import discovery
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local import LocalStack

GUARD_TTL_SECONDS = 20  # the guard's cache: services flip within this (+ a little)
VACUUM_ALL_PHRASE = "VACUUM ALL DATA PERMANENTLY"

console = Console(highlight=False)


class DemoFailure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise DemoFailure(message)


def wait_for(what: str, predicate: Callable[[], object], timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoFailure(f"{what}: not within {timeout:.0f}s")
        time.sleep(interval)


def _status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class Demo:
    def __init__(self, stack: LocalStack, manifest: dict) -> None:
        self.stack = stack
        self.manifest = manifest
        self.client = OpsClient(ClientConfig(endpoint_url=stack.endpoint_url, source="cli"))
        self.secret = stack.secret_code
        self.services_url = self.client.parameter(discovery.LOCAL_SERVICES_URL)
        self.api_codes = [service.code for service in self.client.registry().api_services]

    # -- helpers ---------------------------------------------------------------------------------
    def step(self, title: str) -> None:
        console.print(Rule(f"[bold]{title}"))

    def service_statuses(self) -> dict[str, int]:
        with ThreadPoolExecutor(max_workers=7) as pool:
            codes = list(
                pool.map(lambda code: _status_of(f"{self.services_url}/{code}/health"), self.api_codes)
            )
        return dict(zip(self.api_codes, codes, strict=True))

    def print_services(self, statuses: dict[str, int]) -> None:
        console.print("  services: " + "  ".join(f"{code} {status}" for code, status in statuses.items()))

    def print_vacuum(self, record: dict) -> None:
        verb = "would delete" if record.get("dryRun") else "deleted"
        table = Table(
            "service",
            f"items {verb}",
            "objects",
            "bytes",
            "log streams",
            title=f"vacuum {record['vacuumId']}",
        )
        for code, stats in sorted(record["stats"]["services"].items()):
            table.add_row(
                code,
                str(stats.get("items", 0)),
                str(stats.get("objects", 0)),
                str(stats.get("bytes", 0)),
                str(stats.get("logStreams", 0)),
            )
        totals = record["stats"]["totals"]
        table.add_row(
            "[bold]total",
            str(totals.get("items", 0)),
            str(totals.get("objects", 0)),
            str(totals.get("bytes", 0)),
            str(totals.get("logStreams", 0)),
        )
        console.print(table)

    def expected_org_items(self, org: str) -> int:
        cross_org = {t.name for s in self.client.registry().services if not s.org_scoped for t in s.tables}
        return sum(per_org[org] for name, per_org in self.manifest["tables"].items() if name not in cross_org)

    def table_counts(self) -> dict[str, int]:
        stat = self.client.stat()
        return {name: count for s in stat["services"].values() for name, count in s["tables"].items()}

    # -- playbooks -------------------------------------------------------------------------------
    def health(self) -> None:
        self.step("1. Health and registry")
        ping = self.client.ping()
        check(ping["status"] == "ok" and not ping["maintenance"]["active"], f"unexpected ping: {ping}")
        services = self.client.services()["services"]
        tables = sum(len(s["tables"]) for s in services)
        console.print(
            f"  OPS {ping['status']} on stage {ping['stage']}: {len(services)} services, "
            f"{len(self.api_codes)} behind the API, {tables} tables"
        )
        check(len(self.api_codes) == 14 and tables == 20, "registry must list 14 API services and 20 tables")
        statuses = self.service_statuses()
        self.print_services(statuses)
        check(set(statuses.values()) == {200}, "every stand-in service should answer 200 before maintenance")

    def maintenance(self) -> None:
        self.step("2. Maintenance window: schedule → start → update → end")
        start = (
            (datetime.now(UTC) + timedelta(seconds=3)).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
        record = self.client.maintenance.schedule(self.secret, "Demo: database upgrade", 600, start)
        window = record["maintenanceId"]
        console.print(f"  scheduled {window} to start at {start} (status {record['status']})")
        wait_for(
            "the state machine starts the window",
            lambda: self.client.maintenance.get(window)["status"] == "active",
            timeout=30,
        )
        console.print("  the lifecycle state machine started it on time")
        began = time.monotonic()
        wait_for(
            "all 14 services answer 503",
            lambda: set(self.service_statuses().values()) == {503},
            timeout=GUARD_TTL_SECONDS + 5,
            interval=1,
        )
        console.print(
            f"  all 14 services answer 503 after {time.monotonic() - began:.1f}s (guard cache TTL 20s)"
        )
        self.client.maintenance.update(self.secret, "Migration 60% done, on schedule")
        ping = self.client.ping()
        check(
            ping["maintenance"].get("latestUpdate", {}).get("text") == "Migration 60% done, on schedule",
            "ping should show the latest update",
        )
        console.print(
            f"  ping: active {ping['maintenance']['maintenanceId']}, "
            f"latest update '{ping['maintenance']['latestUpdate']['text']}'"
        )
        ended = self.client.maintenance.end(self.secret, "Upgrade complete")
        check(ended["status"] == "ended", f"end should leave the window ended, got {ended['status']}")
        began = time.monotonic()
        wait_for(
            "all 14 services answer 200 again",
            lambda: set(self.service_statuses().values()) == {200},
            timeout=GUARD_TTL_SECONDS + 5,
            interval=1,
        )
        console.print(f"  all 14 services recovered after {time.monotonic() - began:.1f}s")
        history = self.client.maintenance.get(window)["history"]
        for entry in history:
            console.print(
                f"    {entry.get('at')}  {entry.get('from') or '-'} → {entry.get('to')}  "
                f"({entry.get('source')}) {entry.get('message') or ''}"
            )
        check(
            [entry["to"] for entry in history][-2:] == ["active", "ended"],
            "history should end active → ended",
        )

    def vacuum_org(self, org: str = "TESTORG") -> None:
        self.step(f"3. Vacuum one organisation ({org}): dry-run, then the real run")
        before = self.table_counts()
        dry = self.client.vacuum.org(self.secret, org, "demo: reset the TESTORG org", dry_run=True)
        dry = self.client.vacuum.wait(dry["vacuumId"], timeout=120)
        check(dry["status"] == "completed", f"dry-run ended {dry['status']}: {dry.get('error')}")
        self.print_vacuum(dry)
        expected = self.expected_org_items(org)
        check(
            dry["stats"]["totals"]["items"] == expected,
            f"dry-run should count {expected} items, counted {dry['stats']['totals']['items']}",
        )
        check(self.table_counts() == before, "a dry-run must not delete anything")
        real = self.client.vacuum.org(self.secret, org, "demo: reset the TESTORG org")
        check(
            real.get("dryRunId") == dry["vacuumId"], "the real run must be bound to the dry-run just reviewed"
        )
        console.print(
            f"  {real['vacuumId']} is {real['status']} (bound to dry-run {real['dryRunId']}): "
            "cancellable until the pending window ends"
        )
        real = self.client.vacuum.wait(real["vacuumId"], timeout=180)
        check(real["status"] == "completed", f"vacuum-org ended {real['status']}: {real.get('error')}")
        self.print_vacuum(real)
        check(
            real["stats"]["totals"]["items"] == expected,
            "the real run must delete exactly what the dry-run counted",
        )
        after = self.table_counts()
        check(sum(before.values()) - sum(after.values()) == expected, "only the org's items may go")
        console.print(
            f"  {expected} items of {org} deleted; other organisations and users/sessions untouched"
        )

    def vacuum_all_cancelled(self) -> None:
        self.step("4. Vacuum all: dry-run, then a real run cancelled during the pending window")
        try:
            self.client.vacuum.all(self.secret, "demo: no dry-run yet", VACUUM_ALL_PHRASE)
            raise DemoFailure("a real vacuum-all without a dry-run must be refused")
        except OpsClientError as error:
            check(error.code == "dry-run-required", f"unexpected error {error.code}")
            console.print(f"  a real run before any dry-run: error: {error.code}")
        dry = self.client.vacuum.all(self.secret, "demo: what would go", VACUUM_ALL_PHRASE, dry_run=True)
        dry = self.client.vacuum.wait(dry["vacuumId"], timeout=180)
        check(dry["status"] == "completed", f"vacuum-all dry-run ended {dry['status']}: {dry.get('error')}")
        self.print_vacuum(dry)
        record = self.client.vacuum.all(self.secret, "demo: cancelled", VACUUM_ALL_PHRASE)
        check(record.get("dryRunId") == dry["vacuumId"], "the real run must be bound to the dry-run")
        cancelled = self.client.vacuum.cancel(self.secret, record["vacuumId"])
        check(
            cancelled["status"] == "cancelled", f"cancel should leave it cancelled, got {cancelled['status']}"
        )
        console.print(f"  {record['vacuumId']}: {cancelled['status']}, nothing deleted")
        try:
            self.client.vacuum.cancel(self.secret, record["vacuumId"])
            raise DemoFailure("a second cancel must be refused")
        except OpsClientError as error:
            check(error.code == "vacuum-not-cancellable", f"unexpected error {error.code}")
            console.print(f"  cancelling again: error: {error.code}")

    def vacuum_all(self) -> None:
        self.step("5. Vacuum all to completion")
        record = self.client.vacuum.all(self.secret, "demo: wipe the dev stack", VACUUM_ALL_PHRASE)
        record = self.client.vacuum.wait(record["vacuumId"], timeout=240)
        check(record["status"] == "completed", f"vacuum-all ended {record['status']}: {record.get('error')}")
        self.print_vacuum(record)
        remaining = self.table_counts()
        check(all(count == 0 for count in remaining.values()), f"tables not empty: {remaining}")
        console.print("  every service table, bucket and log group is empty; OPS's own records survive")
        windows = self.client.maintenance.list()["items"]
        check(len(windows) >= 1, "the maintenance record must survive vacuum-all")

    def run(self) -> None:
        self.health()
        self.maintenance()
        self.vacuum_org()
        self.vacuum_all_cancelled()
        self.vacuum_all()


def run_demo(*, pending_seconds: int = 3, iam: str = "enforce") -> int:
    began = time.monotonic()
    stack = LocalStack(port=0, pending_seconds=pending_seconds, iam=iam)
    console.print(f"starting the embedded local stack (vacuum pending window {pending_seconds}s)…")
    stack.start(seed=False)
    try:
        manifest = stack.reset(seed=True)
        console.print(f"  on {stack.endpoint_url}, seeded orgs {', '.join(manifest['orgs'])}")
        Demo(stack, manifest).run()
    except (DemoFailure, OpsClientError) as error:
        console.print(f"[bold red]DEMO FAILED[/]: {error}")
        return 1
    finally:
        stack.stop()
    console.print(Rule(f"[bold green]all playbooks ran clean in {time.monotonic() - began:.0f}s"))
    return 0
