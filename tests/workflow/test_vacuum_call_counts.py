"""How many AWS calls a vacuum makes: about one BatchWriteItem per 25 items and one DeleteObjects
per 1,000 object versions (counted with botocore event hooks on the Lambda code's own clients)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from g3n_ops import aws
from tests.support import SECRET
from tests.vacuum_support import (
    batches,
    expected_org_stats,
    plant_dry_run,
    registry,
    wait_done,
)

EXTRA_OBJECTS = 1_100  # with the seeded ones: two DeleteObjects calls for that bucket


@pytest.fixture
def calls():
    """Every call the vacuum Lambdas make, by operation, plus the size of each delete call."""
    counted: Counter[str] = Counter()
    sizes: dict[str, list[int]] = {"BatchWriteItem": [], "DeleteObjects": []}

    def count(event_name, params, **_):
        operation = event_name.rsplit(".", 1)[-1]
        counted[operation] += 1
        if operation == "BatchWriteItem":
            sizes[operation].append(sum(len(requests) for requests in params["RequestItems"].values()))
        elif operation == "DeleteObjects":
            sizes[operation].append(len(params["Delete"]["Objects"]))

    hooked = [(aws.client(service), f"before-parameter-build.{service}") for service in ("dynamodb", "s3")]
    for service_client, event in hooked:
        service_client.meta.events.register(event, count, unique_id="vacuum-call-count")
    yield counted, sizes
    for service_client, event in hooked:
        service_client.meta.events.unregister(event, unique_id="vacuum-call-count")


def _add_objects(bucket: str, prefix: str, count: int) -> None:
    s3 = boto3.client("s3")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=bucket, Key=f"{prefix}bulk/{n:05d}", Body=b"x"), range(count)
            )
        )


def test_one_batch_write_per_25_items_and_one_delete_objects_per_1000_versions(stack, client, calls):
    counted, sizes = calls
    reg = registry()
    bucket = reg.service("cat").buckets[0]
    _add_objects(bucket, "TESTORG/", EXTRA_OBJECTS)
    plant_dry_run("TESTORG")
    counted.clear()

    final = wait_done(client, client.vacuum.org(SECRET, "TESTORG", "count the calls"))
    assert final["status"] == "completed", final.get("error")

    item_counts = [stack["tables"][t.name]["TESTORG"] for s in reg.services if s.org_scoped for t in s.tables]
    assert counted["BatchWriteItem"] == sum(batches(n, 25) for n in item_counts)
    assert max(sizes["BatchWriteItem"]) == 25
    assert sum(sizes["BatchWriteItem"]) == sum(item_counts) == final["stats"]["totals"]["items"]

    expected = expected_org_stats(stack, reg, "TESTORG")
    expected["cat"]["objects"] += EXTRA_OBJECTS
    per_bucket = {b: stack["buckets"][b]["TESTORG"] for s in reg.services for b in s.buckets}
    objects = {b: c["versions"] + c["deleteMarkers"] for b, c in per_bucket.items()}
    objects[bucket] += EXTRA_OBJECTS
    assert counted["DeleteObjects"] == sum(batches(n, 1000) for n in objects.values())
    assert counted["DeleteObjects"] == len(per_bucket) + 1  # the big bucket needs 2 calls
    assert max(sizes["DeleteObjects"]) == 1000
    assert final["stats"]["totals"]["objects"] == sum(objects.values())
