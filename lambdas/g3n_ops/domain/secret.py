"""The operator secret code: scrypt hash in the OPS table, constant-time verify, lockout after
repeated wrong codes, rotation, and the one-time initialisation (``init-secret``).

The code itself is never stored, logged, returned, audited or put in an execution input.

Cost: scrypt N=2^17, r=8, p=1 (128 MiB, ~0.3-0.7 s per hash). A stored hash with weaker
parameters is re-hashed at the current ones on the next successful verify.

Attempts before scrypt: every scrypt verify first takes an attempt from a budget on the item
``lockout#secret`` (``store/secret.py``), with one conditional DynamoDB update that fails once
``threshold`` attempts are taken in the window (opened by the window's first attempt). A right
code gives its attempt back; a wrong one keeps it and is counted as a failure. So the budget
holds the attempts in flight plus the wrong ones, and at most ``threshold`` guesses per window
ever reach scrypt, whatever the number of containers or the functions' reserved concurrency.
The ``threshold``-th failure starts the lockout (``window`` seconds from then; audited, metric,
event). While ``threshold`` attempts are merely in flight, a call is refused for a moment
(``secret-code-locked``, ``IN_FLIGHT_RETRY_SECONDS``). A verify that dies inside scrypt keeps
its attempt until the window ends: fail closed.

Lockout-exempt operations (``LOCKOUT_EXEMPT_OPERATIONS``: cancelling, ending) are the safety
valves: an attacker must not be able to lock the operator out of them with a few wrong codes.
They take an attempt from the main budget while it has room (so their wrong codes count toward
the lockout like any other, and are audited); when it is locked or full they take one from a
second budget, ``cancel``, with the same threshold and window. The right code therefore cancels
during a lockout, and a wrong code still costs a full scrypt and is counted and audited: at
most 2 x ``threshold`` guesses per window reach scrypt. An attacker who also spends the cancel
budget (``threshold`` more wrong codes during the lockout) locks cancelling too, until that
budget's own lockout ends: a residual denial of service that needs ``lambda:InvokeFunction`` on
an OPS function (IAM) and leaves an audit trail and a second ``secret-lockout`` alarm.

Verify cache: a container remembers a *successful* verify for ``VERIFY_CACHE_SECONDS``, keyed by
HMAC-SHA256(container-random key, salt|hash|code). Only the right code can hit it, so it never
speeds up guessing (every wrong code still takes an attempt and costs a full scrypt); a hit
takes no attempt, but a non-exempt operation still checks that no lockout is in force. A
rotation changes salt|hash, so an old code misses. What it gives up: someone who can read the
container's memory could test guesses against the HMAC at hash speed instead of scrypt speed;
that reader also sees the plain code in the request being served, so nothing is lost that was
not already lost. Operators (and the test suite) repeating the right code in a warm container
pay scrypt once per TTL instead of once per call.

Rotation verifies the current code against the secret item read once and replaces exactly that
item (conditional on its hash): a rotation that lands in between makes this one fail, never lost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

from g3n_ops import notify
from g3n_ops.contract.errors import (
    InvalidInput,
    SecretAlreadySet,
    SecretCodeLocked,
    SecretCodeMismatch,
    SecretNotSet,
)
from g3n_ops.contract.events import LOCKOUT_EVENT
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.timestamps import iso, iso_seconds, utc_now
from g3n_ops.observability import logger, metrics
from g3n_ops.settings import settings
from g3n_ops.store import secret as store

SECRET_PK = store.SECRET_PK
MIN_LENGTH = 12
MAX_LENGTH = 256
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
# Stored parameters are trusted only within these bounds (memory: 128 * r * N * p bytes).
MAX_N, MAX_R, MAX_P = 2**20, 16, 4
VERIFY_CACHE_SECONDS = 300.0
# Answered (secret-code-locked) while ``threshold`` verifies are in flight: they end in a second.
IN_FLIGHT_RETRY_SECONDS = 2
# Safety valves: an attacker's wrong codes must never keep the operator from stopping harm.
LOCKOUT_EXEMPT_OPERATIONS = frozenset({"vacuum-cancel", "maintenance-cancel", "maintenance-end"})

# The wall clock the lockout reads (windows, lockedUntil): a seam for tests, which move it on
# instead of waiting a lockout out.
clock = time.time

_cache_key_secret = os.urandom(32)
_verified_until: dict[str, float] = {}
_cache_lock = threading.Lock()


# -- hashing ---------------------------------------------------------------------------------------
def _scrypt(code: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not (2 <= n <= MAX_N and n & (n - 1) == 0 and 1 <= r <= MAX_R and 1 <= p <= MAX_P):
        raise ValueError("stored scrypt parameters out of bounds")
    # hashlib's default maxmem (32 MiB) refuses N=2^17; allow exactly what the parameters need.
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(code.encode(), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=32)


def hash_secret(code: str, *, salt: bytes | None = None) -> dict:
    """The item attributes that describe ``code`` (never the code)."""
    salt = salt or os.urandom(16)
    digest = _scrypt(code, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return {
        "algorithm": "scrypt",
        "hash": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
    }


def matches(code: str, stored: dict) -> bool:
    digest = _scrypt(
        code, base64.b64decode(stored["salt"]), int(stored["n"]), int(stored["r"]), int(stored["p"])
    )
    return hmac.compare_digest(digest, base64.b64decode(stored["hash"]))


def is_weaker_than_current(stored: dict) -> bool:
    return int(stored["n"]) < SCRYPT_N or int(stored["r"]) < SCRYPT_R or int(stored["p"]) < SCRYPT_P


def _cache_key(code: str, stored: dict) -> str:
    material = f"{stored['salt']}|{stored['hash']}|".encode() + code.encode()
    return hmac.new(_cache_key_secret, material, hashlib.sha256).hexdigest()


def _cached(key: str) -> bool:
    with _cache_lock:
        return _verified_until.get(key, 0.0) > time.monotonic()


def _remember(key: str) -> None:
    with _cache_lock:
        now = time.monotonic()
        for stale in [k for k, until in _verified_until.items() if until <= now]:
            del _verified_until[stale]
        _verified_until[key] = now + VERIFY_CACHE_SECONDS


# -- validation ------------------------------------------------------------------------------------
def validate_new_code(code: str) -> None:
    if not MIN_LENGTH <= len(code) <= MAX_LENGTH:
        raise InvalidInput(f"the new secret code must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    if code.strip() != code or any(not character.isprintable() for character in code):
        raise InvalidInput(
            "the new secret code may not start or end with spaces or contain control characters"
        )


# -- lockout ---------------------------------------------------------------------------------------
def seconds_locked(state: dict, now: float, budget: store.Budget = store.MAIN) -> int:
    """Whole seconds until ``budget``'s lockout ends (0 when not locked)."""
    remaining = float(state.get(budget.locked_until, 0) or 0) - now
    return max(0, math.ceil(remaining))


