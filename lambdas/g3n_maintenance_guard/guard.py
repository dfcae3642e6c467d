"""The guard itself: ``MaintenanceGuard`` (the cached decision, stale-while-error, fail open, the
metrics) and its adapters, the event handler middleware and the ``maintenance_guard`` decorator."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.parameters import DynamoDBProvider

from g3n_maintenance_guard.blocked import Blocked, bypass_token
from g3n_maintenance_guard.config import (
    BOTO_CONFIG,
    BYPASS_METRIC,
    BYPASS_METRIC_SECONDS,
    DEFAULT_EXEMPT_PATHS,
    DEFAULT_STALE_TTLS,
    DEFAULT_TTL_SECONDS,
    FAIL_OPEN_METRIC,
    FAILURE_BACKOFF_SECONDS,
    METRIC_NAMESPACE,
    SERVICE_CODE_ENV,
    STALE_SERVED_METRIC,
    STALE_TTLS_ENV,
    STATE_KEY,
    STATUS_URL_ENV,
    TABLE_ENV,
    TTL_ENV,
)
from g3n_maintenance_guard.state import READ_ERRORS, MalformedState, StateProvider, applies_to

# The package's logger (``g3n_maintenance_guard``), the name services filter on.
log = logging.getLogger("g3n_maintenance_guard")


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
            self._provider = StateProvider(
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
        return self._decide(path, lambda: method, lambda: bypass_token(headers))

    def event_unavailable(self, event: dict) -> tuple[dict[str, str], str] | None:
        """:meth:`unavailable` for an API Gateway event (HTTP API 2.0 or REST 1.0): the method and
        headers are looked up only when the window has a rule that needs them."""
        if not isinstance(event, dict):
            return self.unavailable(None)
        return self._decide(
            event.get("rawPath") or event.get("path"),
            lambda: _event_method(event),
            # HTTP API (2.0) events carry lowercased header names: no scan for other casings.
            lambda: bypass_token(event.get("headers"), any_case=event.get("version") != "2.0"),
        )

    def _decide(
        self, path: str | None, method: Callable[[], str | None], token: Callable[[], str | None]
    ) -> tuple[dict[str, str], str] | None:
        """The one decision: exempt path, no window, an allowed method, a valid bypass token pass;
        anything else gets the 503. ``method`` and ``token`` are read only when a rule needs them."""
        if self.is_exempt(path):
            return None
        now = self._clock()
        blocked = self._blocked if now < self._fresh_until else self._refresh(now)
        if blocked is None:
            return None
        if blocked.allow and method() in blocked.allow:
            return None
        if blocked.bypass is not None:
            given = token()
            if given is not None and blocked.passes(given):
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
                raise MalformedState(f"the maintenance state is not a JSON object: {type(state).__name__}")
        except READ_ERRORS as error:
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
