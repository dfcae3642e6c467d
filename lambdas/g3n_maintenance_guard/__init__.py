"""The maintenance guard the platform's API services put in front of their handlers.

While OPS has a maintenance window active, guarded requests are answered ``503`` with a
``Retry-After`` header and a JSON body ``{message, maintenanceId, latestUpdate, expectedEnd}``.
The state is one small DynamoDB item in the OPS table (``pk = "maintenance#state"``, attribute
``value`` = JSON), read through Powertools' ``DynamoDBProvider`` and cached for
``G3N_MAINTENANCE_GUARD_TTL_SECONDS`` (default 20): a service sees a window start or end within
that TTL, and costs one GetItem per TTL per container.

It FAILS OPEN: if the state cannot be read, the request goes through, a warning is logged and the
metric ``MaintenanceGuardFailOpen`` is emitted (namespace ``G3nMaintenanceGuard``, dimension
``service``). An unreadable OPS table must never take the platform down.

Two ways to adopt it (this module needs only Powertools and boto3, never OPS's own code):

    from g3n_maintenance_guard import MaintenanceGuard

    guard = MaintenanceGuard()                      # table from G3N_OPS_TABLE_NAME
    app = APIGatewayRestResolver()                  # or APIGatewayHttpResolver
    app.use(middlewares=[guard.middleware])         # (a) event handler middleware

    @guard.handler                                  # (b) plain API Gateway handler
    def handler(event, context): ...

Exempt paths (``/ping``, ``/stat`` by default) are never blocked.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator
from aws_lambda_powertools.utilities.parameters import DynamoDBProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.config import Config
from botocore.exceptions import BotoCoreError

__all__ = ["MaintenanceGuard", "maintenance_guard"]

STATE_KEY = "maintenance#state"
TABLE_ENV = "G3N_OPS_TABLE_NAME"
TTL_ENV = "G3N_MAINTENANCE_GUARD_TTL_SECONDS"
DEFAULT_TTL_SECONDS = 20
DEFAULT_EXEMPT_PATHS = ("/ping", "/stat")
METRIC_NAMESPACE = "G3nMaintenanceGuard"
FAIL_OPEN_METRIC = "MaintenanceGuardFailOpen"
# Retry-After: no sooner than this (a client hammering a window is no use to anyone) ...
MIN_RETRY_AFTER_SECONDS = 5
# ... and this when the window has no end in sight (overrunning, or past its expected end).
OVERRUNNING_RETRY_AFTER_SECONDS = 120
# After a failed read, requests pass without trying again for this long: a table that is down
# must not add a timeout to every request.
FAILURE_BACKOFF_SECONDS = 5
# The guard sits on every request: fail fast rather than wait on a slow or unreachable table.
_BOTO_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"mode": "standard", "max_attempts": 2})

log = logging.getLogger(__name__)


class MaintenanceGuard:
    def __init__(
        self,
        table_name: str | None = None,
        *,
        ttl_seconds: int | None = None,
        exempt_paths: Iterable[str] = DEFAULT_EXEMPT_PATHS,
        boto3_client: Any = None,
        service: str | None = None,
    ) -> None:
        """``boto3_client`` is a DynamoDB *resource* (what ``DynamoDBProvider`` takes); by default
        one with short timeouts is created on first use, from the environment's region/endpoint."""
        self._table_name = table_name
        self.ttl_seconds = (
            ttl_seconds if ttl_seconds is not None else int(os.environ.get(TTL_ENV, DEFAULT_TTL_SECONDS))
        )
        self.exempt_paths = frozenset(path.rstrip("/") or "/" for path in exempt_paths)
        self._boto3_client = boto3_client
        self._provider: DynamoDBProvider | None = None
        self._failed_until = 0.0
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME", "unknown")

    # -- reading the state ---------------------------------------------------------------------
    @property
    def table_name(self) -> str:
        name = self._table_name or os.environ.get(TABLE_ENV)
        if not name:
            raise LookupError(f"no OPS table: pass table_name or set {TABLE_ENV}")
        return name

    def _get_provider(self) -> DynamoDBProvider:
        if self._provider is None:
            resource = self._boto3_client or boto3.session.Session().resource("dynamodb", config=_BOTO_CONFIG)
            self._provider = DynamoDBProvider(
                table_name=self.table_name, key_attr="pk", value_attr="value", boto3_client=resource
            )
        return self._provider

    def state(self) -> dict | None:
        """The active window's state, or None when none is active or the state is unreadable."""
        if time.monotonic() < self._failed_until:
            return None
        try:
            state = self._get_provider().get(STATE_KEY, transform="json", max_age=self.ttl_seconds)
        except (GetParameterError, TransformParameterError, BotoCoreError, LookupError) as error:
            # GetParameterError wraps every failure of the read itself (AccessDenied, unreachable
            # endpoint, missing item); BotoCoreError/LookupError come from building the client.
            self._fail_open(error)
            return None
        if not isinstance(state, dict) or not state.get("active"):
            return None
        return state

    def _fail_open(self, error: Exception) -> None:
        self._failed_until = time.monotonic() + FAILURE_BACKOFF_SECONDS
        log.warning("maintenance state unreadable; letting requests through (fail open): %s", error)
        with single_metric(
            name=FAIL_OPEN_METRIC, unit=MetricUnit.Count, value=1, namespace=METRIC_NAMESPACE
        ) as metric:
            metric.add_dimension(name="service", value=self.service)

    # -- deciding ------------------------------------------------------------------------------
    def is_exempt(self, path: str | None) -> bool:
        return (path or "/").rstrip("/") in self.exempt_paths

    def unavailable(self, path: str | None) -> tuple[dict[str, str], dict] | None:
        """``(headers, body)`` of the 503 to send for ``path``, or None to let it through."""
        if self.is_exempt(path):
            return None
        state = self.state()
        if state is None:
            return None
        description = state.get("description")
        body = {
            "message": "This service is down for maintenance" + (f": {description}" if description else "."),
            "maintenanceId": state.get("maintenanceId"),
            "latestUpdate": state.get("latestUpdate"),
            "expectedEnd": state.get("expectedEnd"),
        }
        return {"Retry-After": str(retry_after(state))}, body

    # -- adapters ------------------------------------------------------------------------------
    def middleware(self, app, next_middleware: Callable) -> Response:
        """For ``app.use(middlewares=[guard.middleware])`` on Powertools REST/HTTP resolvers."""
        blocked = self.unavailable(app.current_event.path)
        if blocked is None:
            return next_middleware(app)
        headers, body = blocked
        return Response(
            status_code=503,
            content_type=content_types.APPLICATION_JSON,
            body=json.dumps(body),
            headers=headers,
        )

    def handler(self, function: Callable) -> Callable:
        """Decorate a plain API Gateway (REST or HTTP API) Lambda handler."""
        return maintenance_guard(function, guard=self)