def seconds_unavailable(state: dict, now: float, budget: store.Budget, *, threshold: int) -> int:
    """Whole seconds until ``budget`` may give an attempt again: its lockout, or a moment while
    ``threshold`` attempts are taken in an open window (in flight), else 0."""
    locked = seconds_locked(state, now, budget)
    if locked:
        return locked
    window_open = float(state.get(budget.window_ends, 0) or 0) > now
    if window_open and int(state.get(budget.attempts, 0) or 0) >= threshold:
        return IN_FLIGHT_RETRY_SECONDS
    return 0


def _exempt_names() -> str:
    names = sorted(LOCKOUT_EXEMPT_OPERATIONS)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _refuse(*, lockout_exempt: bool, state: dict | None = None) -> NoReturn:
    """Raise SecretCodeLocked for a call that may not verify now, saying why and for how long."""
    limits = settings()
    threshold, window = limits.secret_lockout_threshold, limits.secret_lockout_window_seconds
    state, now = state if state is not None else store.get_lockout(), clock()
    budgets = (store.MAIN, store.CANCEL) if lockout_exempt else (store.MAIN,)
    waits = [seconds_unavailable(state, now, budget, threshold=threshold) for budget in budgets]
    wait = max(1, min(waits))  # the first budget to reopen (a race lost: try again at once)
    locked = [seconds_locked(state, now, budget) > 0 for budget in budgets]
    if all(locked) and lockout_exempt:
        message = (
            f"too many wrong secret codes: {threshold} within {window} s locked every secret-gated "
            f"operation but {_exempt_names()}, and {threshold} more wrong codes on those during the "
            f"lockout locked them too; every secret-gated operation is locked for {wait} more "
            "seconds, the right code included; see the lockout playbook"
        )
    elif all(locked):
        message = _locked_message(wait)
    else:
        message = (
            f"the {threshold} secret-code checks the lockout allows per {window} s window are taken "
            f"(by codes being checked right now, or wrong ones); try again in {wait} more seconds"
        )
    logger.warning(
        "secret-gated operation refused: locked out",
        extra={"retryAfterSeconds": wait, "lockoutExempt": lockout_exempt},
    )
    raise SecretCodeLocked(message, retry_after_seconds=wait)


