"""Every data-plane AWS call of a purge goes through here: transient errors (a whole call
throttled or failing 5xx, or some of its keys left unprocessed) are retried with jittered
backoff within ONE time budget per batch, sized for minutes (``VACUUM_RETRY_SECONDS``) and cut
to what the chunk has left, so the chunk always ends, and checkpoints, inside the Lambda timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from g3n_ops import retry
from g3n_ops.aws import SERVER_ERROR_CODES, THROTTLING_CODES
from g3n_ops.contract.errors import AwsThrottled
from g3n_ops.observability import logger

from .counting import Counts

T = TypeVar("T")
P = TypeVar("P")


@contextmanager
def reporting(confirmed: Counts) -> Iterator[None]:
    """A write that fails part-way still deleted something: the error carries what AWS had
    confirmed (``confirmed_by``), so the chunk counts it."""
    try:
        yield
    except BaseException as error:
        error.confirmed = confirmed  # type: ignore[attr-defined]
        raise


def confirmed_by(error: BaseException) -> Counts:
    return getattr(error, "confirmed", None) or Counts()


def pause(seconds: float) -> None:
    time.sleep(seconds)


def backoff(attempt: int) -> float:
    """Full jitter, capped: parallel writers do not retry in step."""
    return random.uniform(0, min(retry.MAX_DELAY_SECONDS, retry.BASE_DELAY_SECONDS * 2**attempt))


def call(function: Callable[..., T], *args, doing: str, budget: float, **kwargs) -> T:
    return retry.call(function, *args, doing=doing, budget=budget, sleep=lambda s: pause(s), **kwargs)


def is_transient_code(code: str) -> bool:
    """A per-key error (DeleteObjects ``Errors``) worth retrying."""
    return code in THROTTLING_CODES or code in SERVER_ERROR_CODES


def until_done(send: Callable[[P, float], P | None], pending: P, *, doing: str, budget: float) -> None:
    """``send(pending, budget_left)`` returns what is still pending (falsy when done): the keys
    AWS left unprocessed or reported as transient errors. Retried with backoff until done or
    ``budget`` seconds are spent, then ``AwsThrottled`` (the state machine retries the chunk)."""
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        left = send(pending, max(0.0, deadline - time.monotonic()))
        if not left:
            return
        pending = left
        delay = backoff(attempt)
        if time.monotonic() + delay > deadline:
            size = len(pending) if hasattr(pending, "__len__") else "some"  # type: ignore[arg-type]
            logger.warning("retry budget spent", extra={"doing": doing, "attempts": attempt + 1})
            raise AwsThrottled(
                f"{doing}: {size} key(s) still unprocessed when the retry budget was spent; retry shortly"
            )
        attempt += 1
        pause(delay)
