"""The guard's names and settings: the state item's key, the environment variables it reads and
their defaults, its metric names, the bypass header, the Retry-After and read-failure timings, and
the short-timeout boto config."""

from __future__ import annotations

from botocore.config import Config

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
