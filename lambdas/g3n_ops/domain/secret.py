"""The operator secret code: scrypt hash in the OPS table, constant-time verify, lockout after
repeated wrong codes, rotation, and the one-time initialisation (``init-secret``).

The code itself is never stored, logged, returned, audited or put in an execution input.

Cost: scrypt N=2^17, r=8, p=1 (128 MiB, ~0.3-0.7 s per hash). A stored hash with weaker
parameters is re-hashed at the current ones on the next successful verify.

Verify cache: a container remembers a *successful* verify for ``VERIFY_CACHE_SECONDS``, keyed by
HMAC-SHA256(container-random key, salt|hash|code). Only the right code can hit it, so it never
speeds up guessing (every wrong code still costs a full scrypt, and the lockout is checked
first, cache or not); a rotation changes salt|hash, so an old code misses. What it gives up:
someone who can read the container's memory could test guesses against the HMAC at hash speed
instead of scrypt speed; that reader also sees the plain code in the request being served, so
nothing is lost that was not already lost. Operators (and the test suite) repeating the right
code in a warm container pay scrypt once per TTL instead of once per call.
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
from typing import Any

from g3n_ops import notify
from g3n_ops.errors import (
    InvalidInput,
    SecretAlreadySet,
    SecretCodeLocked,
    SecretCodeMismatch,
    SecretNotSet,
)
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
LOCKOUT_WRITE_ATTEMPTS = 8

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
def lockout_after_failure(state: dict, now: float, *, threshold: int, window: float) -> tuple[dict, bool]:
    """The counter after one more wrong code at ``now``; True when this failure locks.

    Failures older than the window are forgotten. The ``threshold``-th failure within the window
    locks every secret-gated operation for ``window`` seconds from then and clears the count."""
    recent = [float(at) for at in state.get("failures", []) if float(at) > now - window] + [now]
    if len(recent) >= threshold:
        return {"failures": [], "lockedUntil": now + window}, True
    return {"failures": recent, "lockedUntil": state.get("lockedUntil", 0)}, False


def seconds_locked(state: dict, now: float) -> int:
    """Whole seconds until the lockout ends (0 when not locked)."""
    remaining = float(state.get("lockedUntil", 0) or 0) - now
    return max(0, math.ceil(remaining))


def _check_not_locked() -> None:
    wait = seconds_locked(store.get_lockout(), time.time())
    if wait:
        logger.warning("secret-gated operation refused: locked out", extra={"retryAfterSeconds": wait})
        raise SecretCodeLocked(_locked_message(wait), retry_after_seconds=wait)


def _locked_message(wait: int) -> str:
    limits = settings()
    return (
        f"too many wrong secret codes ({limits.secret_lockout_threshold} within "
        f"{limits.secret_lockout_window_seconds} s): every secret-gated operation is locked for "
        f"{wait} more seconds, the right code included; see the lockout playbook"
    )


def _record_failure(by: dict) -> None:
    """Count one wrong code (conditional writes: concurrent failures are each counted once) and
    audit it; the one that reaches the threshold starts the lockout (the next call is refused)."""
    limits = settings()
    for _ in range(LOCKOUT_WRITE_ATTEMPTS):
        state = store.get_lockout()
        now = time.time()
        updated, locked = lockout_after_failure(
            state,
            now,
            threshold=limits.secret_lockout_threshold,
            window=limits.secret_lockout_window_seconds,
        )
        if store.put_lockout(updated, expected_version=int(state.get("version", 0))):
            break
    else:  # every attempt lost a race: many wrong codes at once, itself an attack: fail closed
        updated, locked = {"failures": [], "lockedUntil": now + limits.secret_lockout_window_seconds}, True
        store.force_lockout(updated["lockedUntil"])
    metrics.add_metric(name="SecretCodeMismatch", unit="Count", value=1)
    counted = limits.secret_lockout_threshold if locked else len(updated["failures"])
    logger.warning("secret code mismatch", extra={"failuresInWindow": counted})
    _audit("secret-code-mismatch", by, failuresInWindow=counted)
    if locked:
        wait = seconds_locked(updated, now)
        metrics.add_metric(name="SecretLockout", unit="Count", value=1)
        logger.error("secret-gated operations locked out", extra={"retryAfterSeconds": wait})
        _audit("secret-lockout", by, lockedUntil=_iso(updated["lockedUntil"]))
        notify.publish(notify.LOCKOUT_EVENT, {"lockedUntil": _iso(updated["lockedUntil"]), "by": by})
        raise SecretCodeMismatch(
            f"the secret code is not correct; that makes {limits.secret_lockout_threshold} wrong codes "
            f"within {limits.secret_lockout_window_seconds} s, so every secret-gated operation is now "
            f"locked for {wait} s (secret-code-locked)"
        )


# -- operations ------------------------------------------------------------------------------------
def verify(code: str, *, by: dict | None = None) -> None:
    """Return only if ``code`` is the current secret code and no lockout is in force.

    ``by`` says who asked (operation, source, actor) for the audit; never the code."""
    by = by or {}
    _check_not_locked()
    stored = store.get_secret()
    if stored is None:
        raise SecretNotSet("no secret code is set for this stack yet; set one with 'g3n ops init-secret'")
    key = _cache_key(code, stored)
    if _cached(key):
        return
    if not matches(code, stored):
        _record_failure(by)
        raise SecretCodeMismatch("the secret code is not correct")
    _remember(key)
    if is_weaker_than_current(stored):
        _upgrade(code, stored, by)


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
    verify(current_code, by=by)
    stored = store.get_secret()
    # Conditional on the hash we verified against: a concurrent rotation cannot be lost.
    if stored is None or not store.replace_secret(hash_secret(new_code), verified_hash=stored["hash"]):
        raise SecretCodeMismatch("the secret code changed while rotating; try again")
    logger.info("secret code rotated")
    _audit("secret-rotated", by)


def _audit(action: str, by: dict, **details: Any) -> None:
    entry = {
        "action": action,
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "operation": by.get("operation"),
        "source": by.get("source"),
        "actor": by.get("actor"),
        **details,
    }
    store.put_audit({key: value for key, value in entry.items() if value is not None})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
