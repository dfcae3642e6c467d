"""What the guard's cached decision costs per request, beside an uncached read of the state and
the stale-while-error path (reads failing, the last state served); and, in the same run, the
narrower windows of issue 18: a request carrying the operator bypass header (hashed and compared
in constant time), a read-only window's method rule (GET through, POST 503) and a window scoped to
other services. Each must stay under 1 µs, with one read per TTL like the others.

Runs on the embedded local stack (loopback DynamoDB: real AWS adds ~5-10 ms per read on top,
so the ratio here understates the saving). Usage: .venv/bin/python bench/guard_cache.py
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import statistics
import time
from collections.abc import Callable

import boto3
from botocore.exceptions import EndpointConnectionError

from g3n_maintenance_guard import BYPASS_HEADER, MaintenanceGuard, maintenance_guard
from g3n_ops.store import maintenance_state
from g3n_ops.store import table as ops_table
from g3n_ops_client.local import LocalStack

REQUESTS = 2000
UNCACHED_REQUESTS = 200  # each is a real GetItem: fewer keep the bench short
ROUNDS = 5
EVENT = {"rawPath": "/orders", "requestContext": {"http": {"method": "GET", "path": "/orders"}}}
TOKEN = "Zq3v9yK8bX1r_Tn4-Wm0pLd7Hs2Jf6Gc5Ve8Ua1Qb3"  # the shape OPS issues (43 characters)
# What API Gateway's HTTP API hands a function: lowercased names, a dozen of them.
HEADERS = {
    "accept": "application/json",
    "content-length": "0",
    "host": "api.example.com",
    "user-agent": "curl/8.5.0",
    "x-amzn-trace-id": "Root=1-6751e2c4-3f2a9c1d0b7e4f6a8c2d5e10",
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
}
BYPASS_EVENT = {**EVENT, "version": "2.0", "headers": {**HEADERS, BYPASS_HEADER.lower(): TOKEN}}


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


def http_event(method: str, headers: dict) -> dict:
    """An HTTP API (payload 2.0) event, as the services' handlers get them."""
    return {
        "version": "2.0",
        "rawPath": "/orders",
        "headers": headers,
        "requestContext": {"http": {"method": method, "path": "/orders"}},
    }


def narrowed(
    table: str, *, method: str = "GET", headers: dict | None = None, code: str = "ord", passes: bool
) -> tuple[float, int]:
    """A cached decision of a narrower window on an HTTP API event (what both adapters decide
    on): ``passes`` says whether the request goes through."""
    reads = Reads()
    guard = MaintenanceGuard(table, ttl_seconds=20, boto3_client=reads.resource, service=code)
    event = http_event(method, HEADERS if headers is None else headers)
    request = lambda: guard.event_unavailable(event)  # noqa: E731
    with contextlib.redirect_stdout(io.StringIO()):  # the GuardBypassed EMF lines (one per 10 s)
        request()
        per_request = time_requests(request, REQUESTS)
        assert (request() is None) == passes
    return per_request, reads.calls


def fresh_wrong_tokens(table: str) -> tuple[float, int]:
    """The worst case: a different wrong token on every request (each one hashed once)."""
    reads = Reads()
    guard = MaintenanceGuard(table, ttl_seconds=20, boto3_client=reads.resource, service="ord")
    events = [http_event("GET", {**HEADERS, BYPASS_HEADER.lower(): f"{i:043d}"}) for i in range(REQUESTS)]
    guard.event_unavailable(http_event("GET", HEADERS))
    began = time.perf_counter()
    for event in events:
        guard.event_unavailable(event)
    per_request = (time.perf_counter() - began) / REQUESTS
    assert guard.event_unavailable(events[-1]) is not None
    return per_request, reads.calls


