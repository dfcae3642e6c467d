"""Seeding's writes straight into this process's moto backends (the local stack's server runs
here): the calls moto's own handlers make, without an HTTP round trip each (~2,700 items, ~500
object writes and ~70 log calls per seed). Each takes what the matching boto3 call takes."""

from __future__ import annotations

import copy


class DynamoDBItems:
    """Items, through the ``put_item`` moto's BatchWriteItem handler calls. The first write of a
    list of items to a table keeps a copy of the items moto stored; a later write of that same
    list (the seed's plan is drawn once per process) to the table, empty again after a reset,
    stores copies of those: ~4x cheaper than validating and sizing each item again."""

    _stored: dict[str, tuple[list[dict], tuple, list]] = {}  # table -> (items, key names, Items)

    def __init__(self, account: str, region: str) -> None:
        from moto.dynamodb.models import dynamodb_backends

        self._backend = dynamodb_backends[account][region]

    def put_items(self, table: str, items: list[dict]) -> None:
        found = self._backend.get_table(table)
        keys = (found.hash_key_attr, found.range_key_attr)
        stored = self._stored.get(table)
        same = stored is not None and stored[0] is items and stored[1] == keys
        if same and not found.items and found.stream_shard is None:
            for template in stored[2]:
                item = copy.deepcopy(template)
                if item.range_key is None:
                    found.items[item.hash_key] = item
                else:
                    found.items[item.hash_key][item.range_key] = item
            return
        written = [self._backend.put_item(table, item) for item in items]
        self._stored[table] = (items, keys, [copy.deepcopy(item) for item in written])


class S3Objects:
    """Object versions and delete markers, through the ``put_object`` and ``delete_object``
    moto's PutObject and DeleteObject handlers call (a version per put on a versioned bucket)."""

    def __init__(self, account: str) -> None:
        from moto.s3.models import s3_backends

        self._backend = s3_backends[account]["aws"]

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> None:
        self._backend.put_object(Bucket, Key, Body)

    def delete_object(self, *, Bucket: str, Key: str) -> None:
        self._backend.delete_object(Bucket, Key)


class LogEvents:
    """Log streams and their events, through the ``create_log_stream`` and ``put_log_events``
    moto's CreateLogStream and PutLogEvents handlers call."""

    def __init__(self, account: str, region: str) -> None:
        from moto.logs.models import logs_backends

        self._backend = logs_backends[account][region]

    def create_log_stream(self, *, logGroupName: str, logStreamName: str) -> None:
        self._backend.create_log_stream(logGroupName, logStreamName)

    def put_log_events(self, *, logGroupName: str, logStreamName: str, logEvents: list[dict]) -> None:
        self._backend.put_log_events(logGroupName, logStreamName, logEvents)


class ServiceResources:
    """The registry's tables, buckets and log groups, through the backend calls moto's CreateTable,
    CreateBucket + PutBucketVersioning and CreateLogGroup handlers make, with the arguments those
    handlers pass for the requests ``provision`` would send (every reset makes ~40 of them)."""

    def __init__(self, account: str, region: str) -> None:
        from moto.dynamodb.models import dynamodb_backends
        from moto.logs.models import logs_backends
        from moto.s3.models import s3_backends

        self.region = region
        self._dynamodb = dynamodb_backends[account][region]
        self._s3 = s3_backends[account]["aws"]
        self._logs = logs_backends[account][region]

    def create_table(self, definition: dict) -> None:
        """``definition``: CreateTable's arguments, on demand (``table_definition``)."""
        self._dynamodb.create_table(
            definition["TableName"],
            schema=definition["KeySchema"],
            throughput=None,
            attr=definition["AttributeDefinitions"],
            global_indexes=definition.get("GlobalSecondaryIndexes") or [],
            indexes=[],
            streams=None,
            billing_mode=definition["BillingMode"],
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )

    def create_versioned_bucket(self, name: str) -> None:
        self._s3.create_bucket(name, self.region, bucket_namespace=None)
        self._s3.put_bucket_versioning(name, "Enabled")

    def create_log_group(self, name: str) -> None:
        self._logs.create_log_group(name, None, kmsKeyId=None)
