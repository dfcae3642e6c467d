"""Stand-ins for the platform's 14 API services: each answers like a healthy service would, behind
the same maintenance guard the real services import.

Each stand-in has its own guard (its own cache), as each real service's containers do. The local
stack calls them with the API Gateway HTTP API event only; there is no Lambda context.

For tests, a stand-in can be *rigged* to misbehave the way a real service might
(:meth:`StandIns.rig`): ``never-flip`` answers 200 whatever the maintenance state (a service
that never adopted the guard), ``error`` answers 500, ``timeout`` hangs before answering.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable

import boto3

from g3n_maintenance_guard import BOTO_CONFIG, MaintenanceGuard, maintenance_guard

RIGS = ("never-flip", "error", "timeout")
HANG_SECONDS = 4  # longer than OPS's probe timeout (2 s)

Handler = Callable[[dict], dict]


def _ok(code: str, event: dict) -> dict:
    body = {"service": code, "status": "ok", "path": event.get("rawPath", "/")}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


class StandIns:
    def __init__(self, codes: Iterable[str], *, guard_ttl_seconds: int | None = None) -> None:
        self.guard_ttl_seconds = guard_ttl_seconds
        self.rigs: dict[str, str] = {}
        # Each service has its own DynamoDB resource, made once from one session that keeps the
        # loaded service model, and kept across resets as a warm container keeps its clients; a
        # reset gives each a new guard (an empty cache), not a new resource (~40 ms each).
        self._session: boto3.session.Session | None = None
        self._resources: dict[str, object] = {}
        self._lock = threading.Lock()
        self.handlers: dict[str, Handler] = {code: self._handler(code) for code in codes}

    def reset(self) -> None:
        """A fresh stack has fresh services: no rig, and a new guard (cache) for each, so no state
        read before a reset is served after it. In place: the gateway holds ``handlers``."""
        self.rigs.clear()
        for code in self.handlers:
            self.handlers[code] = self._handler(code)

    def rig(self, code: str, mode: str | None) -> None:
        """Make ``code`` misbehave (one of RIGS), or behave again (None)."""
        if code not in self.handlers:
            raise KeyError(f"no stand-in service {code!r}")
        if mode is None:
            self.rigs.pop(code, None)
        elif mode in RIGS:
            self.rigs[code] = mode
        else:
            raise ValueError(f"a stand-in can be rigged {', '.join(RIGS)}, not {mode!r}")

    def _guarded(self, code: str) -> Handler:
        """The stand-in's guarded function, made at its first request: the table name, status page
        URL and endpoint come from the environment (after provisioning); the TTL is the stack's.
        Called under ``_lock`` (a session is not thread-safe)."""
        self._session = self._session or boto3.session.Session()
        resource = self._resources.get(code)
        if resource is None:
            resource = self._resources[code] = self._session.resource("dynamodb", config=BOTO_CONFIG)
        guard = MaintenanceGuard(service=code, ttl_seconds=self.guard_ttl_seconds, boto3_client=resource)

        @maintenance_guard(guard=guard)
        def guarded(event: dict, context: object) -> dict:
            return _ok(code, event)

        return guarded

    def _handler(self, code: str) -> Handler:
        made: list[Handler] = []

        def handler(event: dict) -> dict:
            rig = self.rigs.get(code)
            if rig == "never-flip":
                return _ok(code, event)
            if rig == "error":
                failure = {"message": "Internal server error"}
                return {"statusCode": 500, "body": json.dumps(failure)}
            if rig == "timeout":
                # Then what API Gateway answers when its integration times out. Not the service's
                # answer: nobody waits for it, and the stack may be gone by then.
                time.sleep(HANG_SECONDS)
                return {"statusCode": 504, "body": json.dumps({"message": "Endpoint request timed out"})}
            if not made:
                with self._lock:
                    if not made:
                        made.append(self._guarded(code))
            return made[0](event, None)

        return handler
