"""Purge mechanics with stand-in AWS clients: retries within a budget, exact counts of what AWS
confirmed, the checkpoint contract, the read/delete pipeline, multipart uploads and verify.

Faults are real ``ClientError``s (the codes AWS sends); waits are recorded, not slept."""

from __future__ import annotations

import random
import threading
import time

import pytest
from botocore.exceptions import ClientError

from g3n_ops import retry
from g3n_ops.contract.errors import AwsThrottled, VacuumIncomplete, VacuumNotAdmitted, VacuumScopeViolation
from g3n_ops.domain import purge
from g3n_ops.domain.purge import buckets, calls, counting, log_groups, tables, verify

ORG = "TESTORG"


def throttled(operation: str, code: str = "ProvisionedThroughputExceededException") -> ClientError:
    status = 503 if code == "SlowDown" else 400
    return ClientError(
        {"Error": {"Code": code, "Message": "slow down"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def refused(operation: str, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
    )


class Faults:
    """Seeded, thread-safe coin flips for a fake's faults."""

    def __init__(self, *, seed: int = 7, throttle: float = 0.0, partial: float = 0.0):
        self.rng = random.Random(seed)
        self.throttle = throttle
        self.partial = partial
        self.lock = threading.Lock()

    def flip(self, probability: float) -> bool:
        with self.lock:
            return self.rng.random() < probability


class FakeTable:
    """One DynamoDB table of ``pk`` keys, sorted, with Query/Scan paging (Limit, ExclusiveStartKey,
    Select COUNT), BatchWriteItem with UnprocessedItems, throttling and a per-call latency."""

    def __init__(self, count: int, *, org: str = ORG, faults: Faults | None = None, latency: float = 0.0):
        self.items = {f"{org}#{n:05d}": org for n in range(count)}
        self.faults = faults or Faults()
        self.latency = latency
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.writes: list[int] = []  # batch sizes sent
        self.intervals: list[tuple[str, float, float]] = []

    def _timed(self, name: str, work):
        began = time.perf_counter()
        if self.latency:
            time.sleep(self.latency)
        try:
            return work()
        finally:
            self.intervals.append((name, began, time.perf_counter()))

    def _page(self, **request):
        def work():
            if self.faults.flip(self.faults.throttle):
                raise throttled("Scan")
            with self.lock:
                self.requests.append(request)
                keys = sorted(self.items)
                start = request.get("ExclusiveStartKey", {}).get("pk", {}).get("S")
                if start is not None:
                    keys = [key for key in keys if key > start]
                page = keys[: request["Limit"]]
                response: dict = {"Count": len(page)}
                if request.get("Select") != "COUNT":
                    response["Items"] = [
                        {"pk": {"S": key}, "orgcode": {"S": self.items[key]}} for key in page
                    ]
                if len(keys) > len(page):
                    response["LastEvaluatedKey"] = {"pk": {"S": page[-1]}}
                return response

        return self._timed("read", work)

    scan = query = _page

    def batch_write_item(self, RequestItems):
        def work():
            if self.faults.flip(self.faults.throttle):
                raise throttled("BatchWriteItem")
            [(table, requests)] = RequestItems.items()
            with self.lock:
                self.writes.append(len(requests))
                unprocessed = []
                for request in requests:
                    if self.faults.flip(self.faults.partial):
                        unprocessed.append(request)
                    else:
                        self.items.pop(request["DeleteRequest"]["Key"]["pk"]["S"], None)
            return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}

        return self._timed("write", work)


class Checkpoints:
    """Records every checkpoint call; optionally raises on one of them."""

    def __init__(self, *, raise_on: int | None = None, error: BaseException | None = None):
        self.calls: list[tuple[dict, object, bool]] = []
        self.raise_on = raise_on
        self.error = error

    def __call__(self, delta, cursor, done) -> None:
        self.calls.append((delta.as_dict(), cursor, done))
        if self.raise_on is not None and len(self.calls) == self.raise_on:
            raise self.error

    def total(self, name: str = "items") -> int:
        return sum(delta[name] for delta, _, _ in self.calls)

    @property
    def last(self):
        return self.calls[-1]


@pytest.fixture
def waits(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(calls, "pause", waited.append)
    return waited


@pytest.fixture
def table_page_items(monkeypatch):
    """``table_page_items(n)``: table reads come in pages of ``n`` items (a small fake table then
    spans several pages, as a real one does with the default)."""
    return lambda items: monkeypatch.setattr(tables, "TABLE_PAGE_ITEMS", items)


def _use(monkeypatch, **clients):
    for module in (tables, buckets, log_groups):
        monkeypatch.setattr(module, "client", lambda service: clients[service])


ORG_TABLE = purge.TableUnit(service="cat", table="t", keyNames=("pk",), lookup="scan", orgcode=ORG)
FAST = purge.Limits(flush_seconds=0.0, retry_seconds=30.0)


def _chunk(unit, cursor=None, *, dry_run=False, limits=FAST, checkpoint=None):
    checkpoint = checkpoint if checkpoint is not None else Checkpoints()
    return purge.run_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint), checkpoint


# -- retries within one budget --------------------------------------------------------------------
def test_unprocessed_items_are_retried_within_the_budget_and_counted(monkeypatch, waits):
    table = FakeTable(25, faults=Faults(partial=0.5, seed=3))
    _use(monkeypatch, dynamodb=table)
    keys = [{"pk": {"S": key}} for key in sorted(table.items)]
    confirmed = tables.batch_delete("t", keys, budget=60.0)
    assert confirmed.items == 25 and table.items == {}
    assert table.writes[0] == 25 and len(table.writes) > 2, "the unprocessed keys alone were re-sent"
    assert sum(table.writes[1:]) < 25 * len(table.writes[1:])
    assert len(waits) == len(table.writes) - 1 and all(w <= retry.MAX_DELAY_SECONDS for w in waits)


def test_a_spent_budget_raises_aws_throttled_carrying_what_was_confirmed(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(calls.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(calls, "pause", lambda seconds: now.__setitem__(0, now[0] + seconds))
    monkeypatch.setattr(calls, "backoff", lambda attempt: min(20.0, 0.1 * 2**attempt))  # no jitter

    class StubbornTable(FakeTable):
        def batch_write_item(self, RequestItems):
            [(table, requests)] = RequestItems.items()
            self.writes.append(len(requests))
            return {"UnprocessedItems": {table: requests[-1:]}}  # one key is never processed

    table = StubbornTable(0)
    _use(monkeypatch, dynamodb=table)
    with pytest.raises(AwsThrottled, match="retry budget") as raised:
        tables.batch_delete("t", [{"pk": {"S": str(n)}} for n in range(25)], budget=120.0)
    assert calls.confirmed_by(raised.value).items == 24, "the 24 deleted keys are still counted"
    # 0.1 s doubling to the 20 s cap: 12 waits (105.5 s), the 13th would pass the 120 s budget.
    assert now[0] == pytest.approx(105.5) and len(table.writes) == 13, "minutes of retries, not 8 attempts"


def test_a_chunk_under_heavy_throttling_deletes_and_counts_exactly(monkeypatch, waits, table_page_items):
    table = FakeTable(730, faults=Faults(throttle=0.3, partial=0.2, seed=11))
    _use(monkeypatch, dynamodb=table)
    table_page_items(100)
    result, checkpoints = _chunk(ORG_TABLE)
    assert table.items == {}
    assert result.done and result.counts.items == 730 and checkpoints.total() == 730
    assert checkpoints.last[2] is True and checkpoints.last[1] is None
    assert waits, "throttling was met and waited out"


def test_budget_spent_on_reads_fails_the_chunk_with_aws_throttled(monkeypatch, waits):
    table = FakeTable(10, faults=Faults(throttle=1.0))
    _use(monkeypatch, dynamodb=table)
    limits = purge.Limits(flush_seconds=0.0, retry_seconds=0.0)
    with pytest.raises(AwsThrottled):
        _chunk(ORG_TABLE, limits=limits)
    assert len(table.items) == 10


# -- the checkpoint contract ----------------------------------------------------------------------
def test_the_cursor_never_passes_unconfirmed_work_and_a_resume_is_exact(monkeypatch, waits, table_page_items):
    table = FakeTable(100)
    _use(monkeypatch, dynamodb=table)
    table_page_items(30)  # batches of 25 straddle pages
    original = table.batch_write_item
    sent = [0]

    def failing_on_the_third_batch(RequestItems):
        sent[0] += 1
        if sent[0] == 3:
            raise refused("BatchWriteItem", "ValidationException")
        return original(RequestItems)

    table.batch_write_item = failing_on_the_third_batch
    checkpoints = Checkpoints()
    limits = purge.Limits(flush_seconds=0.0, retry_seconds=1.0, writes_in_flight=1)
    with pytest.raises(ClientError):
        _chunk(ORG_TABLE, limits=limits, checkpoint=checkpoints)
    deleted = 100 - len(table.items)
    assert checkpoints.total() == deleted == 50, "every confirmed delete, nothing else"
    _delta, cursor, done = checkpoints.last
    # Keys 0-49 are gone, but page 2 (30-59) is not wholly confirmed: the cursor stays after page 1.
    assert done is False and cursor == {"pk": {"S": f"{ORG}#00029"}}

    table.batch_write_item = original
    resumed = Checkpoints()
    result, _ = _chunk(ORG_TABLE, cursor, checkpoint=resumed)
    assert table.items == {} and result.done
    assert checkpoints.total() + resumed.total() == 100, "counted once across the failure"


def test_a_checkpoint_that_stops_the_chunk_propagates_after_the_writes_in_flight(
    monkeypatch, table_page_items
):
    table = FakeTable(300, latency=0.005)
    _use(monkeypatch, dynamodb=table)
    table_page_items(50)
    checkpoints = Checkpoints(raise_on=2, error=VacuumNotAdmitted("vacuum v is cancelled"))
    with pytest.raises(VacuumNotAdmitted):
        _chunk(ORG_TABLE, checkpoint=checkpoints)
    deleted = 300 - len(table.items)
    assert 0 < deleted < 300
    assert checkpoints.total() == deleted, "the stop's delta was recorded; the rest came after, once"
    assert checkpoints.last[2] is False


def test_a_checkpoint_that_fails_to_record_is_sent_again(monkeypatch, table_page_items):
    table = FakeTable(60)
    _use(monkeypatch, dynamodb=table)
    table_page_items(30)
    checkpoints = Checkpoints(raise_on=1, error=AwsThrottled("the OPS table is throttled"))
    with pytest.raises(AwsThrottled):
        _chunk(ORG_TABLE, checkpoint=checkpoints)
    (first, _, _), (last, _, done) = checkpoints.calls
    assert first["items"] > 0 and done is False
    assert last["items"] == 60 - len(table.items), "the unrecorded delta is sent again with the rest"


def test_checkpoints_are_spaced_by_the_flush_interval(monkeypatch, table_page_items):
    table = FakeTable(500)
    _use(monkeypatch, dynamodb=table)
    table_page_items(25)
    _result, checkpoints = _chunk(ORG_TABLE, limits=purge.Limits(flush_seconds=3600))
    assert len(checkpoints.calls) == 1 and checkpoints.last == (
        {**purge.Counts().as_dict(), "items": 500},
        None,
        True,
    )


def test_a_dry_run_resumed_from_its_checkpoints_counts_every_item_once(monkeypatch, waits):
    table = FakeTable(260, faults=Faults(throttle=0.3, seed=5))
    _use(monkeypatch, dynamodb=table)
    limits = purge.Limits(flush_seconds=0.0, chunk_items=70, retry_seconds=30.0)
    cursor, counted, chunks = None, 0, 0
    while True:
        result, checkpoints = _chunk(ORG_TABLE, cursor, dry_run=True, limits=limits)
        counted += checkpoints.total()
        cursor, chunks = checkpoints.last[1], chunks + 1
        assert result.cursor == cursor
        if result.done:
            break
    assert counted == 260 and chunks == 4 and len(table.items) == 260
    assert all(request["Select"] == "COUNT" and request["ConsistentRead"] for request in table.requests)


def test_a_failed_dry_run_chunk_checkpoints_only_what_it_read(monkeypatch, waits, table_page_items):
    table = FakeTable(90)
    _use(monkeypatch, dynamodb=table)
    table_page_items(30)
    original, reads = table.scan, [0]

    def third_read_fails(**request):
        reads[0] += 1
        if reads[0] == 3:
            raise refused("Scan", "ValidationException")
        return original(**request)

    table.scan = third_read_fails
    checkpoints = Checkpoints()
    with pytest.raises(ClientError):
        _chunk(ORG_TABLE, dry_run=True, checkpoint=checkpoints)
    assert checkpoints.total() == 60 and checkpoints.last[1] == {"pk": {"S": f"{ORG}#00059"}}
    table.scan = original
    result, resumed = _chunk(ORG_TABLE, checkpoints.last[1], dry_run=True)
    assert resumed.total() == 30 and result.done


# -- the pipeline ----------------------------------------------------------------------------------
def test_reading_the_next_page_overlaps_deleting_the_current_one(monkeypatch, table_page_items):
    table = FakeTable(400, latency=0.04)
    _use(monkeypatch, dynamodb=table)
    table_page_items(100)
    limits = purge.Limits(flush_seconds=0.0, writes_in_flight=4)
    began = time.perf_counter()
    result, _ = _chunk(ORG_TABLE, limits=limits)
    elapsed = time.perf_counter() - began
    assert result.counts.items == 400 and table.items == {}
    reads = [(start, end) for name, start, end in table.intervals if name == "read"]
    writes = [(start, end) for name, start, end in table.intervals if name == "write"]
    overlapped = [r for r in reads[1:] if any(w0 < r[1] and r[0] < w1 for w0, w1 in writes)]
    assert len(overlapped) >= 2, "later pages were read while earlier batches were being deleted"
    # Reading then deleting would take every read plus the writes 4 at a time; overlapping hides
    # the reads after the first (measured from the calls themselves, so a busy machine is fair).
    sequential = sum(end - start for start, end in reads) + sum(end - start for start, end in writes) / 4
    assert elapsed < sequential, f"{elapsed:.3f}s is no faster than reading then deleting ({sequential:.3f}s)"
    assert max(table.writes) == 25 and len(table.writes) == 16, "one BatchWriteItem per 25 items"


def test_writes_in_flight_are_bounded(monkeypatch):
    table = FakeTable(500, latency=0.01)
    _use(monkeypatch, dynamodb=table)
    busy, peak, lock = [0], [0], threading.Lock()
    original = table.batch_write_item

    def counting(RequestItems):
        with lock:
            busy[0] += 1
            peak[0] = max(peak[0], busy[0])
        try:
            return original(RequestItems)
        finally:
            with lock:
                busy[0] -= 1

    table.batch_write_item = counting
    _chunk(ORG_TABLE, limits=purge.Limits(writes_in_flight=3))
    assert peak[0] == 3 and table.items == {}


def test_an_item_of_another_org_stops_everything_before_any_of_its_page_is_deleted(
    monkeypatch, table_page_items
):
    table = FakeTable(40)
    table.items[f"{ORG}#00039"] = "testorg"
    _use(monkeypatch, dynamodb=table)
    table_page_items(20)
    checkpoints = Checkpoints()
    with pytest.raises(VacuumScopeViolation, match="another organisation"):
        _chunk(ORG_TABLE, checkpoint=checkpoints)
    assert all(f"{ORG}#{n:05d}" in table.items for n in range(20, 40)), "nothing of the page was deleted"
    assert checkpoints.total() == 40 - len(table.items)


def test_lookups_query_the_right_way():
    index = purge.TableUnit(
        service="c", table="t", keyNames=("pk", "sk"), lookup="index", orgIndex="orgcode-index", orgcode=ORG
    )
    operation, request = tables.table_request(index, count_only=False)
    assert operation == "query" and request["IndexName"] == "orgcode-index"
    assert "ConsistentRead" not in request, "a GSI does not allow consistent reads"
    assert request["ExpressionAttributeNames"] == {
        "#p0": "pk",
        "#p1": "sk",
        "#p2": "orgcode",
        "#org": "orgcode",
    }
    partition = purge.TableUnit(
        service="c",
        table="t",
        keyNames=("orgcode", "sku"),
        lookup="partition",
        hashKey="orgcode",
        orgcode=ORG,
    )
    operation, request = tables.table_request(partition, count_only=True)
    assert operation == "query" and request["KeyConditionExpression"] == "#org = :org"
    assert "IndexName" not in request and request["ConsistentRead"] is True
    whole = purge.TableUnit(
        service="c", table="t", keyNames=("id",), lookup="all", segment=1, totalSegments=3
    )
    operation, request = tables.table_request(whole, count_only=False)
    assert operation == "scan" and (request["Segment"], request["TotalSegments"]) == (1, 3)
    assert request["ConsistentRead"] is True
    assert "FilterExpression" not in request and "ExpressionAttributeValues" not in request


def test_scan_segments_scale_with_table_size():
    limits = purge.Limits(segment_items=1000, max_segments=64)
    assert [purge.segment_count(n, limits) for n in (0, 999, 1001, 32_000, 10**9)] == [1, 1, 2, 32, 64]


def test_a_chunk_uses_most_of_the_lambda_time_left(monkeypatch):
    monkeypatch.delenv("VACUUM_CHUNK_SECONDS", raising=False)
    monkeypatch.setenv("VACUUM_CHUNK_HEADROOM_SECONDS", "60")
    limits = purge.Limits.from_environment()
    assert limits.chunk_seconds == 840 and 840 < limits.deadline_seconds < 900
    monkeypatch.setattr(counting, "LAMBDA_TIMEOUT_SECONDS", 100)  # a function with a shorter timeout
    short = purge.Limits.from_environment()
    assert short.chunk_seconds == 40 and short.deadline_seconds < 100
    monkeypatch.setattr(counting, "LAMBDA_TIMEOUT_SECONDS", 900)
    monkeypatch.setenv("VACUUM_CHUNK_SECONDS", "5")
    assert purge.Limits.from_environment().chunk_seconds == 5


def test_a_call_never_retries_past_the_chunk_deadline():
    clock = purge.Clock(purge.Limits(retry_seconds=300, deadline_seconds=10))
    assert 9 < clock.retry_budget() <= 10
    clock.started -= 20
    assert clock.retry_budget() == 0


# -- S3 ---------------------------------------------------------------------------------------------
class FakeBucket:
    """Versions and delete markers in key order, paged like moto: a version id marker that no
    longer exists ends the listing (so the pipeline must keep it until the next page is listed);
    DeleteObjects with per-key errors; multipart uploads."""

    def __init__(
        self, versions: int, *, prefix: str = f"{ORG}/", uploads: int = 0, faults: Faults | None = None
    ):
        self.versions = [
            {"Key": f"{prefix}{n:05d}", "VersionId": f"v{n}", "Size": n % 7} for n in range(versions)
        ]
        self.uploads = [{"Key": f"{prefix}u{n}", "UploadId": f"up{n}"} for n in range(uploads)]
        self.faults = faults or Faults()
        self.lock = threading.Lock()
        self.deletes: list[int] = []
        self.requests: list[dict] = []

    def list_object_versions(self, **request):
        with self.lock:
            self.requests.append(request)
            listed = [v for v in self.versions if v["Key"].startswith(request.get("Prefix", ""))]
            if "KeyMarker" in request:
                position = [
                    i
                    for i, v in enumerate(listed)
                    if (v["Key"], v["VersionId"]) == (request["KeyMarker"], request["VersionIdMarker"])
                ]
                listed = listed[position[0] + 1 :] if position else []
            page = listed[: request["MaxKeys"]]
            response = {"Versions": [dict(v) for v in page], "IsTruncated": len(listed) > len(page)}
            if response["IsTruncated"]:
                response.update(NextKeyMarker=page[-1]["Key"], NextVersionIdMarker=page[-1]["VersionId"])
            return response

    def delete_objects(self, Bucket, Delete):
        assert Delete["Quiet"] is False, "Quiet=False: S3 must say what it deleted"
        if self.faults.flip(self.faults.throttle):
            raise throttled("DeleteObjects", "SlowDown")
        with self.lock:
            self.deletes.append(len(Delete["Objects"]))
            deleted, errors = [], []
            for entry in Delete["Objects"]:
                if self.faults.flip(self.faults.partial):
                    errors.append({**entry, "Code": "SlowDown", "Message": "slow down"})
                else:
                    deleted.append(dict(entry))
            gone = {(entry["Key"], entry["VersionId"]) for entry in deleted}
            self.versions = [v for v in self.versions if (v["Key"], v["VersionId"]) not in gone]
            return {"Deleted": deleted, "Errors": errors}

    def list_multipart_uploads(self, **request):
        with self.lock:
            found = [u for u in self.uploads if u["Key"].startswith(request.get("Prefix", ""))]
            return {"Uploads": [dict(u) for u in found], "IsTruncated": False}

    def abort_multipart_upload(self, Bucket, Key, UploadId):
        with self.lock:
            if not any(u["UploadId"] == UploadId for u in self.uploads):
                raise refused("AbortMultipartUpload", "NoSuchUpload")
            self.uploads = [u for u in self.uploads if u["UploadId"] != UploadId]
        return {}


ORG_BUCKET = purge.BucketUnit(service="cat", bucket="b", orgcode=ORG)


def test_a_bucket_is_emptied_exactly_under_per_key_errors_and_throttling(monkeypatch, waits):
    bucket = FakeBucket(2500, faults=Faults(throttle=0.3, partial=0.1, seed=2))
    _use(monkeypatch, s3=bucket)
    result, checkpoints = _chunk(ORG_BUCKET)
    assert bucket.versions == [] and result.done
    assert checkpoints.total("objects") == 2500 == result.counts.objects
    assert checkpoints.total("bytes") == sum(n % 7 for n in range(2500))


def test_deleting_a_bucket_costs_one_delete_objects_per_thousand_versions(monkeypatch):
    bucket = FakeBucket(2500)
    _use(monkeypatch, s3=bucket)
    _result, _ = _chunk(ORG_BUCKET)
    assert bucket.versions == [] and sorted(bucket.deletes) == [500, 1000, 1000]  # writes run in parallel
    assert [r.get("KeyMarker") for r in bucket.requests] == [None, f"{ORG}/00999", f"{ORG}/01999"]


def test_delete_objects_counts_only_what_s3_reports_deleted(monkeypatch):
    bucket = FakeBucket(3)
    _use(monkeypatch, s3=bucket)
    bucket.delete_objects = lambda Bucket, Delete: {
        "Deleted": [Delete["Objects"][0], Delete["Objects"][0], {"Key": "elsewhere", "VersionId": "x"}],
        "Errors": [{**entry, "Code": "AccessDenied"} for entry in Delete["Objects"][1:]],
    }
    with pytest.raises(VacuumIncomplete, match="AccessDenied") as raised:
        buckets.delete_versions("b", [dict(v) for v in bucket.versions], budget=10.0)
    assert calls.confirmed_by(raised.value).as_dict() == {
        **purge.Counts().as_dict(),
        "objects": 1,
        "bytes": 0,
    }


def test_a_bucket_listing_outside_the_prefix_deletes_nothing(monkeypatch):
    bucket = FakeBucket(3)
    bucket.versions.append({"Key": "testorg/a", "VersionId": "x", "Size": 1})
    bucket.list_object_versions = lambda **request: {"Versions": bucket.versions, "IsTruncated": False}
    _use(monkeypatch, s3=bucket)
    with pytest.raises(VacuumScopeViolation):
        _chunk(ORG_BUCKET)
    assert bucket.deletes == []


def test_multipart_uploads_are_aborted_counted_and_never_twice(monkeypatch):
    bucket = FakeBucket(5, uploads=3)
    _use(monkeypatch, s3=bucket)
    dry, dry_checkpoints = _chunk(ORG_BUCKET, dry_run=True)
    assert dry.done and (dry.counts.uploads, dry.counts.objects) == (3, 5) and len(bucket.uploads) == 3
    assert dry_checkpoints.total("uploads") == 3
    original = bucket.abort_multipart_upload

    def abort_once_gone(Bucket, Key, UploadId):
        if UploadId == "up1":
            bucket.uploads = [u for u in bucket.uploads if u["UploadId"] != "up1"]  # completed meanwhile
        return original(Bucket, Key, UploadId)

    bucket.abort_multipart_upload = abort_once_gone
    result, checkpoints = _chunk(ORG_BUCKET)
    assert bucket.uploads == [] and bucket.versions == []
    assert (
        (result.counts.uploads, result.counts.objects)
        == (2, 5)
        == (checkpoints.total("uploads"), checkpoints.total("objects"))
    )


def test_a_dry_run_of_a_bucket_resumes_from_its_phase_and_markers(monkeypatch):
    bucket = FakeBucket(250, uploads=2)
    _use(monkeypatch, s3=bucket)
    limits = purge.Limits(flush_seconds=0.0, chunk_items=100)
    cursor, totals = None, purge.Counts()
    for _ in range(10):
        result, checkpoints = _chunk(ORG_BUCKET, cursor, dry_run=True, limits=limits)
        for delta, _, _ in checkpoints.calls:
            totals.add(purge.Counts(**delta))
        cursor = result.cursor
        if result.done:
            break
    assert (totals.uploads, totals.objects) == (2, 250) and len(bucket.versions) == 250


# -- CloudWatch Logs -------------------------------------------------------------------------------
class FakeLogGroup:
    def __init__(self, streams: int):
        self.streams = [f"s{n:04d}" for n in range(streams)]
        self.lock = threading.Lock()
        self.ghosts: set[str] = set()  # listed though already deleted (eventual consistency)

    def describe_log_streams(self, logGroupName, limit, nextToken=None):
        with self.lock:
            names = sorted([*self.streams, *self.ghosts])
            if nextToken:
                names = [n for n in names if n > nextToken] if nextToken in names else []
            page = names[:limit]
            response = {"logStreams": [{"logStreamName": n, "creationTime": 1} for n in page]}
            if len(names) > len(page):
                response["nextToken"] = page[-1]
            return response

    def delete_log_stream(self, logGroupName, logStreamName):
        with self.lock:
            if logStreamName not in self.streams:
                self.ghosts.discard(logStreamName)
                raise refused("DeleteLogStream", "ResourceNotFoundException")
            self.streams.remove(logStreamName)


def test_log_streams_are_deleted_and_counted_once(monkeypatch):
    group = FakeLogGroup(120)
    group.ghosts = {"s0000-gone"}
    _use(monkeypatch, logs=group)
    unit = purge.LogGroupUnit(service="cat", logGroup="/g")
    dry, _ = _chunk(unit, dry_run=True)
    assert dry.counts.logStreams == 121
    result, checkpoints = _chunk(unit)
    assert group.streams == [] and result.done
    assert result.counts.logStreams == 120 == checkpoints.total("logStreams"), "a ghost is not counted"
    assert "logBytes" not in result.counts.as_dict()


# -- verify ----------------------------------------------------------------------------------------
def test_verify_waits_for_an_eventually_consistent_read_before_believing_leftovers(monkeypatch, waits):
    table = FakeTable(1)
    _use(monkeypatch, dynamodb=table)
    original = table.scan

    def settles(**request):
        response = original(**request)
        table.items.clear()  # the delete becomes visible after the first read
        return response

    table.scan = settles
    limits = purge.Limits(settle_seconds=0.5)
    assert verify.verify_chunk(ORG_TABLE, None, limits=limits, created_before_ms=0) == verify.VerifyResult(
        0, None, True
    )
    assert waits == [0.5]


def test_verify_reports_real_leftovers_after_its_re_reads(monkeypatch, waits):
    bucket = FakeBucket(0, uploads=1)
    _use(monkeypatch, s3=bucket)
    result = verify.verify_chunk(
        ORG_BUCKET, None, limits=purge.Limits(settle_seconds=1.0), created_before_ms=0
    )
    assert result.left == 1 and result.done and waits == [1.0, 2.0, 4.0], "an upload is a leftover"


def test_verify_is_chunked_with_a_cursor(monkeypatch, waits):
    table = FakeTable(30)
    _use(monkeypatch, dynamodb=table)
    monkeypatch.setattr(verify, "VERIFY_TABLE_PAGE", 10)
    table.items = {}
    limits = purge.Limits(chunk_seconds=0.0)
    first = verify.verify_chunk(ORG_TABLE, None, limits=limits, created_before_ms=0)
    assert first == verify.VerifyResult(0, None, True)
    table.items = {f"{ORG}#{n:05d}": ORG for n in range(30)}
    original = table.scan
    table.scan = lambda **request: {**original(**request), "Count": 0}  # nothing left, but pages remain
    second = verify.verify_chunk(ORG_TABLE, None, limits=limits, created_before_ms=0)
    assert second == verify.VerifyResult(0, {"pk": {"S": f"{ORG}#00009"}}, False)
    assert purge.remaining(ORG_TABLE, created_before_ms=0, limits=limits) == 0
