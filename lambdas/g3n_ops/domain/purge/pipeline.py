"""The engine every resource kind runs a chunk on: one thread reads pages ahead while up to
``Limits.writes_in_flight`` delete calls run, and checkpoints follow what AWS confirmed.

Reading and deleting overlap: a reader thread lists page N+1 while page N's batches are in
flight, so the writers never wait for a listing. Deletes are batched across pages (a partial
batch waits for the next page), so a table costs one BatchWriteItem per 25 items.

The checkpoint contract (``checkpoint(delta, cursor, done)``):
- ``delta`` holds only what AWS confirmed (or, in a dry-run, what was read); ``cursor`` is the
  last *safe point*: every page before it is wholly confirmed. Work confirmed past it (a later
  page's first batches) is in the delta too: resuming re-reads from the cursor and finds only
  what is left, so nothing is missed and nothing counted twice.
- It is called at most every ``Limits.flush_seconds``, once more at the end (``done`` = the unit
  is finished), and, when the chunk fails, from the error path after the writes in flight have
  ended, with what was confirmed since the last checkpoint.
- A checkpoint that raises stops the chunk. An AWS error (ClientError, BotoCoreError, or OPS's
  Aws* errors) means it recorded nothing: its delta is sent again by the error path. Any other
  exception is a stop signal sent after recording (the run is no longer running): only what
  was confirmed after it is sent. The original exception propagates either way.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.contract.errors import AwsAccessDenied, AwsError, AwsServerError, AwsThrottled
from g3n_ops.observability import logger

from . import calls
from .counting import Checkpoint, ChunkResult, Clock, Counts, Cursor

# A checkpoint failing with one of these recorded nothing (see the module's docstring).
NOT_RECORDED = (ClientError, BotoCoreError, AwsThrottled, AwsServerError, AwsAccessDenied, AwsError)
READ_AHEAD_PAGES = 2


@dataclass
class Page:
    entries: list  # what to delete (nothing in a dry-run)
    counts: Counts  # counted when read: a dry-run's counts (deletes count when AWS confirms them)
    cursor: Cursor  # where to go on from once this page and every earlier one are confirmed
    more: bool  # the unit has more after this page
    # The next listing starts from this page's last entry (S3 markers, Logs tokens): keep that
    # entry until the next page is listed, so a marker never names something already deleted.
    anchored: bool = False


# write(batch, budget_seconds) -> what AWS confirmed deleted; raises if some of it stayed undone.
Write = Callable[[list, float], Counts]


@dataclass
class Checkpoints:
    """What has been confirmed and what of it the caller has been told (one per chunk)."""

    checkpoint: Checkpoint
    clock: Clock
    cursor: Cursor  # the last safe point
    total: Counts = field(default_factory=Counts)
    pending: Counts = field(default_factory=Counts)  # confirmed, not yet checkpointed
    sent_cursor: Cursor = None
    last_sent: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.sent_cursor = self.cursor

    def confirmed(self, counts: Counts) -> None:
        self.total.add(counts)
        self.pending.add(counts)

    def maybe(self) -> None:
        if time.monotonic() - self.last_sent >= self.clock.limits.flush_seconds and self._news():
            self.send(done=False)

    def send(self, *, done: bool) -> None:
        # A copy: the caller may keep it. Only this (the coordinating) thread adds to ``pending``.
        delta = Counts(**self.pending.as_dict())
        try:
            self.checkpoint(delta, self.cursor, done)
        except NOT_RECORDED:
            raise
        except BaseException:
            self._sent()
            raise
        self._sent()

    def last_words(self) -> None:
        """The error path's checkpoint: never raises (the original error is the one to report)."""
        if not self._news():
            return
        try:
            self.send(done=False)
        except BaseException as error:  # the chunk is already failing with another
            logger.warning("final checkpoint failed", extra={"error": f"{type(error).__name__}: {error}"})

    def _news(self) -> bool:
        return bool(self.pending) or self.cursor != self.sent_cursor

    def _sent(self) -> None:
        self.pending = Counts()
        self.sent_cursor = self.cursor
        self.last_sent = time.monotonic()


class _End:
    pass


@dataclass
class _Failed:
    error: BaseException


@dataclass
class _Written:
    batch: list[tuple[int, Any]]  # (page seq, entry)
    counts: Counts | None = None
    error: BaseException | None = None
    skipped: bool = False  # the chunk was already stopping: not sent


class _Reader:
    """Lists pages on its own thread, at most ``READ_AHEAD_PAGES`` ahead of the deletes."""

    def __init__(self, pages: Iterator[Page], events: queue.Queue, name: str) -> None:
        self.pages = pages
        self.events = events
        self.permits = threading.Semaphore(READ_AHEAD_PAGES)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"vacuum-read-{name}", daemon=True)
        self.thread.start()

    def consumed(self) -> None:
        self.permits.release()

    def _loop(self) -> None:
        try:
            while True:
                while not self.permits.acquire(timeout=0.05):
                    if self.stop.is_set():
                        return
                if self.stop.is_set():
                    return
                page = next(self.pages, None)
                if page is None:
                    self.events.put(_End())
                    return
                self.events.put(page)
        except BaseException as error:  # handed to the coordinating thread, which raises it
            self.events.put(_Failed(error))


