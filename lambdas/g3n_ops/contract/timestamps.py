"""The one timestamp format: ISO 8601 in UTC with a ``Z``, milliseconds unless a record says
seconds (schedules and the public page, which people read). Stored timestamps sort as strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal


def iso(moment: datetime, timespec: Literal["milliseconds", "seconds"] = "milliseconds") -> str:
    """``2026-12-01T02:00:00.000Z``; a naive moment is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def iso_seconds(moment: datetime) -> str:
    """Whole seconds: what a Wait state's TimestampPath accepts everywhere, and what people read."""
    return iso(moment, "seconds")


def parse_iso(text: str) -> datetime:
    """Any ISO 8601 timestamp OPS wrote (``Z`` or an offset); a naive one is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
