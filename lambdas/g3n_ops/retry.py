"""Retrying transient AWS errors within a time budget sized for minutes, not seconds.

botocore's own retries (standard mode, 5 attempts) absorb a blip; a burst of throttling during an
hours-long vacuum needs more. ``call`` retries throttling and 5xx errors with capped exponential
backoff and full jitter until ``budget_seconds`` is spent, then raises the stable
``AwsThrottled``/``AwsServerError`` that the state machine retries again with its own backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.aws import is_transient, translate
from g3n_ops.observability import logger
from g3n_ops.settings import default_of, settings

T = TypeVar("T")
DEFAULT_BUDGET_SECONDS = default_of("vacuum_retry_seconds")  # deploy-time VACUUM_RETRY_SECONDS
BASE_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 20.0


def budget_seconds() -> float:
    return settings().vacuum_retry_seconds


def call(
    function: Callable[..., T],
    *args,
    doing: str,
    budget: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    **kwargs,
) -> T:
    """``function(*args, **kwargs)``, retried on transient AWS errors for up to ``budget`` seconds."""
    budget = budget_seconds() if budget is None else budget
    deadline = time.monotonic() + budget
    attempt = 0
    while True:
        try:
            return function(*args, **kwargs)
        except (ClientError, BotoCoreError) as error:
            if not is_transient(error):
                raise
            delay = random.uniform(0, min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**attempt))
            if time.monotonic() + delay > deadline:
                logger.warning("retry budget spent", extra={"doing": doing, "attempts": attempt + 1})
                raise translate(error, doing=doing) from None
            attempt += 1
            sleep(delay)
