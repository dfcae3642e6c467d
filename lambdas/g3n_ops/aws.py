"""boto3 clients, one per service per process (created on first use, reused across invokes), and
the translation of AWS errors into OPS's stable codes.

Every AWS call an OPS handler makes goes through ``client``. ``add_client_hook`` is the one seam
for code that must see those calls (the embedded local stack's fault injection registers there);
deployed functions register nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, ReadTimeoutError

from g3n_ops.contract.errors import AwsAccessDenied, AwsError, AwsServerError, AwsThrottled, OpsError

# botocore's "standard" and "adaptive" modes share a per-client retry quota: under sustained
# throttling (a long vacuum on a busy account) it drains and every later throttle surfaces at once,
# request handlers included. OPS is a low-traffic control plane that must finish what it starts,
# so it uses "legacy" mode (no quota; throttling and 5xx retried with backoff). Few attempts: one
# call with its retries stays within seconds (waits of at most 1 + 2 + 4 s), so it fits an API
# Gateway request and a chunk's deadline; where a call may meet minutes of throttling or an
# outage, retry.call's time budget goes on from there.
_CONFIG = Config(retries={"mode": "legacy", "max_attempts": 3}, max_pool_connections=32)
_clients: dict[str, object] = {}
_session: boto3.session.Session | None = None
_hooks: list[Callable[[str, object], None]] = []
# Client creation is not thread-safe; the local stack runs Map iterations on parallel threads.
_lock = threading.Lock()

# Error codes AWS uses for throttling and for transient server-side failures, across services.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "RequestThrottled",
        "RequestThrottledException",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)
SERVER_ERROR_CODES = frozenset(
    {"InternalServerError", "InternalError", "InternalFailure", "ServiceUnavailable",
     "ServiceUnavailableException", "ServiceException", "RequestTimeout", "RequestTimeoutException"}
)  # fmt: skip
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
     "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "KMSAccessDeniedException"}
)  # fmt: skip


def client(service: str):
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                found = _shared_session().client(service, config=_CONFIG)
                for hook in _hooks:
                    hook(service, found)
                _clients[service] = found
    return found


def _shared_session() -> boto3.session.Session:
    """One session for every client (called under ``_lock``: sessions are not thread-safe): it
    keeps the service models it has loaded, so a new client costs ~3 ms instead of ~80 ms."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


_container: Callable[[], str] = lambda: ""  # noqa: E731


def container() -> str:
    """Which container this code runs in, for caches that Lambda keeps per container (the
    registry): always ``""`` in Lambda, one process per function; the local stack, which runs
    every function in one process, names the function that is running."""
    return _container()


def set_container(which: Callable[[], str] | None) -> None:
    global _container
    _container = which or (lambda: "")


def reset_clients() -> None:
    """Forget cached clients (the local stack calls this when its endpoint changes)."""
    with _lock:
        _clients.clear()


def add_client_hook(hook: Callable[[str, object], None]) -> None:
    """Call ``hook(service, client)`` on every client created from now on (cached ones are dropped
    so the hook sees every client OPS uses)."""
    with _lock:
        if hook not in _hooks:
            _hooks.append(hook)
        _clients.clear()


def remove_client_hook(hook: Callable[[str, object], None]) -> None:
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)
        _clients.clear()


def error_code(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(error: BaseException) -> bool:
    """Worth retrying: throttling, a 5xx, or the connection failing on the way."""
    if isinstance(error, ClientError):
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in THROTTLING_CODES or code in SERVER_ERROR_CODES or status >= 500 or status == 429
    return isinstance(error, (ConnectionError, ReadTimeoutError))


def translate(error: ClientError | BotoCoreError, *, doing: str) -> OpsError:
    """The stable OPS error for an AWS error met while ``doing`` something (an actionable message;
    AWS's code is named, its free text — which can echo request data — is not)."""
    code = error_code(error) or type(error).__name__
    if isinstance(error, ClientError) and code in ACCESS_DENIED_CODES:
        return AwsAccessDenied(
            f"AWS refused {doing} ({code}): the function's IAM role lacks a permission; "
            "check the deployed stack, not the request"
        )
    if is_transient(error):
        if code in THROTTLING_CODES:
            return AwsThrottled(f"AWS throttled {doing} ({code}) beyond the retry budget; retry in a minute")
        return AwsServerError(f"AWS failed {doing} ({code}), a transient server error; retry shortly")
    return AwsError(f"AWS rejected {doing} ({code}); see the function's logs for the request id")


@contextlib.contextmanager
def transient_errors_named(doing: str) -> Iterator[None]:
    """A state machine task's edge: a transient AWS error that escaped every retry in code leaves
    as ``AwsThrottled`` or ``AwsServerError``, the names the workflows' Retry matches (a raw
    ``ProvisionedThroughputExceededException`` would fail the run at once); any other error
    leaves as it is, its own name telling what went wrong (``NoSuchBucket``)."""
    try:
        yield
    except (ClientError, BotoCoreError) as error:
        if is_transient(error):
            raise translate(error, doing=doing) from None
        raise
