"""The maintenance guard the platform's API services put in front of their handlers.

While OPS has a maintenance window active, guarded requests are answered ``503`` with a
``Retry-After`` header, a ``Link`` header to the public status page (when one is configured) and
a JSON body ``{message, maintenanceId, latestUpdate, expectedEnd, statusPage}``. The state is one
small DynamoDB item in the OPS table (``pk = "maintenance#state"``, attribute ``value`` = JSON),
read through Powertools' ``DynamoDBProvider`` at most once per ``G3N_MAINTENANCE_GUARD_TTL_SECONDS``
(default 20) per container: a service sees a window start or end within that TTL.

Between reads the guard answers from a *decision* computed when the state was read (the 503's
body already serialised, the expected end as a monotonic deadline), so a request costs one clock
read and a comparison. Powertools' own cache is not used for that: its lookup (cache key, a
``datetime.now()`` per call) cost more than the whole decision, and it cannot serve an old value
when a read fails.

When a read fails, the guard keeps answering from the last state it read, for up to
``G3N_MAINTENANCE_GUARD_STALE_TTLS`` TTLs (default 3) after that read: stale-while-error, metric
``GuardStaleServed``. Only then, or when it never read the state at all, does it FAIL OPEN:
requests go through, metric ``GuardFailOpen``. Both are counted once per failed read (namespace
``G3nMaintenanceGuard``, dimension ``service``) and logged as warnings; after a failed read the
guard waits ``min(5 s, TTL)`` before trying again, so a table that is down adds no latency to every
request. A missing state item means "no maintenance" (not a failure). An unreadable OPS table must
never take the platform down.

Two ways to adopt it (this module needs only Powertools and boto3, never OPS's own code):

    from g3n_maintenance_guard import MaintenanceGuard

    guard = MaintenanceGuard()                      # table from G3N_OPS_TABLE_NAME
    app = APIGatewayRestResolver()                  # or APIGatewayHttpResolver
    app.use(middlewares=[guard.middleware])         # (a) event handler middleware

    @guard.handler                                  # (b) plain API Gateway handler
    def handler(event, context): ...

Exempt paths (``/ping``, ``/stat`` by default) are never blocked.

A window can be narrower than "everything" (all of it in the state item the guard already reads,
so none of it costs a read):

- ``services``: the registry codes the window applies to (absent: all). A guard knows its own code
  from ``service_code=`` or ``G3N_SERVICE_CODE`` (else its Powertools service name); a service not
  listed goes on answering as if no window were active.
- ``allowMethods``: HTTP methods that still pass (``["GET", "HEAD"]``: read-only maintenance).
- ``bypassSha256``: the SHA-256 of the operator's bypass token. A request whose
  ``X-G3N-Maintenance-Bypass`` header hashes to it passes (compared in constant time); a wrong,
  oversized or malformed one gets the very same 503 as no header at all. Each request let through
  this way is counted (``GuardBypassed``, dimension ``service``), the counts batched into one EMF
  line at most every ``BYPASS_METRIC_SECONDS``, so a bypassed request stays as cheap as any other.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parameters import DynamoDBProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.config import Config
from botocore.exceptions import BotoCoreError

__all__ = ["BOTO_CONFIG", "BYPASS_HEADER", "MaintenanceGuard", "maintenance_guard"]

STATE_KEY = "maintenance#state"
TABLE_ENV = "G3N_OPS_TABLE_NAME"
TTL_ENV = "G3N_MAINTENANCE_GUARD_TTL_SECONDS"
STALE_TTLS_ENV = "G3N_MAINTENANCE_GUARD_STALE_TTLS"
STATUS_URL_ENV = "G3N_OPS_STATUS_URL"
SERVICE_CODE_ENV = "G3N_SERVICE_CODE"
DEFAULT_TTL_SECONDS = 20
DEFAULT_STALE_TTLS = 3
DEFAULT_EXEMPT_PATHS = ("/ping", "/stat")
METRIC_NAMESPACE = "G3nMaintenanceGuard"
FAIL_OPEN_METRIC = "GuardFailOpen"
STALE_SERVED_METRIC = "GuardStaleServed"
BYPASS_METRIC = "GuardBypassed"
# The operator's bypass: header name (any casing, as HTTP has it), and the longest value worth
# hashing (OPS issues 43 characters; anything far longer is refused unread, not hashed).
BYPASS_HEADER = "X-G3N-Maintenance-Bypass"
_LOWER_KEY = BYPASS_HEADER.lower()
MAX_BYPASS_TOKEN_LENGTH = 128
# Bypassed requests are counted in memory and emitted as one EMF line at most this often (and
# when the state is next read): an EMF print per request would cost more than the request.
BYPASS_METRIC_SECONDS = 10
HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})
# Retry-After: no sooner than this (a client hammering a window is no use to anyone) ...
MIN_RETRY_AFTER_SECONDS = 5
# ... and this when the window has no end in sight (overrunning, or past its expected end).
OVERRUNNING_RETRY_AFTER_SECONDS = 120
# After a failed read, answer from what we have without trying again for this long (at most a
# TTL): a table that is down must not add a timeout to every request.
FAILURE_BACKOFF_SECONDS = 5
# The 503's Retry-After is rounded up to whole seconds anyway: rebuild its headers at most this often.
HEADERS_REFRESH_SECONDS = 0.5
# The guard sits on every request: fail fast rather than wait on a slow or unreachable table
# (what a guard's own DynamoDB resource uses; the local stack's stand-ins use it too).
BOTO_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})
_INACTIVE_JSON = '{"active": false}'

log = logging.getLogger(__name__)


class _MalformedState(ValueError):
    """The state item holds something other than a JSON object."""


class _StateProvider(DynamoDBProvider):
    """Powertools' DynamoDB provider, except that a missing item reads as "no maintenance": the
    base class raises for it, which the guard could not tell apart from an outage."""

    def _get(self, name: str, **sdk_options) -> str:
        sdk_options["Key"] = {self.key_attr: name}
        item = self.table.get_item(**sdk_options).get("Item")
        return _INACTIVE_JSON if item is None else item[self.value_attr]


# Everything a read of the state can raise: GetParameterError wraps every failure of the read itself
# (AccessDenied, throttling, unreachable endpoint, an item without its value); the others come from
# a value that is not a JSON object, or from building the client (no region, no table name).
_READ_ERRORS = (GetParameterError, TransformParameterError, _MalformedState, BotoCoreError, LookupError)


def _retry_after_seconds(remaining: float | None) -> int:
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


def _expected_end(state: dict) -> datetime | None:
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


def _bypass_token(headers: object, *, any_case: bool = True) -> object:
    """The bypass header's value: the usual spellings first (one dict lookup on the HTTP API,
    which lowercases names), then, with ``any_case``, any other casing (the REST API keeps the
    client's)."""
    if type(headers) is not dict and not isinstance(headers, Mapping):
        return None
    token = headers.get(_LOWER_KEY)  # unrolled: this runs on every request of such a window
    if token is None:
        token = headers.get(BYPASS_HEADER)
    if token is not None:
        return token
    if any_case:
        wanted = _LOWER_KEY
        size = len(wanted)
        for key in headers:
            if type(key) is str and len(key) == size and key.lower() == wanted:
                return headers[key]
    return None


def retry_after(state: dict, *, moment: datetime | None = None) -> int:
    """Seconds until the expected end (at least the minimum); a default once it is overrunning."""
    end = _expected_end(state)
    if end is None:
        return OVERRUNNING_RETRY_AFTER_SECONDS
    return _retry_after_seconds((end - (moment or datetime.now(UTC))).total_seconds())


class Blocked:
    """The 503 an active window makes the guard answer, computed once per read of the state, with
    what still passes: ``allow`` (HTTP methods) and ``bypass`` (the token's SHA-256 digest)."""

    __slots__ = (
        "_current",
        "_end",
        "_fresh_until",
        "_headers",
        "_known",
        "_refused",
        "allow",
        "body",
        "bypass",
    )

    def __init__(self, state: dict, *, status_url: str | None, now: float) -> None:
        self.allow = allowed_methods(state)
        self.bypass = bypass_digest(state)
        # The token, once a request proved it (its SHA-256 is the digest): later requests are
        # compared with it directly, in constant time, instead of hashing each (a hash costs
        # more than the rest of the decision). Only for this read of the state: a rotation or
        # the end of the window comes with a new Blocked.
        self._known: str | None = None
        self._refused: str | None = None  # the last wrong token (a client retrying it costs no hash)
        description = state.get("description")
        if self.allow:
            methods = ", ".join(sorted(self.allow))
            opening = f"This service is in read-only maintenance ({methods} still answer)"
        else:
            opening = "This service is down for maintenance"
        message = opening + (f": {description}" if description else ".")
        if status_url:
            message = message.rstrip(".") + f". See {status_url}"
        body = {
            "message": message,
            "maintenanceId": state.get("maintenanceId"),
            "latestUpdate": state.get("latestUpdate"),
            "expectedEnd": state.get("expectedEnd"),
        }
        if self.allow:
            body["mode"] = "read-only"
            body["allowMethods"] = sorted(self.allow)
        self._headers: dict[str, str] = {}
        if status_url:
            body["statusPage"] = status_url
            # RFC 8631's "status" relation: where the state of this service is published.
            self._headers["Link"] = f'<{status_url}>; rel="status"'
        self.body = json.dumps(body)
        end = _expected_end(state)
        # The expected end on the monotonic clock: Retry-After without parsing or wall-clock reads.
        self._end = None if end is None else now + (end - datetime.now(UTC)).total_seconds()
        self._fresh_until = float("-inf")
        self._current: dict[str, str] = {}

    def passes(self, token: object) -> bool:
        """Whether ``token`` is the window's bypass: its SHA-256 compared in constant time. Not a
        string, empty, longer than any token OPS issues or not ASCII: no, without hashing."""
        if (
            self.bypass is None
            or type(token) is not str
            or not 0 < len(token) <= MAX_BYPASS_TOKEN_LENGTH
            or not token.isascii()
        ):
            return False
        known = self._known
        if known is not None:  # only one token is right: anything else is wrong without a hash
            return hmac.compare_digest(token, known)
        refused = self._refused
        if refused is not None and hmac.compare_digest(token, refused):
            return False
        if hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self.bypass):
            self._known = token
            return True
        self._refused = token
        return False

    def headers(self, now: float) -> dict[str, str]:
        """The 503's headers (shared: do not modify them). ``Retry-After`` is rebuilt at most every
        ``HEADERS_REFRESH_SECONDS``: it is whole seconds anyway, and a request then allocates nothing."""
        if now >= self._fresh_until:
            remaining = None if self._end is None else self._end - now
            self._current = {**self._headers, "Retry-After": str(_retry_after_seconds(remaining))}
            self._fresh_until = now + HEADERS_REFRESH_SECONDS
        return self._current


