"""Vacuum data-plane throughput against what its configuration allows, and its write-call count.

1. With ``latency=250`` injected by the local stack's fault layer into every AWS call OPS makes,
   a whole-table purge chunk's items/s is compared with the ceiling its configuration allows:
   writes in flight x 25 items / latency. The same run with twice the writes in flight gives the
   speed-up. The two configurations are measured interleaved (side by side, same machine state),
   median of ``--rounds``. Targets: ≥ 0.8 of the ceiling, ≥ 1.8x for double the concurrency.
2. Without faults, a purge of a table and of a versioned bucket counts its write calls
   (BatchWriteItem, DeleteObjects): target ≤ 1.05 x ⌈items/25⌉ + ⌈versions/1000⌉.

The local stack runs in this process: each call also costs its CPU work (botocore, HTTP, moto),
shared under one GIL, so the bench also reports each write's real duration and the ceiling at
that duration, which separates the pipeline's efficiency from the machine's load.

Usage: .venv/bin/python bench/vacuum_throughput.py [--items 2000] [--writes 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import math
import statistics
import threading
import time

import boto3

from g3n_ops import aws
from g3n_ops.domain import purge
from g3n_ops_client.local import LocalStack

LATENCY_MS = 250
TABLE = "bench-vacuum-throughput"
BUCKET = "bench-vacuum-throughput"


def create_table(ddb) -> None:
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )


def fill_table(ddb, items: int) -> None:
    for start in range(0, items, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": f"item-{n:07d}"}, "payload": {"S": "x" * 100}}}}
            for n in range(start, min(items, start + 25))
        ]
        ddb.batch_write_item(RequestItems={TABLE: batch})


def purge_table(writes: int) -> purge.ChunkResult:
    unit = purge.TableUnit(service="bench", table=TABLE, keyNames=("pk",), lookup="all")
    limits = purge.Limits(writes_in_flight=writes)
    return purge.run_chunk(unit, None, dry_run=False, limits=limits, checkpoint=lambda *_: None)


class CallTimes:
    """How long each BatchWriteItem really takes (injected latency + the local stack's own work),
    timed in the thread that makes it."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.seconds: list[float] = []
        self.lock = threading.Lock()

    def hook(self, service: str, client) -> None:
        client.meta.events.register("before-call.dynamodb.BatchWriteItem", self._start)
        client.meta.events.register("after-call.dynamodb.BatchWriteItem", self._end)

    def _start(self, **_) -> None:
        self.local.began = time.perf_counter()

    def _end(self, **_) -> None:
        with self.lock:
            self.seconds.append(time.perf_counter() - self.local.began)


class WriteCalls:
    """Counts the delete calls OPS's clients make (the same seam the fault layer uses)."""

    NAMES = ("BatchWriteItem", "DeleteObjects")

    def __init__(self) -> None:
        self.calls = dict.fromkeys(self.NAMES, 0)

    def hook(self, service: str, client) -> None:
        client.meta.events.register("before-call", self._count)

    def _count(self, model, **_) -> None:
        if model.name in self.calls:
            self.calls[model.name] += 1


def throughput(stack: LocalStack, ddb, items: int, writes: int, rounds: int) -> None:
    stack.set_faults(f"latency={LATENCY_MS}")
    rates: dict[int, list[float]] = {writes: [], 2 * writes: []}
    call_seconds: dict[int, list[float]] = {writes: [], 2 * writes: []}
    for _ in range(rounds):
        for concurrency in rates:  # interleaved: both configurations see the same machine
            fill_table(ddb, items)
            timer = CallTimes()
            aws.add_client_hook(timer.hook)
            try:
                began = time.perf_counter()
                result = purge_table(concurrency)
                elapsed = time.perf_counter() - began
            finally:
                aws.remove_client_hook(timer.hook)
            assert result.done and result.counts.items == items, result
            rates[concurrency].append(items / elapsed)
            call_seconds[concurrency].append(statistics.mean(timer.seconds))
    stack.set_faults(None)
    print(f"throughput, latency={LATENCY_MS} ms on every call, {items} items, median of {rounds} rounds")
    for concurrency, samples in rates.items():
        ceiling = concurrency * purge.BATCH_WRITE_ITEMS / (LATENCY_MS / 1000)
        rate = statistics.median(samples)
        call = statistics.median(call_seconds[concurrency])
        measured_ceiling = concurrency * purge.BATCH_WRITE_ITEMS / call
        print(
            f"  writes in flight {concurrency:3}: {rate:7.0f} items/s, ceiling {ceiling:6.0f}, "
            f"{rate / ceiling:.2f} of it (target >= 0.80); a write really took {call * 1000:.0f} ms "
            f"(latency + the local stack's work): {rate / measured_ceiling:.2f} of that ceiling"
        )
    low, high = (statistics.median(samples) for samples in rates.values())
    print(f"  speed-up for double the writes in flight: {high / low:.2f}x (target >= 1.80)")


def write_calls(ddb, items: int, versions: int) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for n in range(versions):
        s3.put_object(Bucket=BUCKET, Key=f"object-{n // 2:06d}", Body=b"x")  # two versions a key
    fill_table(ddb, items)
    counter = WriteCalls()
    aws.add_client_hook(counter.hook)
    try:
        table = purge_table(writes=16)
        bucket = purge.run_chunk(
            purge.BucketUnit(service="bench", bucket=BUCKET),
            None,
            dry_run=False,
            limits=purge.Limits(),
            checkpoint=lambda *_: None,
        )
    finally:
        aws.remove_client_hook(counter.hook)
    assert table.counts.items == items and bucket.counts.objects == versions
    bound = 1.05 * math.ceil(items / 25) + math.ceil(versions / 1000)
    made = sum(counter.calls.values())
    print(f"write calls without faults, {items} items + {versions} versions")
    print(
        f"  BatchWriteItem {counter.calls['BatchWriteItem']} + DeleteObjects {counter.calls['DeleteObjects']}"
        f" = {made} (bound 1.05 x ceil(items/25) + ceil(versions/1000) = {bound:.1f}: "
        f"{'within' if made <= bound else 'OVER'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--writes", type=int, default=2, help="writes in flight (doubled for the speed-up)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--versions", type=int, default=2500)
    args = parser.parse_args()
    stack = LocalStack(port=0, secret_code="bench-secret-code-01")
    stack.start(seed=False)
    try:
        ddb = boto3.client("dynamodb")
        create_table(ddb)
        throughput(stack, ddb, args.items, args.writes, args.rounds)
        write_calls(ddb, args.items, args.versions)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
