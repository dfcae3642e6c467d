"""Purge mechanics with stand-in AWS clients: batching, retries with backoff, scope checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from g3n_ops.domain import purge
from g3n_ops.errors import VacuumIncomplete, VacuumScopeViolation


class FakeDynamoDB:
    def __init__(self, *, pages=(), unprocessed_rounds: int = 0):
        self.pages = list(pages)
        self.unprocessed_rounds = unprocessed_rounds
        self.requests: list[dict] = []
        self.writes: list[list[dict]] = []

    def _page(self, **request):
        self.requests.append(request)
        return self.pages.pop(0)

    scan = query = _page

    def batch_write_item(self, RequestItems):
        [(table, requests)] = RequestItems.items()
        self.writes.append(requests)
        if self.unprocessed_rounds:
            self.unprocessed_rounds -= 1
            return {"UnprocessedItems": {table: requests[-1:]}}
        return {"UnprocessedItems": {}}


class FakeS3:
    def __init__(self, *, listings=(), failing_rounds: int = 0):
        self.listings = list(listings)
        self.failing_rounds = failing_rounds
        self.deletes: list[list[dict]] = []

    def list_object_versions(self, **request):
        return self.listings.pop(0)

    def delete_objects(self, Bucket, Delete):
        self.deletes.append(Delete["Objects"])
        if self.failing_rounds:
            self.failing_rounds -= 1
            first = Delete["Objects"][0]
            return {"Errors": [{"Key": first["Key"], "VersionId": first["VersionId"], "Code": "SlowDown"}]}
        return {}


@pytest.fixture
def sleeps(monkeypatch):
    waited: list[float] = []
    monkeypatch.setattr(purge.time, "sleep", waited.append)
    return waited


def _use(monkeypatch, **clients):
    monkeypatch.setattr(purge, "client", lambda service: clients[service])


def _keys(org: str, numbers) -> list[dict]:
    return [{"pk": {"S": f"{org}#{n}"}, "orgcode": {"S": org}} for n in numbers]


ORG_TABLE = purge.TableUnit(service="cat", table="t", keyNames=("pk",), lookup="scan", orgcode="TESTORG")


def test_unprocessed_items_are_retried_with_growing_backoff(monkeypatch, sleeps):
    ddb = FakeDynamoDB(unprocessed_rounds=3)
    _use(monkeypatch, dynamodb=ddb)
    purge.batch_delete("t", [{"pk": {"S": str(n)}} for n in range(25)])
    assert [len(requests) for requests in ddb.writes] == [25, 1, 1, 1]
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps):
        ceiling = purge.BACKOFF_BASE_SECONDS * 2**attempt
        assert ceiling / 2 <= slept <= ceiling


def test_items_that_stay_unprocessed_fail_the_chunk(monkeypatch, sleeps):
    _use(monkeypatch, dynamodb=FakeDynamoDB(unprocessed_rounds=100))
    with pytest.raises(VacuumIncomplete, match="unprocessed"):
        purge.batch_delete("t", [{"pk": {"S": "1"}}])
    assert len(sleeps) == purge.RETRY_ATTEMPTS
    assert max(sleeps) <= purge.BACKOFF_CAP_SECONDS


def test_partial_batches_wait_for_the_next_page(monkeypatch):
    ddb = FakeDynamoDB()
    _use(monkeypatch, dynamodb=ddb)
    tally = purge.Tally(report=lambda counts: None, flush_seconds=3600)
    with ThreadPoolExecutor(max_workers=2) as pool:
        deleter = purge.TableDeleter("t", tally, pool)
        deleter.add([{"pk": {"S": str(n)}} for n in range(30)])
        deleter.add([{"pk": {"S": str(n)}} for n in range(30, 60)])
        assert tally.total.items == 50
        deleter.finish()
    assert sorted(len(batch) for batch in ddb.writes) == [10, 25, 25]
    assert tally.total.items == 60


def test_an_org_chunk_deletes_the_org_keys_page_by_page(monkeypatch):
    pages = [
        {"Items": _keys("TESTORG", range(30)), "Count": 30, "LastEvaluatedKey": {"pk": {"S": "TESTORG#29"}}},
        {"Items": _keys("TESTORG", range(30, 40)), "Count": 10},
    ]
    ddb = FakeDynamoDB(pages=pages)
    _use(monkeypatch, dynamodb=ddb)
    reported: list[int] = []
    result = purge.table_chunk(
        ORG_TABLE, None, dry_run=False, limits=purge.Limits(), report=lambda c: reported.append(c.items)
    )
    assert result.done and result.cursor is None and result.counts.items == 40 and sum(reported) == 40
    assert sorted(len(batch) for batch in ddb.writes) == [15, 25]
    deleted = {request["DeleteRequest"]["Key"]["pk"]["S"] for batch in ddb.writes for request in batch}
    assert deleted == {f"TESTORG#{n}" for n in range(40)}
    assert all(set(r["DeleteRequest"]["Key"]) == {"pk"} for batch in ddb.writes for r in batch)
    first = ddb.requests[0]
    assert first["FilterExpression"] == "#org = :org" and first["ExpressionAttributeValues"] == {
        ":org": {"S": "TESTORG"}
    }
    assert ddb.requests[1]["ExclusiveStartKey"] == {"pk": {"S": "TESTORG#29"}}


def test_a_chunk_stops_at_its_item_budget_and_hands_back_the_cursor(monkeypatch):
    cursor = {"pk": {"S": "TESTORG#9"}}
    ddb = FakeDynamoDB(
        pages=[{"Items": _keys("TESTORG", range(10)), "Count": 10, "LastEvaluatedKey": cursor}]
    )
    _use(monkeypatch, dynamodb=ddb)
    result = purge.table_chunk(
        ORG_TABLE, None, dry_run=False, limits=purge.Limits(chunk_items=10), report=lambda c: None
    )
    assert (result.done, result.cursor, result.counts.items) == (False, cursor, 10)
    assert ddb.requests[0]["Limit"] == 10


def test_an_item_of_another_org_stops_everything_before_any_delete(monkeypatch):
    ddb = FakeDynamoDB(pages=[{"Items": _keys("TESTORG", range(5)) + _keys("testorg", [1]), "Count": 6}])
    _use(monkeypatch, dynamodb=ddb)
    with pytest.raises(VacuumScopeViolation, match="another organisation"):
        purge.table_chunk(ORG_TABLE, None, dry_run=False, limits=purge.Limits(), report=lambda c: None)
    assert ddb.writes == []


def test_a_dry_run_only_counts(monkeypatch):
    ddb = FakeDynamoDB(pages=[{"Count": 7, "LastEvaluatedKey": {"pk": {"S": "x"}}}, {"Count": 5}])
    _use(monkeypatch, dynamodb=ddb)
    result = purge.table_chunk(ORG_TABLE, None, dry_run=True, limits=purge.Limits(), report=lambda c: None)
    assert result.counts.items == 12 and result.done and ddb.writes == []
    assert all(request["Select"] == "COUNT" for request in ddb.requests)


def test_lookups_query_the_right_way():
    index = purge.TableUnit(
        service="c",
        table="t",
        keyNames=("pk", "sk"),
        lookup="index",
        orgIndex="orgcode-index",
        orgcode="TESTORG",
    )
    operation, request = purge._table_request(index, count_only=False)
    assert operation == "query" and request["IndexName"] == "orgcode-index"
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
        orgcode="TESTORG",
    )
    operation, request = purge._table_request(partition, count_only=True)
    assert (
        operation == "query"
        and request["KeyConditionExpression"] == "#org = :org"
        and "IndexName" not in request
    )
    whole = purge.TableUnit(
        service="c", table="t", keyNames=("id",), lookup="all", segment=1, totalSegments=3
    )
    operation, request = purge._table_request(whole, count_only=False)
    assert operation == "scan" and (request["Segment"], request["TotalSegments"]) == (1, 3)
    assert "FilterExpression" not in request and "ExpressionAttributeValues" not in request


def _listing(keys, *, truncated=False, markers=()):
    return {
        "Versions": [{"Key": key, "VersionId": f"v-{key}", "Size": 10} for key in keys],
        "DeleteMarkers": [{"Key": key, "VersionId": f"m-{key}"} for key in markers],
        "IsTruncated": truncated,
    }


def test_a_bucket_chunk_deletes_versions_and_delete_markers_under_the_prefix(monkeypatch, sleeps):
    s3 = FakeS3(
        listings=[
            _listing(["TESTORG/a", "TESTORG/b"], truncated=True, markers=["TESTORG/c"]),
            _listing(["TESTORG/d"]),
        ],
        failing_rounds=1,
    )
    _use(monkeypatch, s3=s3)
    unit = purge.BucketUnit(service="cat", bucket="b", orgcode="TESTORG")
    result = purge.bucket_chunk(unit, None, dry_run=False, limits=purge.Limits(), report=lambda c: None)
    assert result.done and (result.counts.objects, result.counts.bytes) == (4, 30)
    assert [len(batch) for batch in s3.deletes] == [3, 1, 1]  # the failed version alone is retried
    assert {"Key": "TESTORG/c", "VersionId": "m-TESTORG/c"} in s3.deletes[0]
    assert len(sleeps) == 1


def test_a_bucket_listing_outside_the_prefix_deletes_nothing(monkeypatch):
    s3 = FakeS3(listings=[_listing(["TESTORG/a", "testorg/a"])])
    _use(monkeypatch, s3=s3)
    unit = purge.BucketUnit(service="cat", bucket="b", orgcode="TESTORG")
    with pytest.raises(VacuumScopeViolation):
        purge.bucket_chunk(unit, None, dry_run=False, limits=purge.Limits(), report=lambda c: None)
    assert s3.deletes == []


def test_the_tally_reports_deltas_every_flush_interval(monkeypatch):
    clock = iter([0.0, 1.0, 2.5, 2.6, 9.0])
    monkeypatch.setattr(purge.time, "monotonic", lambda: next(clock))
    reports: list[int] = []
    tally = purge.Tally(report=lambda counts: reports.append(counts.items), flush_seconds=2.0)  # clock 0.0
    tally.add(purge.Counts(items=5))  # 1.0: not yet
    tally.add(purge.Counts(items=7))  # 2.5: flush 12 (and restart at 2.6)
    tally.flush()  # final flush: nothing new, no report
    assert reports == [12] and tally.total.items == 12
