"""Purging — or, for a dry-run, counting — one unit of vacuum work, one bounded chunk at a time.

A unit is a DynamoDB table (or one parallel scan segment of it), an S3 bucket (or one org's
prefix in it) or a log group. A chunk stops after ``Limits.chunk_items`` items or
``Limits.chunk_seconds`` seconds and hands back a cursor, so each Lambda invocation is short and
the state machine's history stays small however large a table is.

Safety rules, enforced here whatever the caller asks:
- an org unit only ever deletes what carries that orgcode (key, GSI key or S3 prefix); a lookup
  answer outside the org stops the run (``VacuumScopeViolation``) before anything of it is deleted;
- a whole-table/whole-bucket unit has no orgcode; a unit cannot be both;
- log groups keep existing: only their streams (and so their events) go.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from g3n_ops.aws import client
from g3n_ops.errors import VacuumIncomplete, VacuumScopeViolation

BATCH_WRITE_ITEMS = 25  # DynamoDB BatchWriteItem maximum
DELETE_OBJECTS_KEYS = 1000  # S3 DeleteObjects maximum
TABLE_PAGE_ITEMS = 1000  # Query/Scan page (also capped at 1 MB by DynamoDB)
LOG_STREAM_PAGE = 50  # DescribeLogStreams maximum
WRITE_WORKERS = 8  # parallel BatchWriteItem calls within a chunk
RETRY_ATTEMPTS = 8  # UnprocessedItems / DeleteObjects errors: attempts before giving up
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 5.0

Cursor = dict[str, Any] | None


@dataclass(frozen=True)
class Limits:
    """How much one chunk (one Lambda invocation) may do. The defaults bound the execution history
    (see workflows/vacuum.asl.json); the environment can lower them (the tests do)."""

    chunk_items: int = 200_000
    chunk_seconds: float = 120.0
    flush_seconds: float = 2.0  # how often a chunk writes its running counts to the record
    segment_items: int = 250_000  # a whole-table scan gets one parallel segment per this many items
    max_segments: int = 8

    @classmethod
    def from_environment(cls) -> Limits:
        env = os.environ
        return cls(
            chunk_items=int(env.get("VACUUM_CHUNK_ITEMS", cls.chunk_items)),
            chunk_seconds=float(env.get("VACUUM_CHUNK_SECONDS", cls.chunk_seconds)),
            segment_items=int(env.get("VACUUM_SEGMENT_ITEMS", cls.segment_items)),
            max_segments=int(env.get("VACUUM_MAX_SEGMENTS", cls.max_segments)),
        )


# -- units of work (they travel through the state machine as JSON) --------------------------------
class _Unit(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    service: str
    orgcode: str | None = None

    def dump(self) -> dict:
        return self.model_dump(by_alias=True, mode="json")


class TableUnit(_Unit):
    kind: Literal["table"] = "table"
    table: str
    key_names: tuple[str, ...] = Field(alias="keyNames", min_length=1)
    # all = the whole table; index/partition/scan = how one organisation's items are found.
    lookup: Literal["all", "index", "partition", "scan"]
    org_index: str | None = Field(default=None, alias="orgIndex")
    hash_key: str | None = Field(default=None, alias="hashKey")
    segment: int = Field(default=0, ge=0)
    total_segments: int = Field(default=1, alias="totalSegments", ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> TableUnit:
        if (self.lookup == "all") != (self.orgcode is None):
            raise ValueError("a whole-table unit has no orgcode and an org unit must have one")
        if self.lookup == "index" and not self.org_index:
            raise ValueError("an index lookup needs orgIndex")
        if self.lookup == "partition" and not self.hash_key:
            raise ValueError("a partition lookup needs hashKey")
        if self.segment >= self.total_segments or (self.total_segments > 1 and self.lookup != "all"):
            raise ValueError("only whole-table scans are split into segments")
        return self


class BucketUnit(_Unit):
    kind: Literal["bucket"] = "bucket"
    bucket: str

    @property
    def prefix(self) -> str:
        """Org objects live under ``<orgcode>/``; a whole-bucket unit lists everything."""
        return f"{self.orgcode}/" if self.orgcode else ""


class LogGroupUnit(_Unit):
    kind: Literal["logGroup"] = "logGroup"
    log_group: str = Field(alias="logGroup")

    @model_validator(mode="after")
    def _whole_stack_only(self) -> LogGroupUnit:
        if self.orgcode is not None:
            raise ValueError("log groups are not org-scoped; only vacuum-all purges them")
        return self


WorkUnit = Annotated[TableUnit | BucketUnit | LogGroupUnit, Field(discriminator="kind")]
UNIT: TypeAdapter[WorkUnit] = TypeAdapter(WorkUnit)


# -- counting ------------------------------------------------------------------------------------
@dataclass
class Counts:
    items: int = 0
    objects: int = 0
    bytes: int = 0
    logStreams: int = 0  # camelCase: the stats document's field names
    logBytes: int = 0

    def add(self, other: Counts) -> None:
        for name in self.as_dict():
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {
            "items": self.items,
            "objects": self.objects,
            "bytes": self.bytes,
            "logStreams": self.logStreams,
            "logBytes": self.logBytes,
        }


# checkpoint(delta, cursor, done): ``delta`` is work AWS confirmed since the last checkpoint;
# ``cursor``/``done`` is a safe place to go on from (everything before it is done and counted).
# It may raise to stop the chunk (the run was cancelled or failed elsewhere); that propagates.
Checkpoint = Callable[[Counts, Cursor, bool], None]


@dataclass
class Tally:
    """A chunk's confirmed counts and its last safe cursor, checkpointed every ``flush_seconds``
    and once more when the chunk ends (``close`` runs in a ``finally``, errors included)."""

    checkpoint: Checkpoint
    flush_seconds: float
    cursor: Cursor = None
    done: bool = False
    total: Counts = field(default_factory=Counts)
    unreported: Counts = field(default_factory=Counts)
    moved: bool = False
    stopped: bool = False
    last_flush: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def confirm(self, counts: Counts) -> None:
        """Work AWS confirmed (thread-safe: parallel delete batches count as each succeeds)."""
        with self.lock:
            self.total.add(counts)
            self.unreported.add(counts)

    def move(self, cursor: Cursor, *, done: bool) -> None:
        """A new safe place: everything before ``cursor`` is done and confirmed."""
        self.cursor, self.done, self.moved = cursor, done, True
        if time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self.stopped:
            return
        with self.lock:
            delta, self.unreported = self.unreported, Counts()
        moved, self.moved = self.moved, False
        self.last_flush = time.monotonic()
        if any(delta.as_dict().values()) or moved:
            self.stopped = True  # a checkpoint that raises is never repeated (it may have committed)
            self.checkpoint(delta, self.cursor, self.done)
            self.stopped = False

    def close(self) -> ChunkResult:
        self.flush()
        return ChunkResult(counts=self.total, cursor=self.cursor, done=self.done)


@dataclass
class Budget:
    limits: Limits
    started: float = field(default_factory=time.monotonic)

    def page(self, largest: int) -> int:
        """A page no larger than the whole chunk (small chunks stay small)."""
        return max(1, min(largest, self.limits.chunk_items))

    def spent(self, processed: int) -> bool:
        """``processed``: items, versions or streams this chunk has read so far."""
        elapsed = time.monotonic() - self.started
        return processed >= self.limits.chunk_items or elapsed >= self.limits.chunk_seconds


@dataclass(frozen=True)
class ChunkResult:
    counts: Counts
    cursor: Cursor
    done: bool


def _backoff(attempt: int) -> None:
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    time.sleep(delay * random.uniform(0.5, 1.0))  # jitter: parallel writers do not retry in step


def _chunks(values: list, size: int) -> Iterable[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# -- DynamoDB ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TablePage:
    keys: list[dict]
    count: int
    cursor: Cursor


def _table_request(unit: TableUnit, *, count_only: bool) -> tuple[str, dict]:
    """The Query/Scan call and its arguments (without paging) that find the unit's items."""
    names: dict[str, str] = {}
    request: dict[str, Any] = {"TableName": unit.table}
    if count_only:
        request["Select"] = "COUNT"
    else:
        projected = list(unit.key_names)
        if unit.orgcode and "orgcode" not in projected:
            projected.append("orgcode")  # read back to prove each item belongs to the org
        for index, name in enumerate(projected):
            names[f"#p{index}"] = name
        request["ProjectionExpression"] = ", ".join(f"#p{index}" for index in range(len(projected)))
    operation = "scan"
    if unit.lookup == "all":
        if unit.total_segments > 1:
            request.update(Segment=unit.segment, TotalSegments=unit.total_segments)
    else:
        request["ExpressionAttributeValues"] = {":org": {"S": unit.orgcode}}
        if unit.lookup == "index":
            operation = "query"
            names["#org"] = "orgcode"
            request.update(IndexName=unit.org_index, KeyConditionExpression="#org = :org")
        elif unit.lookup == "partition":
            operation = "query"
            names["#org"] = unit.hash_key  # type: ignore[assignment]  # validated: partition has it
            request["KeyConditionExpression"] = "#org = :org"
        else:  # scan: no way to find the org's items but to look at every item
            names["#org"] = "orgcode"
            request["FilterExpression"] = "#org = :org"
    if names:
        request["ExpressionAttributeNames"] = names
    return operation, request