def _locked_message(wait: int) -> str:
    limits = settings()
    return (
        f"too many wrong secret codes ({limits.secret_lockout_threshold} within "
        f"{limits.secret_lockout_window_seconds} s): every secret-gated operation but "
        f"{_exempt_names()} is locked for {wait} more seconds, the right code included; "
        "see the lockout playbook"
    )


def _refuse_if_locked() -> None:
    """For a cached right code on a non-exempt operation: it runs no scrypt, so it takes no
    attempt, but a lockout still holds for it."""
    state = store.get_lockout()
    if seconds_locked(state, clock()):
        _refuse(lockout_exempt=False, state=state)


def _take_attempt(*, lockout_exempt: bool) -> tuple[store.Budget, float]:
    """An attempt for one scrypt verify: the budget it came from and its window, or refused."""
    limits = settings()
    limit = {"threshold": limits.secret_lockout_threshold, "window": limits.secret_lockout_window_seconds}
    for budget in (store.MAIN, store.CANCEL) if lockout_exempt else (store.MAIN,):
        window_ends = store.take_attempt(budget, now=clock(), **limit)
        if window_ends is not None:
            return budget, window_ends
    _refuse(lockout_exempt=lockout_exempt)


def _record_failure(budget: store.Budget, window_ends: float, by: dict) -> NoReturn:
    """Count one wrong code (it keeps its attempt) and audit it; the one that makes
    ``threshold`` failures in the window starts the budget's lockout. Always raises."""
    limits = settings()
    threshold, window = limits.secret_lockout_threshold, limits.secret_lockout_window_seconds
    failures = store.record_failure(budget, window_ends=window_ends)
    cancel_budget = {"lockoutBudget": budget.name} if budget is store.CANCEL else {}
    metrics.add_metric(name=Metric.SECRET_CODE_MISMATCH, unit="Count", value=1)
    logger.warning("secret code mismatch", extra={"failuresInWindow": failures, **cancel_budget})
    counted = {} if failures is None else {"failuresInWindow": failures}
    _audit("secret-code-mismatch", by, **counted, **cancel_budget)
    now = clock()
    if (
        failures is None
        or failures < threshold
        or not store.start_lockout(budget, now=now, until=now + window, threshold=threshold)
    ):
        raise SecretCodeMismatch("the secret code is not correct")
    locked_until = now + window
    metrics.add_metric(name=Metric.SECRET_LOCKOUT, unit="Count", value=1)
    logger.error("secret-gated operations locked out", extra={"retryAfterSeconds": window, **cancel_budget})
    _audit("secret-lockout", by, lockedUntil=_iso(locked_until), **cancel_budget)
    notify.publish(LOCKOUT_EVENT, {"lockedUntil": _iso(locked_until), "by": by, **cancel_budget})
    if budget is store.CANCEL:
        raise SecretCodeMismatch(
            f"the secret code is not correct; that makes {threshold} wrong codes on {_exempt_names()} "
            f"during a lockout, so they are now locked too, for {window} s (secret-code-locked)"
        )
    raise SecretCodeMismatch(
        f"the secret code is not correct; that makes {threshold} wrong codes within {window} s, so "
        f"every secret-gated operation but {_exempt_names()} is now locked for {window} s "
        "(secret-code-locked)"
    )


