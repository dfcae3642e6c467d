"""What a chunk may do (``Limits``), how long it has (``Clock``) and what it counts (``Counts``).

Counts are of what AWS confirmed: a BatchWriteItem with no UnprocessedItems left, DeleteObjects'
``Deleted`` entries, a DeleteLogStream/AbortMultipartUpload that answered. A dry-run counts what
it read. There is no ``logBytes``: CloudWatch Logs reports a stream's ``storedBytes`` as 0 (the
field has been deprecated since 2019) and a log group's figure lags by hours and still moves
while services write, so no byte count of what a vacuum deleted holds in AWS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from g3n_ops import retry
from g3n_ops.settings import settings

from .units import Cursor

LAMBDA_TIMEOUT_SECONDS = 900  # the vacuum-steps function's timeout (infra/catalogue.py)


@dataclass
class Counts:
    items: int = 0
    objects: int = 0
    bytes: int = 0
    uploads: int = 0  # incomplete multipart uploads aborted
    logStreams: int = 0  # camelCase: the stats document's field names

    def add(self, other: Counts) -> None:
        for name in self.as_dict():
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}

    def __bool__(self) -> bool:
        return any(self.as_dict().values())


# checkpoint(delta, cursor, done): see ``pipeline.run``.
Checkpoint = Callable[[Counts, Cursor, bool], None]


@dataclass(frozen=True)
class ChunkResult:
    counts: Counts
    cursor: Cursor
    done: bool


@dataclass(frozen=True)
class Limits:
    """How much one chunk (one Lambda invocation) may do.

    ``chunk_seconds``: after this no new page is read (the work in flight still finishes);
    ``deadline_seconds``: every AWS call of the chunk, retries included, ends by then, so the
    final checkpoint always runs inside the Lambda timeout. Both are measured from the chunk's
    start; ``from_environment`` derives them from the function's timeout."""

    chunk_items: int = 10_000_000
    chunk_seconds: float = LAMBDA_TIMEOUT_SECONDS - 120.0
    deadline_seconds: float = LAMBDA_TIMEOUT_SECONDS - 20.0
    flush_seconds: float = 2.0  # at most this often a chunk checkpoints (the final one aside)
    segment_items: int = 250_000  # a whole-table scan gets one parallel segment per this many items
    max_segments: int = 64
    writes_in_flight: int = 16  # delete calls in flight per unit (BatchWriteItem, DeleteObjects…)
    retry_seconds: float = retry.DEFAULT_BUDGET_SECONDS  # transient errors of one call, per call
    settle_seconds: float = 2.0  # verify: first wait before re-reading a page that shows leftovers
    settle_attempts: int = 3  # verify: re-reads (waits double) before leftovers are believed

    @classmethod
    def from_environment(cls) -> Limits:
        """Deploy-time settings: a chunk, which starts its invocation, uses all of the function's
        timeout but ``VACUUM_CHUNK_HEADROOM_SECONDS`` (drain the writes in flight, checkpoint)."""
        tuning = settings()
        headroom = tuning.vacuum_chunk_headroom_seconds
        available = float(LAMBDA_TIMEOUT_SECONDS)
        deadline = max(1.0, available - min(20.0, headroom / 2))
        chunk_seconds = max(0.5, available - headroom)
        if tuning.vacuum_chunk_seconds is not None:
            chunk_seconds = min(chunk_seconds, tuning.vacuum_chunk_seconds)
        return cls(
            chunk_items=tuning.vacuum_chunk_items,
            chunk_seconds=chunk_seconds,
            deadline_seconds=deadline,
            segment_items=tuning.vacuum_segment_items,
            max_segments=tuning.vacuum_max_segments,
            writes_in_flight=tuning.vacuum_writes_in_flight,
            retry_seconds=retry.budget_seconds(),
            settle_seconds=tuning.vacuum_settle_seconds,
        )


@dataclass
class Clock:
    """One chunk's time: when to stop reading, and how long a call may still retry."""

    limits: Limits
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def spent(self, processed: int) -> bool:
        """``processed``: items, versions or streams this chunk has read so far."""
        return processed >= self.limits.chunk_items or self.elapsed() >= self.limits.chunk_seconds

    def retry_budget(self) -> float:
        return max(0.0, min(self.limits.retry_seconds, self.limits.deadline_seconds - self.elapsed()))

    def page(self, largest: int) -> int:
        """A page no larger than the whole chunk (small chunks stay small)."""
        return max(1, min(largest, self.limits.chunk_items))
