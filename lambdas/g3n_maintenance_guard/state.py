"""The maintenance state item: reading it (a missing item is "no maintenance", every failure of a
read is one of ``READ_ERRORS``) and what a window in it says (whom it applies to, the methods it
lets through, the bypass digest, Retry-After)."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.parameters import DynamoDBProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import BotoCoreError

from g3n_maintenance_guard.config import (
    HTTP_METHODS,
    MIN_RETRY_AFTER_SECONDS,
    OVERRUNNING_RETRY_AFTER_SECONDS,
)

_INACTIVE_JSON = '{"active": false}'


class MalformedState(ValueError):
    """The state item holds something other than a JSON object."""


class StateProvider(DynamoDBProvider):
    """Powertools' DynamoDB provider, except that a missing item reads as "no maintenance": the
    base class raises for it, which the guard could not tell apart from an outage."""

    def _get(self, name: str, **sdk_options) -> str:
        sdk_options["Key"] = {self.key_attr: name}
        item = self.table.get_item(**sdk_options).get("Item")
        return _INACTIVE_JSON if item is None else item[self.value_attr]


# Everything a read of the state can raise: GetParameterError wraps every failure of the read itself
# (AccessDenied, throttling, unreachable endpoint, an item without its value); the others come from
# a value that is not a JSON object, or from building the client (no region, no table name).
READ_ERRORS = (GetParameterError, TransformParameterError, MalformedState, BotoCoreError, LookupError)


def retry_after_seconds(remaining: float | None) -> int:
    """Seconds a client should wait, given the seconds until the expected end (None: no end in sight)."""
    if remaining is None:
        return OVERRUNNING_RETRY_AFTER_SECONDS
    if remaining <= 0:
        return (
            OVERRUNNING_RETRY_AFTER_SECONDS
            if remaining < -MIN_RETRY_AFTER_SECONDS
            else MIN_RETRY_AFTER_SECONDS
        )
    return max(MIN_RETRY_AFTER_SECONDS, int(remaining + 0.999))


def expected_end(state: dict) -> datetime | None:
    expected_end = state.get("expectedEnd")
    if state.get("overrunning") or not expected_end:
        return None
    try:
        end = datetime.fromisoformat(expected_end)
    except (TypeError, ValueError):
        return None
    return end if end.tzinfo else end.replace(tzinfo=UTC)


def allowed_methods(state: dict) -> frozenset[str]:
    """The HTTP methods a window lets through (read-only maintenance); anything unknown is ignored."""
    methods = state.get("allowMethods")
    if not isinstance(methods, list):
        return frozenset()
    return frozenset(method for method in methods if method in HTTP_METHODS)


def bypass_digest(state: dict) -> bytes | None:
    """The bypass token's SHA-256 (32 bytes) from the state, or None (no bypass, or not a digest)."""
    digest = state.get("bypassSha256")
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    try:
        return bytes.fromhex(digest)
    except ValueError:
        return None


def applies_to(state: dict, code: str) -> bool:
    """Whether the window in ``state`` covers the service ``code`` (no ``services``: all do)."""
    services = state.get("services")
    return not isinstance(services, list) or code in services


def retry_after(state: dict, *, moment: datetime | None = None) -> int:
    """Seconds until the expected end (at least the minimum); a default once it is overrunning."""
    end = expected_end(state)
    if end is None:
        return OVERRUNNING_RETRY_AFTER_SECONDS
    return retry_after_seconds((end - (moment or datetime.now(UTC))).total_seconds())