class MaintenanceGuard:
    def __init__(
        self,
        table_name: str | None = None,
        *,
        ttl_seconds: int | None = None,
        stale_ttls: float | None = None,
        status_url: str | None = None,
        exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS,
        boto3_client: Any = None,
        service: str | None = None,
        service_code: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``boto3_client`` is a DynamoDB *resource* (what ``DynamoDBProvider`` takes); by default
        one with short timeouts is created on first use, from the environment's region/endpoint.
        The table name and status page URL may come from the environment at the first read.
        ``service_code`` is the service's registry code (``G3N_SERVICE_CODE``; default: ``service``),
        what a window's ``services`` list names."""
        self._table_name = table_name
        self.ttl_seconds = (
            ttl_seconds if ttl_seconds is not None else int(os.environ.get(TTL_ENV, DEFAULT_TTL_SECONDS))
        )
        stale_ttls = (
            stale_ttls
            if stale_ttls is not None
            else float(os.environ.get(STALE_TTLS_ENV, DEFAULT_STALE_TTLS))
        )
        # How old the last state read may be and still be served while reads fail.
        self.max_stale_seconds = stale_ttls * self.ttl_seconds
        self._status_url = status_url
        self.exempt_paths = frozenset(path.rstrip("/") or "/" for path in exempt_paths)
        self._boto3_client = boto3_client
        self._provider: DynamoDBProvider | None = None
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME", "unknown")
        self.service_code = service_code or os.environ.get(SERVICE_CODE_ENV) or self.service
        self._clock = clock
        # The decision: until _fresh_until (monotonic), answer _blocked (None = let through).
        self._fresh_until = float("-inf")
        self._blocked: Blocked | None = None
        self._state: dict | None = None
        self._read_at: float | None = None  # when the state was last read successfully
        self._failing = False
        # Bypassed requests not yet emitted as a metric, and when the next emission may be.
        self._bypassed = 0
        self._bypass_metric_at = float("-inf")

    # -- settings read at the first use --------------------------------------------------------
    @property
    def table_name(self) -> str:
        name = self._table_name or os.environ.get(TABLE_ENV)
        if not name:
            raise LookupError(f"no OPS table: pass table_name or set {TABLE_ENV}")
        return name

    @property
    def status_url(self) -> str | None:
        return self._status_url or os.environ.get(STATUS_URL_ENV) or None

    def _get_provider(self) -> DynamoDBProvider:
        if self._provider is None:
            resource = self._boto3_client or boto3.session.Session().resource("dynamodb", config=BOTO_CONFIG)
            self._provider = _StateProvider(
                table_name=self.table_name, key_attr="pk", value_attr="value", boto3_client=resource
            )
        return self._provider

    # -- the decision ----------------------------------------------------------------------------
    def is_exempt(self, path: str | None) -> bool:
        return (path or "/").rstrip("/") in self.exempt_paths

    def unavailable(
        self, path: str | None, method: str | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[dict[str, str], str] | None:
        """``(headers, JSON body)`` of the 503 to send for a request (its path, HTTP method and
        headers), or None to let it through."""
        if (path or "/").rstrip("/") in self.exempt_paths:
            return None
        now = self._clock()
        blocked = self._blocked if now < self._fresh_until else self._refresh(now)
        if blocked is None:
            return None
        if blocked.allow and method in blocked.allow:
            return None
        if blocked.bypass is not None:
            token = _bypass_token(headers)
            if token is not None and blocked.passes(token):
                self._count_bypass(now)
                return None
        return blocked.headers(now), blocked.body

    def event_unavailable(self, event: dict) -> tuple[dict[str, str], str] | None:
        """:meth:`unavailable` for an API Gateway event (HTTP API 2.0 or REST 1.0): the method and
        headers are looked up only when the window has a rule that needs them."""
        if not isinstance(event, dict):
            return self.unavailable(None)
        path = event.get("rawPath") or event.get("path")
        if (path or "/").rstrip("/") in self.exempt_paths:
            return None
        now = self._clock()
        blocked = self._blocked if now < self._fresh_until else self._refresh(now)
        if blocked is None:
            return None
        if blocked.allow and _event_method(event) in blocked.allow:
            return None
        if blocked.bypass is not None:
            # HTTP API (2.0) events carry lowercased header names: no scan for other casings.
            token = _bypass_token(event.get("headers"), any_case=event.get("version") != "2.0")
            if token is not None and blocked.passes(token):
                self._count_bypass(now)
                return None
        return blocked.headers(now), blocked.body

    def _count_bypass(self, now: float) -> None:
        self._bypassed += 1
        if now >= self._bypass_metric_at:
            self._flush_bypassed(now)

    def _flush_bypassed(self, now: float) -> None:
        if self._bypassed:
            self._count(BYPASS_METRIC, self._bypassed)
            self._bypassed = 0
            self._bypass_metric_at = now + BYPASS_METRIC_SECONDS

    def state(self) -> dict | None:
        """The active window's state as the guard sees it now, or None (no window, or failing open)."""
        now = self._clock()
        if now >= self._fresh_until:
            self._refresh(now)
        return self._state

    def _refresh(self, now: float) -> Blocked | None:
        try:
            state = self._get_provider().get(STATE_KEY, transform="json", force_fetch=True)
            if not isinstance(state, dict):
                raise _MalformedState(f"the maintenance state is not a JSON object: {type(state).__name__}")
        except _READ_ERRORS as error:
            return self._read_failed(now, error)
        self._flush_bypassed(now)
        active = bool(state.get("active"))
        self._state = state if active else None
        # A window that does not cover this service is, for this service, no window at all.
        blocks = active and applies_to(state, self.service_code)
        self._blocked = Blocked(state, status_url=self.status_url, now=now) if blocks else None
        self._read_at = now
        self._fresh_until = now + self.ttl_seconds
        if self._failing:
            self._failing = False
            log.warning("maintenance state readable again; enforcing what it says")
        return self._blocked

    def _read_failed(self, now: float, error: Exception) -> Blocked | None:
        self._failing = True
        retry_at = now + min(FAILURE_BACKOFF_SECONDS, self.ttl_seconds)
        age = None if self._read_at is None else now - self._read_at
        if age is not None and age <= self.max_stale_seconds:
            # Never serve the old state past its limit: try again at the latest when it runs out.
            self._fresh_until = min(retry_at, self._read_at + self.max_stale_seconds)
            log.warning(
                "maintenance state unreadable; serving the state read %.1f s ago (stale-while-error, "
                "at most %.0f s): %s",
                age,
                self.max_stale_seconds,
                error,
            )
            self._count(STALE_SERVED_METRIC)
            return self._blocked
        self._fresh_until = retry_at
        self._blocked = self._state = None
        log.warning("maintenance state unreadable; letting requests through (fail open): %s", error)
        self._count(FAIL_OPEN_METRIC)
        return None

    def _count(self, metric_name: str, value: int = 1) -> None:
        """One EMF line at once: the service's own ``Metrics`` (if any) is not needed."""
        with single_metric(
            name=metric_name, unit=MetricUnit.Count, value=value, namespace=METRIC_NAMESPACE
        ) as metric:
            metric.add_dimension(name="service", value=self.service)

    # -- adapters ------------------------------------------------------------------------------
    def middleware(self, app, next_middleware: Callable) -> Response:
        """For ``app.use(middlewares=[guard.middleware])`` on Powertools REST/HTTP resolvers."""
        blocked = self.event_unavailable(app.current_event.raw_event)
        if blocked is None:
            return next_middleware(app)
        headers, body = blocked
        return Response(
            status_code=503, content_type=content_types.APPLICATION_JSON, body=body, headers=dict(headers)
        )

    def handler(self, function: Callable) -> Callable:
        """Decorate a plain API Gateway (REST or HTTP API) Lambda handler."""
        return maintenance_guard(function, guard=self)


def _event_method(event: dict) -> str | None:
    """The HTTP method of an HTTP API (2.0) or REST API (1.0) event."""
    http = (event.get("requestContext") or {}).get("http")
    return http.get("method") if isinstance(http, dict) else event.get("httpMethod")


_default_guard: MaintenanceGuard | None = None


def _process_guard() -> MaintenanceGuard:
    global _default_guard
    if _default_guard is None:
        _default_guard = MaintenanceGuard()
    return _default_guard


def maintenance_guard(handler: Callable | None = None, *, guard: MaintenanceGuard | None = None) -> Callable:
    """``@maintenance_guard`` (one guard per process, from the environment) or
    ``@maintenance_guard(guard=MaintenanceGuard(...))`` on a plain API Gateway handler.

    A plain closure rather than Powertools' ``lambda_handler_decorator``: this runs on every
    request, and the factory's extra layers cost more than the cached decision itself."""
    if handler is None:
        return functools.partial(maintenance_guard, guard=guard)

    @functools.wraps(handler)
    def guarded(event: dict, context: Any, *args, **kwargs):
        blocked = (guard or _process_guard()).event_unavailable(event)
        if blocked is None:
            return handler(event, context, *args, **kwargs)
        headers, body = blocked
        return {
            "statusCode": 503,
            "headers": {"Content-Type": content_types.APPLICATION_JSON, **headers},
            "body": body,
        }

    return guarded