def retry_after(state: dict, *, moment: datetime | None = None) -> int:
    """Seconds until the expected end (at least the minimum); a default once it is overrunning."""
    expected_end = state.get("expectedEnd")
    if state.get("overrunning") or not expected_end:
        return OVERRUNNING_RETRY_AFTER_SECONDS
    try:
        end = datetime.fromisoformat(expected_end)
    except ValueError:
        return OVERRUNNING_RETRY_AFTER_SECONDS
    remaining = (end - (moment or datetime.now(UTC))).total_seconds()
    if remaining <= 0:
        return (
            OVERRUNNING_RETRY_AFTER_SECONDS
            if remaining < -MIN_RETRY_AFTER_SECONDS
            else MIN_RETRY_AFTER_SECONDS
        )
    return max(MIN_RETRY_AFTER_SECONDS, int(remaining + 0.999))


def _event_path(event: dict) -> str | None:
    return event.get("rawPath") or event.get("path") if isinstance(event, dict) else None


_default_guard: MaintenanceGuard | None = None


@lambda_handler_decorator
def maintenance_guard(handler: Callable, event: dict, context: Any, guard: MaintenanceGuard | None = None):
    """``@maintenance_guard`` (one guard per process, from the environment) or
    ``@maintenance_guard(guard=MaintenanceGuard(...))`` on a plain API Gateway handler."""
    global _default_guard
    if guard is None:
        _default_guard = _default_guard or MaintenanceGuard()
        guard = _default_guard
    blocked = guard.unavailable(_event_path(event))
    if blocked is None:
        return handler(event, context)
    headers, body = blocked
    return {
        "statusCode": 503,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **headers},
        "body": json.dumps(body),
    }