def bypass_decorated(table: str) -> tuple[float, int]:
    """The bypass header through ``@maintenance_guard`` on an HTTP API event."""
    reads = Reads()
    guard = MaintenanceGuard(table, ttl_seconds=20, boto3_client=reads.resource, service="ord")

    @maintenance_guard(guard=guard)
    def handler(event, context):
        return {"statusCode": 200, "body": "{}"}

    with contextlib.redirect_stdout(io.StringIO()):
        handler(BYPASS_EVENT, None)
        per_request = time_requests(lambda: handler(BYPASS_EVENT, None), REQUESTS)
        assert handler(BYPASS_EVENT, None)["statusCode"] == 200
    return per_request, reads.calls


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
        bypass = {**active, "bypassSha256": hashlib.sha256(TOKEN.encode()).hexdigest()}
        read_only = {**active, "allowMethods": ["GET", "HEAD"]}
        scoped = {**active, "services": ["pay", "ord"]}
        with_header = {**HEADERS, BYPASS_HEADER.lower(): TOKEN}
        wrong_header = {**HEADERS, BYPASS_HEADER.lower(): TOKEN[::-1]}
        cases: dict[str, Callable[[], tuple[float, int]]] = {
            "cached, no window": lambda: cached(table, active=False),
            "cached, no window, via @maintenance_guard": lambda: cached_decorated(table),
            "cached, window active (503)": lambda: cached(table, active=True),
            "bypass header, right token (passes)": lambda: narrowed(table, headers=with_header, passes=True),
            "bypass header, via @maintenance_guard": lambda: bypass_decorated(table),
            "bypass header, wrong token (503)": lambda: narrowed(table, headers=wrong_header, passes=False),
            "no header, bypass window (503)": lambda: narrowed(table, headers=HEADERS, passes=False),
            "a new wrong token each request (503)": lambda: fresh_wrong_tokens(table),
            "read-only window, GET (passes)": lambda: narrowed(table, passes=True),
            "read-only window, POST (503)": lambda: narrowed(table, method="POST", passes=False),
            "scoped window, service outside it": lambda: narrowed(table, code="cat", passes=True),
            "scoped window, service inside it (503)": lambda: narrowed(table, code="pay", passes=False),
            "stale-while-error (reads failing)": lambda: stale_while_error(table),
            "uncached (TTL 0), no window": lambda: uncached(table),
        }
        states = {
            "cached, window active (503)": active,
            "stale-while-error (reads failing)": active,
            "bypass header, right token (passes)": bypass,
            "bypass header, via @maintenance_guard": bypass,
            "bypass header, wrong token (503)": bypass,
            "no header, bypass window (503)": bypass,
            "a new wrong token each request (503)": bypass,
            "read-only window, GET (passes)": read_only,
            "read-only window, POST (503)": read_only,
            "scoped window, service outside it": scoped,
            "scoped window, service inside it (503)": scoped,
        }
        samples: dict[str, list[float]] = {label: [] for label in cases}
        reads: dict[str, int] = {}
        for _ in range(ROUNDS):  # interleaved so machine noise hits every case alike
            for label, case in cases.items():
                put_state(table, states.get(label, {"active": False}))
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
        # The decision, under 1 µs each (issue 18). Shown beside them, not held to it: a new wrong
        # token per request (the attack: one SHA-256 each) and the decorated line, which also calls
        # the handler (that part costs what "cached, no window, via @maintenance_guard" shows).
        outside = (
            "stale-while-error (reads failing)",
            "a new wrong token each request (503)",
            "bypass header, via @maintenance_guard",
        )
        narrower = {
            label: micros for label, micros in medians.items() if label in states and label not in outside
        }
        slowest = max(narrower, key=narrower.get)
        verdict = "within" if narrower[slowest] < 1.0 else "OVER (a busy machine? run it again)"
        micros = narrower[slowest]
        print(f"slowest narrower cached decision: {slowest}, {micros:.2f} µs: {verdict} the 1 µs bound")
        print(json.dumps({label: round(micros, 2) for label, micros in medians.items()}))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
