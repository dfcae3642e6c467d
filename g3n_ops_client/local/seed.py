"""Realistic sample data for a few organisations across every service table, bucket and log group.

Deterministic (fixed random seed), so tests can compare what a vacuum reports with what was
seeded. Returns a manifest of exactly what it wrote.
"""

from __future__ import annotations

import functools
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from g3n_ops.contract.registry import Registry, ServiceTable

ORGS = ("TESTORG", "testorg", "Globex_EU")
ITEMS_PER_ORG = {"inv-movements": 130, "ord-order-lines": 90, "cat-products": 60}  # others: 30-45
SHARED_PREFIX = "shared/"  # objects outside any organisation's prefix
SEED_VALUE = 20261129

_WORDS = ("oak", "linen", "copper", "amber", "slate", "maple", "coral", "onyx", "sage", "ivory")


def _suffix(table: ServiceTable) -> str:
    return table.name.split("-", 2)[-1]  # g3n-<stage>-cat-products → cat-products


def _item(table: ServiceTable, org: str, index: int, rng: random.Random) -> dict:
    entity = _suffix(table)
    item: dict = {}
    for key in table.key_schema:
        name = key.attribute_name
        if name == "orgcode":
            item[name] = {"S": org}
        elif name == "pk":
            item[name] = {"S": f"{org}#{entity}#{index // 5:04d}"}
        elif name == "sk":
            item[name] = {"S": f"{entity}#{index:06d}"}
        else:
            item[name] = {"S": f"{org}-{name}-{index:06d}"}
    item["orgcode"] = {"S": org}  # cross-org tables (users, sessions) carry a home org too
    item["name"] = {"S": f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS)} {index}"}
    item["amount"] = {"N": str(rng.randint(1, 99_999))}
    item["updatedAt"] = {"S": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_760_000_000 + index * 97))}
    return item


def _write_items(ddb, table: str, items: list[dict]) -> None:
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        pending = {table: requests}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


@dataclass(frozen=True)
class TablePlan:
    name: str
    items: list[dict]  # shared by every seed from this plan: writers must not change them
    counts: dict[str, int]  # items per org


@dataclass(frozen=True)
class BucketPlan:
    name: str
    writes: list[tuple[str, str, bytes | None]]  # ("put", key, body) or ("delete", key, None)
    stats: dict[str, dict[str, int]]


@dataclass(frozen=True)
class LogGroupPlan:
    name: str
    events_per_stream: list[int]


@dataclass(frozen=True)
class SeedPlan:
    tables: list[TablePlan] = field(default_factory=list)
    buckets: list[BucketPlan] = field(default_factory=list)
    log_groups: list[LogGroupPlan] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def plan(registry: Registry, seed_value: int = SEED_VALUE) -> SeedPlan:
    """What a seed writes, drawn once per registry and seed value (the local stack seeds at every
    reset; drawing ~2,700 items took a fifth of a seed). Only log timestamps are left to the write:
    they are relative to its time."""
    rng = random.Random(seed_value)
    seeded = SeedPlan()
    for service in registry.services:
        for table in service.tables:
            counts: dict[str, int] = {}
            items = []
            for org in ORGS:
                # A table keyed by orgcode alone (the org directory) holds one item per org.
                one_per_org = table.key_names == ["orgcode"]
                count = 1 if one_per_org else ITEMS_PER_ORG.get(_suffix(table), rng.randint(30, 45))
                items += [_item(table, org, index, rng) for index in range(count)]
                counts[org] = count
            seeded.tables.append(TablePlan(table.name, items, counts))
        seeded.buckets.extend(_plan_bucket(bucket, rng) for bucket in service.buckets)
        for group in service.log_groups:
            streams = rng.randint(2, 3)
            seeded.log_groups.append(LogGroupPlan(group, [rng.randint(4, 8) for _ in range(streams)]))
    return seeded


def seed(
    registry: Registry, client_for, *, seed_value: int = SEED_VALUE, put_items=None, s3=None, logs=None
) -> dict:
    """Write the sample data; ``put_items(table, items)``, when given, writes a table's items
    (the local stack passes a faster in-process writer), else BatchWriteItem through ``client_for``;
    ``s3`` and ``logs``, when given, put and delete objects and write log streams (as the S3 and
    Logs clients take those calls), else ``client_for("s3")`` and ``client_for("logs")``."""
    planned = plan(registry, seed_value)
    ddb = client_for("dynamodb")
    s3, logs = s3 or client_for("s3"), logs or client_for("logs")
    put_items = put_items or (lambda table, items: _write_items(ddb, table, items))
    manifest: dict = {"orgs": list(ORGS), "tables": {}, "buckets": {}, "logGroups": {}}
    for table in planned.tables:
        put_items(table.name, table.items)
        manifest["tables"][table.name] = dict(table.counts)
    for bucket in planned.buckets:
        for action, key, body in bucket.writes:
            if action == "put":
                s3.put_object(Bucket=bucket.name, Key=key, Body=body)
            else:
                s3.delete_object(Bucket=bucket.name, Key=key)
        manifest["buckets"][bucket.name] = {owner: dict(stats) for owner, stats in bucket.stats.items()}
    for group in planned.log_groups:
        manifest["logGroups"][group.name] = _write_log_group(logs, group)
    return manifest


def _plan_bucket(bucket: str, rng: random.Random) -> BucketPlan:
    """Per prefix (org or shared): versions, delete markers and bytes, as a vacuum would count them."""
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"versions": 0, "deleteMarkers": 0, "bytes": 0})
    writes: list[tuple[str, str, bytes | None]] = []
    for prefix in (*(f"{org}/" for org in ORGS), SHARED_PREFIX):
        owner = prefix.rstrip("/")
        keys = [f"{prefix}{rng.choice(_WORDS)}-{n:03d}.bin" for n in range(rng.randint(8, 14))]
        for key in keys:
            for _ in range(1 if rng.random() < 0.7 else 2):  # some keys get a second version
                body = rng.randbytes(rng.randint(100, 4000))
                writes.append(("put", key, body))
                stats[owner]["versions"] += 1
                stats[owner]["bytes"] += len(body)
        for key in keys[:2]:  # deleted keys leave delete markers behind their versions
            writes.append(("delete", key, None))
            stats[owner]["deleteMarkers"] += 1
    return BucketPlan(bucket, writes, dict(stats))


def _write_log_group(logs, group: LogGroupPlan) -> dict:
    now = int(time.time() * 1000)
    for index, events in enumerate(group.events_per_stream):
        stream = f"2026/11/29/[$LATEST]{index:032x}"
        logs.create_log_stream(logGroupName=group.name, logStreamName=stream)
        batch = [
            {"timestamp": now - 1000 * (20 - n), "message": f'{{"level":"INFO","message":"request {n}"}}'}
            for n in range(events)
        ]
        logs.put_log_events(logGroupName=group.name, logStreamName=stream, logEvents=batch)
    return {"streams": len(group.events_per_stream), "events": sum(group.events_per_stream)}
