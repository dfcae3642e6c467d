"""The 503 an active window makes the guard answer (``Blocked``, computed once per read of the
state) and what still passes it: the allowed methods and the operator's bypass token (found in a
request's headers by ``bypass_token``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from g3n_maintenance_guard.config import BYPASS_HEADER, HEADERS_REFRESH_SECONDS, MAX_BYPASS_TOKEN_LENGTH
from g3n_maintenance_guard.state import allowed_methods, bypass_digest, expected_end, retry_after_seconds

_LOWER_KEY = BYPASS_HEADER.lower()


def bypass_token(headers: object, *, any_case: bool = True) -> object:
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
        end = expected_end(state)
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
            self._current = {**self._headers, "Retry-After": str(retry_after_seconds(remaining))}
            self._fresh_until = now + HEADERS_REFRESH_SECONDS
        return self._current