class _Writers:
    """``writes_in_flight`` threads, each taking the next batch as soon as its last one is done
    (no round trip through the coordinating thread between two writes)."""

    def __init__(self, write: Write, count: int, clock: Clock, events: queue.Queue, name: str) -> None:
        self.write = write
        self.clock = clock
        self.events = events
        self.work: queue.Queue = queue.Queue(maxsize=count)
        self.stop = threading.Event()
        self.outstanding = 0
        self.threads = [
            threading.Thread(target=self._loop, name=f"vacuum-write-{name}-{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, batch: list[tuple[int, Any]]) -> None:
        self.outstanding += 1
        self.work.put(batch)

    def close(self) -> None:
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            thread.join()

    def _loop(self) -> None:
        while True:
            batch = self.work.get()
            if batch is None:
                return
            if self.stop.is_set():
                self.events.put(_Written(batch, skipped=True))
                continue
            try:
                counts = self.write([entry for _, entry in batch], self.clock.retry_budget())
            except BaseException as error:  # reported to the coordinating thread, which raises it
                self.events.put(_Written(batch, error=error))
            else:
                self.events.put(_Written(batch, counts=counts))


def run(
    pages: Iterator[Page],
    write: Write,
    *,
    batch_size: int,
    state: Checkpoints,
    name: str,
) -> bool:
    """Deletes (or counts) what ``pages`` yields; returns whether the unit is exhausted. The
    caller sends the final checkpoint (a bucket runs two phases before it is done)."""
    events: queue.Queue = queue.Queue()  # pages from the reader, results from the writers
    open_pages: OrderedDict[int, list] = OrderedDict()  # seq -> [entries unconfirmed, cursor]
    buffer: list[tuple[int, Any]] = []
    held: tuple[int, Any] | None = None
    exhausted = False
    seq = 0
    writers = _Writers(write, state.clock.limits.writes_in_flight, state.clock, events, name)
    reader = _Reader(pages, events, name)

    def written(result: _Written, *, failing: bool = False) -> None:
        writers.outstanding -= 1
        if result.skipped:
            return
        if result.error is not None:
            state.confirmed(calls.confirmed_by(result.error))  # what AWS deleted before it failed
            raise result.error  # the error path takes over; the batch's pages stay unconfirmed
        for page_seq, _ in result.batch:
            open_pages[page_seq][0] -= 1
        state.confirmed(result.counts or Counts())
        advance()
        if not failing:  # a failing chunk checkpoints once, at the end of its error path
            state.maybe()

    def advance() -> None:
        while open_pages:
            page_seq, (unconfirmed, cursor) = next(iter(open_pages.items()))
            if unconfirmed:
                return
            state.cursor = cursor
            open_pages.pop(page_seq)

    try:
        while True:
            item = events.get()
            if isinstance(item, _Written):
                written(item)
                continue
            if isinstance(item, _Failed):
                raise item.error
            if isinstance(item, _End):
                break
            seq += 1
            page: Page = item
            state.confirmed(page.counts)
            entries = list(page.entries)
            if held is not None:  # this page is listed: the previous page's anchor may go
                buffer.append(held)
                held = None
            open_pages[seq] = [len(entries), page.cursor]
            if page.anchored and page.more and entries:
                held = (seq, entries.pop())
            buffer.extend((seq, entry) for entry in entries)
            while len(buffer) >= batch_size:
                writers.submit(buffer[:batch_size])  # blocks while every writer is busy
                buffer = buffer[batch_size:]
            reader.consumed()
            exhausted = not page.more
            advance()
            state.maybe()
        if held is not None:
            buffer.append(held)
        while buffer:
            writers.submit(buffer[:batch_size])
            buffer = buffer[batch_size:]
        while writers.outstanding:
            item = events.get()
            if isinstance(item, _Written):
                written(item)
        advance()
        return exhausted
    except BaseException:
        reader.stop.set()
        writers.stop.set()
        while writers.outstanding:  # the writes in flight end; each may still be confirmed
            item = events.get()
            if isinstance(item, _Written):
                try:
                    written(item, failing=True)
                except BaseException as error:  # the first error is the one raised
                    logger.warning("a delete in flight failed", extra={"error": type(error).__name__})
        advance()
        state.last_words()
        raise
    finally:
        writers.close()


def run_chunk_of(
    pages: Iterator[Page],
    write: Write,
    *,
    batch_size: int,
    clock: Clock,
    cursor: Cursor,
    checkpoint: Checkpoint,
    name: str,
) -> ChunkResult:
    """One phase as a whole chunk: run it, then the final checkpoint."""
    state = Checkpoints(checkpoint, clock, cursor)
    exhausted = run(pages, write, batch_size=batch_size, state=state, name=name)
    return finish(state, done=exhausted)


def finish(state: Checkpoints, *, done: bool) -> ChunkResult:
    try:
        state.send(done=done)
    except NOT_RECORDED:
        state.last_words()
        raise
    return ChunkResult(counts=state.total, cursor=state.cursor, done=done)
