"""The largest vacuum execution history against items and chunks, on the embedded local stack.

One table is forced through one-item chunks (``VACUUM_CHUNK_ITEMS=1``) by a real vacuum-all, so a
run of N items is N chunks; every execution of the run (the first and each continuation) is read
in full (``get_execution_history``, paginated). The largest must stay under the budget
(``rounds.HISTORY_BUDGET``) whatever N. Then the round planner is replayed with the measured
events per chunk for 20 tables x 10 M items at the deployed chunk size.

Usage: .venv/bin/python bench/vacuum_history.py [--items 1000 2000] [--budget EVENTS]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import boto3

from g3n_ops.contract.registry import Registry
from g3n_ops.domain import purge
from g3n_ops.domain.vacuum import rounds
from g3n_ops.registry import forget_cached_registry
from g3n_ops.settings import settings
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.local import LocalStack

SECRET = "bench-secret-code-0001"
PHRASE = "VACUUM ALL DATA PERMANENTLY"


def one_table_registry(stack: LocalStack) -> tuple[dict, object]:
    ssm = boto3.client("ssm")
    name = "/g3nretailstack/ops/registry"
    document = Registry.model_validate_json(ssm.get_parameter(Name=name)["Parameter"]["Value"]).to_document()
    service = next(s for s in document["services"] if s["tables"])
    service |= {"tables": service["tables"][:1], "buckets": [], "logGroups": []}
    document["services"] = [service]
    ssm.put_parameter(Name=name, Value=json.dumps(document), Type="String", Overwrite=True)
    forget_cached_registry()
    return document, Registry.model_validate(document).services[0].tables[0]


def seed(table, items: int) -> None:
    ddb = boto3.client("dynamodb")
    for start in range(0, items, 25):
        batch = [
            {
                "PutRequest": {
                    "Item": {k: {"S": f"{k}-{n:07d}"} for k in table.key_names} | {"orgcode": {"S": "X"}}
                }
            }
            for n in range(start, min(items, start + 25))
        ]
        ddb.batch_write_item(RequestItems={table.name: batch})


def histories(vacuum_id: str) -> list[tuple[str, int]]:
    sfn = boto3.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=settings().vacuum_state_machine_arn)
    found = sorted(
        e["executionArn"] for p in pages for e in p["executions"] if f"vacuum-{vacuum_id}" in e["name"]
    )
    lengths = []
    for arn in found:
        pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        lengths.append((arn.rsplit(":", 1)[-1], sum(len(p["events"]) for p in pages)))
    return lengths


def measure(stack: LocalStack, items: int) -> dict:
    stack.reset(seed=False)
    _, table = one_table_registry(stack)
    seed(table, items)
    client = OpsClient(ClientConfig(endpoint_url=stack.endpoint_url))
    began = time.perf_counter()
    record = client.vacuum.all(SECRET, f"history bench, {items} chunks", PHRASE)
    final = client.vacuum.wait(record["vacuumId"], timeout=3600, poll=1.0)
    seconds = time.perf_counter() - began
    lengths = histories(final["vacuumId"])
    return {
        "items": items,
        "status": final["status"],
        "deleted": final["stats"]["totals"].get("items"),
        "executions": len(lengths),
        "largest": max(n for _, n in lengths),
        "events": sum(n for _, n in lengths),
        "seconds": seconds,
    }


def extrapolate(events_per_chunk: float, *, tables: int = 20, items: int = 10_000_000) -> dict:
    """Replay the round planner for ``tables`` x ``items`` at the deployed limits: units are scan
    segments; a chunk processes ~1,500 items/s for ``chunk_seconds`` (at most ``chunk_items``)."""
    limits = purge.Limits()
    segments = purge.segment_count(items, limits)
    per_chunk = min(limits.chunk_items, int(1_500 * limits.chunk_seconds))
    chunks_left = {f"u{n:04d}": -(-(items // segments) // per_chunk) for n in range(tables * segments)}
    executions, largest, events = 1, 0, 30
    while chunks_left:
        sized = rounds.next_round(int(events), sorted(chunks_left))
        if sized is None:
            largest, executions, events = max(largest, events), executions + 1, 30
            continue
        events += 13
        for unit in sized.units:
            ran = min(sized.turns, chunks_left[unit])
            events += 4 + ran * events_per_chunk
            chunks_left[unit] -= ran
            if not chunks_left[unit]:
                del chunks_left[unit]
    largest = max(largest, events + 20)
    return {"units": tables * segments, "executions": executions, "largest": int(largest)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--budget", type=int, default=rounds.HISTORY_BUDGET)
    args = parser.parse_args()
    os.environ.update(VACUUM_CHUNK_ITEMS="1", VACUUM_HISTORY_EVENTS=str(args.budget))
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    stack = LocalStack(port=0, pending_seconds=1, secret_code=SECRET)
    stack.start(seed=False)
    try:
        print(f"history budget {args.budget} events (Step Functions' limit: 25,000)")
        header = ("items=chunks", 12), ("executions", 10), ("largest", 8), ("all events", 10), ("ev/chunk", 8)
        print(" ".join(f"{name:>{width}}" for name, width in header), f"{'s':>6}")
        per_chunk = 7.0
        for items in args.items:
            row = measure(stack, items)
            assert row["status"] == "completed" and row["deleted"] == items, row
            per_chunk = row["events"] / items
            print(
                f"{items:>12} {row['executions']:>10} {row['largest']:>8} {row['events']:>10} "
                f"{per_chunk:>8.2f} {row['seconds']:>6.0f}"
            )
        far = extrapolate(per_chunk)
        print(
            f"20 tables x 10 M items: {far['units']} units, {far['executions']} execution(s), "
            f"largest history ~{far['largest']} events"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
