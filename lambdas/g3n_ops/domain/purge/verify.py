"""Verification: is anything left of a unit? Chunked like the purge (a cursor, the same time
and item limits) and patient: a page that shows leftovers is read again after growing delays
(``Limits.settle_seconds``, ``settle_attempts``) before they are believed, so a read that is
eventually consistent (a GSI, a log stream listing) is not taken for a leftover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import calls
from .buckets import LIST_UPLOADS, list_uploads, list_versions, versions_of
from .counting import Clock, Limits
from .log_groups import LOG_STREAM_PAGE, describe_streams
from .tables import read_table_page
from .units import BucketUnit, Cursor, LogGroupUnit, TableUnit, WorkUnit

VERIFY_TABLE_PAGE = 10_000  # a COUNT page: DynamoDB caps it at 1 MB read anyway


@dataclass(frozen=True)
class VerifyResult:
    left: int  # leftovers found on the page that settled with some (0: none so far)
    cursor: Cursor  # where the next verify chunk goes on from
    done: bool  # checked to the end, or leftovers found (no need to look further)


# check(cursor, clock) -> (leftovers on this page, cursor after it (None at the end), the page's
# size: items, versions or streams it may have examined, counted against the chunk's item limit)
Check = Callable[[Cursor, Clock], tuple[int, Cursor, int]]


def _table_check(unit: TableUnit) -> Check:
    def check(cursor: Cursor, clock: Clock) -> tuple[int, Cursor, int]:
        limit = clock.page(VERIFY_TABLE_PAGE)
        page = read_table_page(unit, cursor, count_only=True, budget=clock.retry_budget(), limit=limit)
        return page.count, page.cursor, limit

    return check


def _bucket_check(unit: BucketUnit) -> Check:
    def check(cursor: Cursor, clock: Clock) -> tuple[int, Cursor, int]:
        phase = (cursor or {}).get("phase", "uploads")
        limit, budget = clock.page(LIST_UPLOADS), clock.retry_budget()
        if phase == "uploads":
            response = list_uploads(unit, cursor, budget=budget, limit=limit)
            more = bool(response.get("IsTruncated")) and bool(response.get("Uploads"))
            after = {"phase": "uploads", "keyMarker": response.get("NextKeyMarker"),
                     "uploadIdMarker": response.get("NextUploadIdMarker")}  # fmt: skip
            return len(response.get("Uploads", [])), after if more else {"phase": "versions"}, limit
        response = list_versions(unit, cursor, budget=budget, limit=limit)
        more = bool(response.get("IsTruncated")) and bool(versions_of(response))
        after = {"phase": "versions", "keyMarker": response.get("NextKeyMarker"),
                 "versionIdMarker": response.get("NextVersionIdMarker")}  # fmt: skip
        return len(versions_of(response)), after if more else None, limit

    return check


def _log_group_check(unit: LogGroupUnit, created_before_ms: int) -> Check:
    """Streams a running service opened after the run started are not leftovers."""

    def check(cursor: Cursor, clock: Clock) -> tuple[int, Cursor, int]:
        limit = clock.page(LOG_STREAM_PAGE)
        response = describe_streams(
            unit, (cursor or {}).get("nextToken"), budget=clock.retry_budget(), limit=limit
        )
        streams = response.get("logStreams", [])
        old = sum(1 for stream in streams if stream["creationTime"] < created_before_ms)
        token = response.get("nextToken")
        return old, {"nextToken": token} if streams and token else None, limit

    return check


def verify_chunk(unit: WorkUnit, cursor: Cursor, *, limits: Limits, created_before_ms: int) -> VerifyResult:
    """Check ``unit`` for leftovers from ``cursor`` on, for at most one chunk (its time, and
    ``chunk_items`` examined)."""
    if isinstance(unit, TableUnit):
        check = _table_check(unit)
    elif isinstance(unit, BucketUnit):
        check = _bucket_check(unit)
    else:
        check = _log_group_check(unit, created_before_ms)
    clock = Clock(limits)
    examined = 0
    while True:
        left, after, size = check(cursor, clock)
        for attempt in range(limits.settle_attempts):
            if not left:
                break
            calls.pause(limits.settle_seconds * 2**attempt)
            left, after, size = check(cursor, clock)
        if left:
            return VerifyResult(left=left, cursor=cursor, done=True)
        if after is None:
            return VerifyResult(left=0, cursor=None, done=True)
        cursor, examined = after, examined + size
        if clock.spent(examined):
            return VerifyResult(left=0, cursor=cursor, done=False)


def remaining(unit: WorkUnit, *, created_before_ms: int, limits: Limits | None = None) -> int:
    """Leftovers of the whole unit (verify chunks until done): 0 means nothing is left."""
    limits = limits or Limits.from_environment()
    cursor: Cursor = None
    while True:
        result = verify_chunk(unit, cursor, limits=limits, created_before_ms=created_before_ms)
        if result.done:
            return result.left
        cursor = result.cursor
