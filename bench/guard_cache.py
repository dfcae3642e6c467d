"""What the guard's 20 s cache buys: per-request cost and DynamoDB reads, cached vs uncached.

Runs on the embedded local stack (loopback DynamoDB: real AWS adds ~5-10 ms per read on top,
so the ratio here understates the saving). Usage: .venv/bin/python bench/guard_cache.py
"""

from __future__ import annotations

import statistics
import time

import boto3

from g3n_maintenance_guard import MaintenanceGuard
from g3n_ops_client.local import LocalStack

REQUESTS = 400
ROUNDS = 3


def measure(guard: MaintenanceGuard, calls: list[str]) -> tuple[float, int]:
    calls.clear()
    began = time.perf_counter()
    for _ in range(REQUESTS):
        guard.unavailable("/orders")
    return (time.perf_counter() - began) / REQUESTS, len(calls)


def guard_with_counter(table: str, ttl: int, calls: list[str]) -> MaintenanceGuard:
    resource = boto3.session.Session().resource("dynamodb")
    resource.meta.client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )
    return MaintenanceGuard(table, ttl_seconds=ttl, boto3_client=resource)


def main() -> None:
    stack = LocalStack(port=0, secret_code="bench-secret-code-01")
    stack.start()
    try:
        table = stack.provisioner.table_name
        results: dict[str, list[float]] = {"cached (TTL 20 s)": [], "uncached (TTL 0)": []}
        reads: dict[str, int] = {}
        for _ in range(ROUNDS):  # interleaved so machine noise hits both alike
            for label, ttl in (("cached (TTL 20 s)", 20), ("uncached (TTL 0)", 0)):
                calls: list[str] = []
                per_request, count = measure(guard_with_counter(table, ttl, calls), calls)
                results[label].append(per_request)
                reads[label] = count
        print(f"{REQUESTS} guarded requests, median of {ROUNDS} interleaved rounds")
        for label, samples in results.items():
            micros = statistics.median(samples) * 1e6
            print(f"  {label:18} {micros:9.1f} µs/request   {reads[label]:4} GetItem calls")
        cached, uncached = (statistics.median(v) for v in results.values())
        print(f"  ratio uncached/cached: {uncached / cached:.0f}x per request")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