def read_table_page(unit: TableUnit, cursor: Cursor, *, count_only: bool, limit: int = TABLE_PAGE_ITEMS):
    operation, request = _table_request(unit, count_only=count_only)
    request["Limit"] = limit
    if cursor:
        request["ExclusiveStartKey"] = cursor
    response = getattr(client("dynamodb"), operation)(**request)
    found = response.get("Items", [])
    if unit.orgcode:
        outside = [item for item in found if item.get("orgcode", {}).get("S") != unit.orgcode]
        if outside:
            raise VacuumScopeViolation(
                f"{unit.table}: the {unit.lookup} lookup for '{unit.orgcode}' returned "
                f"{len(outside)} item(s) of another organisation; nothing of this page was deleted"
            )
    keys = [{name: item[name] for name in unit.key_names} for item in found]
    count = response.get("Count", len(keys))
    return TablePage(keys=keys, count=count, cursor=response.get("LastEvaluatedKey"))


def batch_delete(table: str, keys: list[dict]) -> None:
    """One BatchWriteItem (≤ 25 keys), retrying UnprocessedItems with exponential backoff."""
    requests = {table: [{"DeleteRequest": {"Key": key}} for key in keys]}
    for attempt in range(RETRY_ATTEMPTS):
        requests = client("dynamodb").batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        if not requests:
            return
        _backoff(attempt)
    left = len(requests.get(table, []))
    raise VacuumIncomplete(f"{table}: {left} item(s) stayed unprocessed after {RETRY_ATTEMPTS} attempts")