# -- operations ------------------------------------------------------------------------------------
def verify(code: str, *, by: dict | None = None, lockout_exempt: bool = False) -> None:
    """Return only if ``code`` is the current secret code and it may be checked now (no lockout,
    or ``lockout_exempt`` and the cancel budget has room).

    ``by`` says who asked (operation, source, actor) for the audit; never the code.
    ``lockout_exempt``: the operation is in ``LOCKOUT_EXEMPT_OPERATIONS`` (the dispatcher says)."""
    by = by or {}
    stored = _current_secret()
    if _verify_against(code, stored, by, lockout_exempt=lockout_exempt) and is_weaker_than_current(stored):
        _upgrade(code, stored, by)


def _current_secret() -> dict:
    stored = store.get_secret()
    if stored is None:
        raise SecretNotSet("no secret code is set for this stack yet; set one with 'g3n ops init-secret'")
    return stored


def _verify_against(code: str, stored: dict, by: dict, *, lockout_exempt: bool) -> bool:
    """Return only if ``code`` matches this ``stored`` item; True if scrypt ran (not the cache)."""
    key = _cache_key(code, stored)
    if _cached(key):
        if not lockout_exempt:
            _refuse_if_locked()
        return False
    budget, window_ends = _take_attempt(lockout_exempt=lockout_exempt)
    if not matches(code, stored):
        _record_failure(budget, window_ends, by)
    store.give_back(budget, window_ends=window_ends)
    _remember(key)
    return True


def _upgrade(code: str, stored: dict, by: dict) -> None:
    """Re-hash a verified code at the current parameters (kept only if nobody rotated meanwhile)."""
    if store.replace_secret(hash_secret(code), verified_hash=stored["hash"]):
        logger.info("secret hash upgraded", extra={"fromN": int(stored["n"]), "toN": SCRYPT_N})
        _audit("secret-hash-upgraded", by, fromN=int(stored["n"]), toN=SCRYPT_N)


def initialise(code: str, *, by: dict | None = None) -> None:
    """Set the first secret code; refused once any secret exists (conditional put)."""
    validate_new_code(code)
    if store.get_secret() is not None or not store.put_secret_if_absent(hash_secret(code)):
        raise SecretAlreadySet(
            "a secret code is already set for this stack; change it with 'g3n ops rotate-secret'"
        )
    logger.info("secret code initialised")
    _audit("secret-initialised", by or {})


def initial_item(code: str) -> dict:
    """The secret item for ``code`` (the local stack writes it once per process and reuses it)."""
    validate_new_code(code)
    return {"pk": SECRET_PK, **hash_secret(code)}


def put_if_absent(code: str) -> bool:
    """Store the first secret; an existing secret is never overwritten. True if written."""
    validate_new_code(code)
    if store.get_secret() is not None:  # skip the costly hash; the put below is still conditional
        return False
    return store.put_secret_if_absent(hash_secret(code))


def rotate(current_code: str, new_code: str, *, by: dict | None = None) -> None:
    by = by or {}
    validate_new_code(new_code)
    if new_code == current_code:
        raise InvalidInput("the new secret code must differ from the current one")
    stored = _current_secret()  # read once: verified, then replaced, exactly this item
    _verify_against(current_code, stored, by, lockout_exempt=False)  # no upgrade: replaced below
    if not store.replace_secret(hash_secret(new_code), verified_hash=stored["hash"]):
        raise SecretCodeMismatch(
            "the secret code changed while rotating (another rotation or upgrade landed first); "
            "nothing was written: try again with the current code"
        )
    logger.info("secret code rotated")
    _audit("secret-rotated", by)


def _audit(action: str, by: dict, **details: Any) -> None:
    entry = {
        "action": action,
        "at": iso(utc_now()),
        "operation": by.get("operation"),
        "source": by.get("source"),
        "actor": by.get("actor"),
        **details,
    }
    store.put_audit({key: value for key, value in entry.items() if value is not None})


def _iso(epoch: float) -> str:
    return iso_seconds(datetime.fromtimestamp(epoch, UTC))
