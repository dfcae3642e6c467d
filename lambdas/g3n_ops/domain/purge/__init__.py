"""Purging — or, for a dry-run, counting — one unit of vacuum work, one bounded chunk at a time.

A unit is a DynamoDB table (or one parallel scan segment of it), an S3 bucket (or one org's
prefix in it) or a log group. A chunk runs until ``Limits.chunk_seconds`` (most of the Lambda
timeout) or ``Limits.chunk_items``, checkpoints what AWS confirmed as it goes, and hands back a
cursor to go on from (see ``pipeline`` for the checkpoint contract).

Safety rules, enforced here whatever the caller asks:
- an org unit only ever deletes what carries that orgcode (key, GSI key or S3 prefix); a lookup
  answer outside the org stops the run (``VacuumScopeViolation``) before anything of it is deleted;
- a whole-table/whole-bucket unit has no orgcode; a unit cannot be both;
- log groups keep existing: only their streams (and so their events) go.

One module per concern: ``units`` (what travels in the state machine), ``counting`` (limits,
clock, counts), ``calls`` (retries within a budget), ``pipeline`` (read ahead, writes in flight,
checkpoints), one per resource kind, and ``verify``.
"""

from __future__ import annotations

from .buckets import DELETE_OBJECTS_KEYS, bucket_chunk
from .counting import Checkpoint, ChunkResult, Clock, Counts, Limits
from .log_groups import LOG_STREAM_PAGE, log_group_chunk
from .tables import BATCH_WRITE_ITEMS, TABLE_PAGE_ITEMS, segment_count, table_chunk, table_item_count
from .units import UNIT, BucketUnit, Cursor, LogGroupUnit, TableUnit, WorkUnit, describe
from .verify import VerifyResult, remaining, verify_chunk

__all__ = [
    "BATCH_WRITE_ITEMS", "DELETE_OBJECTS_KEYS", "LOG_STREAM_PAGE", "TABLE_PAGE_ITEMS", "UNIT",
    "BucketUnit", "Checkpoint", "ChunkResult", "Clock", "Counts", "Cursor", "Limits",
    "LogGroupUnit", "TableUnit", "VerifyResult", "WorkUnit", "bucket_chunk", "describe",
    "log_group_chunk", "remaining", "run_chunk", "segment_count", "table_chunk",
    "table_item_count", "verify_chunk",
]  # fmt: skip


def run_chunk(
    unit: WorkUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint
) -> ChunkResult:
    if isinstance(unit, TableUnit):
        return table_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)
    if isinstance(unit, BucketUnit):
        return bucket_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)
    return log_group_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)
