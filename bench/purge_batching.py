"""Why the vacuum batches: a purge chunk (Scan + BatchWriteItem of 25 keys, writes in flight)
vs one DeleteItem per item.

Deletes the same number of items both ways on the embedded local stack, interleaved, and prints
time and request counts side by side. Usage: .venv/bin/python bench/purge_batching.py
"""

from __future__ import annotations

import statistics
import time

import boto3

from g3n_ops import aws
from g3n_ops.domain import purge
from g3n_ops_client.local import LocalStack

ITEMS = 1500
ROUNDS = 2
TABLE = "bench-purge"


def fill(ddb) -> list[dict]:
    keys = [{"pk": {"S": f"item-{n:06d}"}} for n in range(ITEMS)]
    for start in range(0, ITEMS, 25):
        batch = [
            {"PutRequest": {"Item": {**key, "payload": {"S": "x" * 200}}}} for key in keys[start : start + 25]
        ]
        ddb.batch_write_item(RequestItems={TABLE: batch})
    return keys


def batched(keys: list[dict]) -> None:
    unit = purge.TableUnit(service="bench", table=TABLE, keyNames=("pk",), lookup="all")
    result = purge.run_chunk(
        unit, None, dry_run=False, limits=purge.Limits(), checkpoint=lambda delta, cursor, done: None
    )
    assert result.done and result.counts.items == len(keys)


def one_by_one(keys: list[dict]) -> None:
    ddb = aws.client("dynamodb")
    for key in keys:
        ddb.delete_item(TableName=TABLE, Key=key)


def main() -> None:
    stack = LocalStack(port=0, secret_code="bench-secret-code-01")
    stack.start()
    try:
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
        calls: list[str] = []
        aws.client("dynamodb").meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
        )
        timings: dict[str, list[float]] = {"BatchWriteItem x25": [], "DeleteItem x1": []}
        # The purge's requests: Scan pages to find the keys, then BatchWriteItem.
        requests: dict[str, int] = {}
        for _ in range(ROUNDS):
            for label, delete in (("BatchWriteItem x25", batched), ("DeleteItem x1", one_by_one)):
                keys = fill(ddb)
                calls.clear()
                began = time.perf_counter()
                delete(keys)
                timings[label].append(time.perf_counter() - began)
                requests[label] = len(calls)
                assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 0
        print(f"deleting {ITEMS} items, median of {ROUNDS} interleaved rounds")
        for label, samples in timings.items():
            print(f"  {label:20} {statistics.median(samples):7.2f} s   {requests[label]:5} requests")
        fast, slow = (statistics.median(v) for v in timings.values())
        print(
            f"  ratio DeleteItem/BatchWriteItem: {slow / fast:.1f}x time, "
            f"{requests['DeleteItem x1'] / requests['BatchWriteItem x25']:.0f}x requests"
        )
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
