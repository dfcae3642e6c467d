"""CloudWatch Logs: delete a group's streams (their events go with them); the group stays.

DeleteLogStream is one call per stream, so several run in flight. A stream a listing still
shows after it was deleted (the listing is eventually consistent) answers
ResourceNotFoundException: it is not counted again. Like buckets, a deleting chunk lists from
the start (checkpoint cursor None); a dry-run's cursor is the listing's token.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.aws import client, error_code

from . import calls
from .counting import Checkpoint, ChunkResult, Clock, Counts, Limits
from .pipeline import Page, run_chunk_of
from .units import Cursor, LogGroupUnit

LOG_STREAM_PAGE = 50  # DescribeLogStreams maximum


def describe_streams(
    unit: LogGroupUnit, token: str | None, *, budget: float, limit: int = LOG_STREAM_PAGE
) -> dict:
    request: dict[str, Any] = {"logGroupName": unit.log_group, "limit": limit}
    if token:
        request["nextToken"] = token
    return calls.call(
        client("logs").describe_log_streams,
        doing=f"listing streams of {unit.log_group}",
        budget=budget,
        **request,
    )


def delete_streams(log_group: str, streams: list[dict], budget: float) -> Counts:
    deleted = Counts()
    with calls.reporting(deleted):
        for stream in streams:
            try:
                calls.call(
                    client("logs").delete_log_stream,
                    doing=f"deleting a stream of {log_group}",
                    budget=budget,
                    logGroupName=log_group,
                    logStreamName=stream["logStreamName"],
                )
            except ClientError as error:
                if error_code(error) != "ResourceNotFoundException":
                    raise
                continue
            deleted.logStreams += 1
    return deleted


def _pages(unit: LogGroupUnit, cursor: Cursor, *, dry_run: bool, clock: Clock) -> Iterator[Page]:
    token = cursor.get("nextToken") if dry_run and cursor else None
    read = 0
    while True:
        response = describe_streams(
            unit, token, budget=clock.retry_budget(), limit=clock.page(LOG_STREAM_PAGE)
        )
        streams = [{"logStreamName": s["logStreamName"]} for s in response.get("logStreams", [])]
        read += len(streams)
        token = response.get("nextToken")
        more = bool(streams) and bool(token)
        yield Page(
            entries=[] if dry_run else streams,
            counts=Counts(logStreams=len(streams)) if dry_run else Counts(),
            cursor={"nextToken": token} if dry_run and more else None,
            more=more,
            anchored=True,
        )
        if not more or clock.spent(read):
            return


def log_group_chunk(
    unit: LogGroupUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint
) -> ChunkResult:
    clock = Clock(limits)
    return run_chunk_of(
        _pages(unit, cursor, dry_run=dry_run, clock=clock),
        lambda streams, budget: delete_streams(unit.log_group, streams, budget),
        batch_size=1,
        clock=clock,
        cursor=cursor if dry_run else None,
        checkpoint=checkpoint,
        name=unit.log_group,
    )