class TableDeleter:
    """Deletes keys in full batches of 25, several batches in parallel; a partial batch waits for
    the next page (so the call count stays at one per 25 items) until ``finish``. Each batch is
    counted as it succeeds; the safe cursor moves past a page once all its keys are deleted."""

    def __init__(self, table: str, tally: Tally, pool: ThreadPoolExecutor) -> None:
        self.table = table
        self.tally = tally
        self.pool = pool
        self.waiting: list[dict] = []
        self.queued = 0  # keys handed in so far
        self.deleted = 0  # keys deleted so far (a prefix of the queued ones)
        self.page_ends: list[tuple[int, Cursor]] = []

    def add(self, keys: list[dict], cursor: Cursor) -> None:
        self.waiting += keys
        self.queued += len(keys)
        self.page_ends.append((self.queued, cursor))
        ready = len(self.waiting) - len(self.waiting) % BATCH_WRITE_ITEMS
        if ready:
            self._delete(self.waiting[:ready])
            self.waiting = self.waiting[ready:]
        self._advance()

    def finish(self) -> None:
        if self.waiting:
            self._delete(self.waiting)
            self.waiting = []
        self._advance()

    def _advance(self) -> None:
        while self.page_ends and self.page_ends[0][0] <= self.deleted:
            _, cursor = self.page_ends.pop(0)
            self.tally.move(cursor, done=not cursor)

    def _delete(self, keys: list[dict]) -> None:
        def delete(batch: list[dict]) -> None:
            batch_delete(self.table, batch)
            self.tally.confirm(Counts(items=len(batch)))

        # list() waits for every batch and re-raises the first failure.
        list(self.pool.map(delete, list(_chunks(keys, BATCH_WRITE_ITEMS))))
        self.deleted += len(keys)


