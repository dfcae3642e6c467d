"""Seeding's writes straight into this process's moto backends (the local stack's server runs
here): the calls moto's own handlers make, without an HTTP round trip each (~2,700 items, ~500
object writes and ~70 log calls per seed). Each takes what the matching boto3 call takes."""

from __future__ import annotations


class DynamoDBItems:
    """Items, through the ``put_item`` moto's BatchWriteItem handler calls."""

    def __init__(self, account: str, region: str) -> None:
        from moto.dynamodb.models import dynamodb_backends

        self._backend = dynamodb_backends[account][region]

    def put_items(self, table: str, items: list[dict]) -> None:
        for item in items:
            self._backend.put_item(table, item)


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
