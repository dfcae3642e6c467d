"""What the guard's cached decision costs per request, beside an uncached read of the state and
the stale-while-error path (reads failing, the last state served).

Runs on the embedded local stack (loopback DynamoDB: real AWS adds ~5-10 ms per read on top,
so the ratio here understates the saving). Usage: .venv/bin/python bench/guard_cache.py
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import statistics
import time
from collections.abc import Callable

import boto3
from botocore.exceptions import EndpointConnectionError

from g3n_maintenance_guard import MaintenanceGuard, maintenance_guard
from g3n_ops.store import maintenance_state
from g3n_ops.store import table as ops_table
from g3n_ops_client.local import LocalStack

REQUESTS = 2000
UNCACHED_REQUESTS = 200  # each is a real GetItem: fewer keep the bench short
ROUNDS = 5
EVENT = {"rawPath": "/orders", "requestContext": {"http": {"method": "GET", "path": "/orders"}}}


class Reads:
    """Counts the GetItem calls a guard sends, and can make them fail like an unreachable table."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.resource = boto3.session.Session().resource("dynamodb")
        events = self.resource.meta.client.meta.events
        events.register("before-call.dynamodb.GetItem", self._count)
        events.register("before-send.dynamodb.GetItem", self._maybe_fail)

    def _count(self, **_) -> None:
        self.calls += 1

    def _maybe_fail(self, request, **_) -> None:
        if self.failing:
            raise EndpointConnectionError(endpoint_url=request.url)


class Clock:
    """The monotonic clock, which the bench can move on (to age the cached state)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def time_requests(request: Callable[[], object], count: int) -> float:
    began = time.perf_counter()
    for _ in range(count):
        request()
    return (time.perf_counter() - began) / count


def handler_for(guard: MaintenanceGuard) -> Callable[[], object]:
    @maintenance_guard(guard=guard)
    def handler(event, context):
        return {"statusCode": 200, "body": "{}"}

    return lambda: handler(EVENT, None)


def cached(table: str, active: bool) -> tuple[float, int]:
    reads = Reads()
    guard = MaintenanceGuard(table, ttl_seconds=20, boto3_client=reads.resource)
    guard.unavailable("/orders")  # the one read per TTL; what follows is the cached decision
    per_request = time_requests(lambda: guard.unavailable("/orders"), REQUESTS)
    assert (guard.unavailable("/orders") is not None) == active
    return per_request, reads.calls


def cached_decorated(table: str) -> tuple[float, int]:
    reads = Reads()
    guard = MaintenanceGuard(table, ttl_seconds=20, boto3_client=reads.resource)
    request = handler_for(guard)
    request()
    return time_requests(request, REQUESTS), reads.calls


def uncached(table: str) -> tuple[float, int]:
    reads = Reads()
    guard = MaintenanceGuard(table, ttl_seconds=0, boto3_client=reads.resource)
    return time_requests(lambda: guard.unavailable("/orders"), UNCACHED_REQUESTS), reads.calls


def stale_while_error(table: str) -> tuple[float, int]:
    """One good read, then the table becomes unreachable and the TTL runs out: one request pays
    the failed read, the rest are answered from the last state (still inside 3 TTLs)."""
    reads, clock = Reads(), Clock()
    guard = MaintenanceGuard(table, ttl_seconds=20, boto3_client=reads.resource, clock=clock)
    guard.unavailable("/orders")
    reads.failing, clock.offset = True, 21.0
    with contextlib.redirect_stdout(io.StringIO()):  # the GuardStaleServed EMF line
        guard.unavailable("/orders")
    per_request = time_requests(lambda: guard.unavailable("/orders"), REQUESTS)
    assert guard.unavailable("/orders") is not None  # the active window, served stale
    return per_request, reads.calls


def put_state(table: str, state: dict) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table, Item=ops_table.serialize(maintenance_state.item(state))
    )


def main() -> None:
    logging.getLogger("g3n_maintenance_guard").setLevel(logging.ERROR)  # the stale-while-error warnings
    stack = LocalStack(port=0, secret_code="bench-secret-code-01")
    stack.start()
    try:
        table = stack.provisioner.table_name
        active = {
            "active": True,
            "maintenanceId": "mw-20261201-3f2a9c1d",
            "description": "Database upgrade",
            "latestUpdate": None,
            "startedAt": "2026-12-01T02:00:00.000Z",
            "expectedEnd": "2099-12-01T03:00:00.000Z",
            "overrunning": False,
        }
        cases: dict[str, Callable[[], tuple[float, int]]] = {
            "cached, no window": lambda: cached(table, active=False),
            "cached, no window, via @maintenance_guard": lambda: cached_decorated(table),
            "cached, window active (503)": lambda: cached(table, active=True),
            "stale-while-error (reads failing)": lambda: stale_while_error(table),
            "uncached (TTL 0), no window": lambda: uncached(table),
        }
        needs_window = {"cached, window active (503)", "stale-while-error (reads failing)"}
        samples: dict[str, list[float]] = {label: [] for label in cases}
        reads: dict[str, int] = {}
        for _ in range(ROUNDS):  # interleaved so machine noise hits every case alike
            for label, case in cases.items():
                put_state(table, active if label in needs_window else {"active": False})
                per_request, reads[label] = case()
                samples[label].append(per_request)
        medians = {label: statistics.median(values) * 1e6 for label, values in samples.items()}
        uncached_micros = medians["uncached (TTL 0), no window"]
        print(
            f"median of {ROUNDS} interleaved rounds ({REQUESTS} requests a case,"
            f" {UNCACHED_REQUESTS} uncached);"
            " cached cases after their one read per TTL"
        )
        print(f"  {'case':42} {'µs/request':>10} {'GetItem':>8} {'uncached/this':>14}")
        for label, micros in medians.items():
            print(f"  {label:42} {micros:10.2f} {reads[label]:8} {uncached_micros / micros:13.0f}x")
        print(json.dumps({label: round(micros, 2) for label, micros in medians.items()}))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