def table_chunk(unit: TableUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint):
    budget, tally = Budget(limits), Tally(checkpoint, limits.flush_seconds, cursor=cursor)
    found = 0
    try:
        with ThreadPoolExecutor(max_workers=WRITE_WORKERS, thread_name_prefix="vacuum-write") as pool:
            deleter = TableDeleter(unit.table, tally, pool)
            while True:
                page = read_table_page(unit, cursor, count_only=dry_run, limit=budget.page(TABLE_PAGE_ITEMS))
                found += page.count
                if dry_run:
                    tally.confirm(Counts(items=page.count))
                    tally.move(page.cursor, done=not page.cursor)
                else:
                    deleter.add(page.keys, page.cursor)
                cursor = page.cursor
                if not cursor or budget.spent(found):
                    break
            deleter.finish()
    finally:
        result = tally.close()
    return result


def table_remaining(unit: TableUnit) -> int:
    """Items still in the unit's scope (counts pages until it finds some: 0 means none left)."""
    cursor: Cursor = None
    while True:
        page = read_table_page(unit, cursor, count_only=True)
        if page.count or not page.cursor:
            return page.count
        cursor = page.cursor


# -- S3 ------------------------------------------------------------------------------------------
def _list_versions(unit: BucketUnit, cursor: Cursor, *, limit: int = DELETE_OBJECTS_KEYS) -> dict:
    request: dict[str, Any] = {"Bucket": unit.bucket, "MaxKeys": limit}
    if unit.prefix:
        request["Prefix"] = unit.prefix
    if cursor:
        request.update(KeyMarker=cursor["keyMarker"], VersionIdMarker=cursor["versionIdMarker"])
    response = client("s3").list_object_versions(**request)
    for entry in [*response.get("Versions", []), *response.get("DeleteMarkers", [])]:
        if not entry["Key"].startswith(unit.prefix):
            raise VacuumScopeViolation(
                f"{unit.bucket}: listing '{unit.prefix}' returned a key outside it; nothing was deleted"
            )
    return response


def _page_counts(response: dict) -> Counts:
    versions, markers = response.get("Versions", []), response.get("DeleteMarkers", [])
    return Counts(objects=len(versions) + len(markers), bytes=sum(v.get("Size", 0) for v in versions))


def delete_versions(bucket: str, objects: list[dict]) -> None:
    """One DeleteObjects (≤ 1,000 versions), retrying the versions it reports as errors."""
    for attempt in range(RETRY_ATTEMPTS):
        response = client("s3").delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        failed = {(error["Key"], error.get("VersionId")) for error in response.get("Errors", [])}
        if not failed:
            return
        objects = [entry for entry in objects if (entry["Key"], entry.get("VersionId")) in failed]
        _backoff(attempt)
    raise VacuumIncomplete(f"{bucket}: {len(objects)} object version(s) could not be deleted")


