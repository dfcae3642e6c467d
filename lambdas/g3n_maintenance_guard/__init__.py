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

Two ways to adopt it (this package needs only Powertools and boto3, never OPS's own code):

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

Modules: ``guard`` (``MaintenanceGuard`` and its adapters), ``blocked`` (the 503 and what passes
it), ``state`` (reading the state item and what it says), ``config`` (names and settings). Import
from the package: everything below is its public face.
"""

from __future__ import annotations

# ruff: noqa: F401 (re-exported: what the package has always offered stays importable from it)
from g3n_maintenance_guard.blocked import Blocked
from g3n_maintenance_guard.config import (
    BOTO_CONFIG,
    BYPASS_HEADER,
    BYPASS_METRIC,
    BYPASS_METRIC_SECONDS,
    DEFAULT_EXEMPT_PATHS,
    DEFAULT_STALE_TTLS,
    DEFAULT_TTL_SECONDS,
    FAIL_OPEN_METRIC,
    FAILURE_BACKOFF_SECONDS,
    HEADERS_REFRESH_SECONDS,
    HTTP_METHODS,
    MAX_BYPASS_TOKEN_LENGTH,
    METRIC_NAMESPACE,
    MIN_RETRY_AFTER_SECONDS,
    OVERRUNNING_RETRY_AFTER_SECONDS,
    SERVICE_CODE_ENV,
    STALE_SERVED_METRIC,
    STALE_TTLS_ENV,
    STATE_KEY,
    STATUS_URL_ENV,
    TABLE_ENV,
    TTL_ENV,
)
from g3n_maintenance_guard.guard import MaintenanceGuard, log, maintenance_guard
from g3n_maintenance_guard.state import allowed_methods, applies_to, bypass_digest, retry_after

__all__ = ["BOTO_CONFIG", "BYPASS_HEADER", "MaintenanceGuard", "maintenance_guard"]