def bucket_chunk(unit: BucketUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint):
    budget, tally = Budget(limits), Tally(checkpoint, limits.flush_seconds, cursor=cursor)
    try:
        while True:
            # Deleting always lists from the start: what the last page deleted is gone, so the next
            # listing is the next page (no marker can point at a version that no longer exists).
            response = _list_versions(
                unit, cursor if dry_run else None, limit=budget.page(DELETE_OBJECTS_KEYS)
            )
            entries = [*response.get("Versions", []), *response.get("DeleteMarkers", [])]
            if entries and not dry_run:
                delete_versions(
                    unit.bucket, [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]
                )
            tally.confirm(_page_counts(response))
            more = bool(response.get("IsTruncated"))
            cursor = None
            if more and dry_run:
                cursor = {
                    "keyMarker": response["NextKeyMarker"],
                    "versionIdMarker": response["NextVersionIdMarker"],
                }
            tally.move(cursor, done=not more)
            if not more or budget.spent(tally.total.objects):
                break
    finally:
        result = tally.close()
    return result


def bucket_remaining(unit: BucketUnit) -> int:
    response = client("s3").list_object_versions(Bucket=unit.bucket, Prefix=unit.prefix, MaxKeys=1)
    return len(response.get("Versions", [])) + len(response.get("DeleteMarkers", []))


# -- CloudWatch Logs -----------------------------------------------------------------------------
def _describe_streams(unit: LogGroupUnit, cursor: Cursor, *, limit: int = LOG_STREAM_PAGE) -> dict:
    request: dict[str, Any] = {"logGroupName": unit.log_group, "limit": limit}
    if cursor:
        request["nextToken"] = cursor["nextToken"]
    return client("logs").describe_log_streams(**request)


def log_group_chunk(
    unit: LogGroupUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint
):
    budget, tally = Budget(limits), Tally(checkpoint, limits.flush_seconds, cursor=cursor)
    logs = client("logs")
    try:
        while True:
            # Deleting lists from the start each time, like buckets.
            response = _describe_streams(
                unit, cursor if dry_run else None, limit=budget.page(LOG_STREAM_PAGE)
            )
            streams = response.get("logStreams", [])
            for stream in streams:
                if not dry_run:
                    logs.delete_log_stream(logGroupName=unit.log_group, logStreamName=stream["logStreamName"])
                tally.confirm(Counts(logStreams=1, logBytes=stream.get("storedBytes", 0)))
            token = response.get("nextToken")
            more = bool(streams) and bool(token)
            cursor = {"nextToken": token} if more and dry_run else None
            tally.move(cursor, done=not more)
            if not more or budget.spent(tally.total.logStreams):
                break
    finally:
        result = tally.close()
    return result


def log_group_remaining(unit: LogGroupUnit, *, created_before_ms: int) -> int:
    """Streams left that existed before the run started (running services may open new ones)."""
    remaining, cursor = 0, None
    while True:
        response = _describe_streams(unit, cursor)
        remaining += sum(1 for s in response.get("logStreams", []) if s["creationTime"] < created_before_ms)
        token = response.get("nextToken")
        if not token or not response.get("logStreams"):
            return remaining
        cursor = {"nextToken": token}


# -- dispatch ------------------------------------------------------------------------------------
def run_chunk(
    unit: WorkUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint
) -> ChunkResult:
    if isinstance(unit, TableUnit):
        return table_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)
    if isinstance(unit, BucketUnit):
        return bucket_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)
    return log_group_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)


def remaining(unit: WorkUnit, *, created_before_ms: int) -> int:
    if isinstance(unit, TableUnit):
        return table_remaining(unit)
    if isinstance(unit, BucketUnit):
        return bucket_remaining(unit)
    return log_group_remaining(unit, created_before_ms=created_before_ms)


def table_item_count(table: str) -> int:
    """DynamoDB's approximate item count (refreshed about every six hours): enough to size segments."""
    return int(client("dynamodb").describe_table(TableName=table)["Table"].get("ItemCount", 0))


def segment_count(item_count: int, limits: Limits) -> int:
    """Parallel scan segments for a whole table: one per ``segment_items``, at most ``max_segments``."""
    return max(1, min(limits.max_segments, -(-item_count // limits.segment_items)))
