"""Fault injection for the embedded local stack: throttling, server errors, latency and crashes.

A SPEC is a comma list of ``name=value[@scope]``:

- ``throttle=P``  each AWS call fails with probability P with the service's real throttling error
- ``server=P``    the same with an HTTP 500 (``InternalServerError``; S3 ``InternalError``)
- ``latency=MS``  every AWS call waits MS milliseconds before it goes out
- ``crash=P``     a steps Lambda invocation does its work, then fails as a timed-out Lambda

``@scope`` limits an entry to one AWS service (``server=1.0@s3``) or, for ``crash``, to one steps
function (``crash=0.5@vacuum-steps``); an entry with a scope wins over the same entry without one.
An empty SPEC or ``none`` turns faults off.

Only clients created by ``g3n_ops.aws.client`` (the ones OPS's handlers use) are faulted: the
controller registers a botocore ``before-send`` handler on each of them through
``aws.add_client_hook``. A response returned from ``before-send`` replaces the HTTP call inside
botocore's retry loop, so botocore's retries, ``g3n_ops.retry`` and the state machine all meet a
real, parsed AWS error. The CLI, a test's own ``boto3.client`` and moto's interpreter never are.
Tests that read OPS state through ``g3n_ops.store`` (the same clients) wrap the read in
``controller.suspended()``.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse

KINDS = ("throttle", "server", "crash", "latency")
PROBABILITY_KINDS = frozenset({"throttle", "server", "crash"})
# The AWS services OPS's handlers call (boto3 client names), the scopes an entry may name.
SERVICES = frozenset({"dynamodb", "s3", "logs", "stepfunctions", "ssm", "lambda", "sns"})
# The steps functions (catalogue keys) that ``crash`` may be scoped to.
STEPS_FUNCTIONS = frozenset({"vacuum-steps", "maintenance-steps"})
MAX_LATENCY_MS = 60_000
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")


class FaultSpecError(ValueError):
    """A SPEC that cannot be parsed; the message says what to fix."""


@dataclass(frozen=True)
class Fault:
    kind: str
    value: float  # a probability, or milliseconds for latency
    scope: str | None = None

    def text(self) -> str:
        value = f"{self.value:g}"
        return f"{self.kind}={value}" + (f"@{self.scope}" if self.scope else "")


@dataclass(frozen=True)
class FaultSpec:
    faults: tuple[Fault, ...] = ()

    @property
    def active(self) -> bool:
        return any(fault.value > 0 for fault in self.faults)

    def text(self) -> str:
        return ",".join(fault.text() for fault in self.faults) or "none"

    def value(self, kind: str, scope: str) -> float:
        """The entry for ``kind`` that applies to ``scope`` (scoped wins over unscoped), else 0."""
        general = 0.0
        for fault in self.faults:
            if fault.kind == kind:
                if fault.scope == scope:
                    return fault.value
                if fault.scope is None:
                    general = fault.value
        return general


OFF = FaultSpec()


def parse(spec: str | None) -> FaultSpec:
    """The FaultSpec for ``spec``; raises FaultSpecError on anything it does not understand."""
    text = (spec or "").strip()
    if text in ("", "none"):
        return OFF
    faults: list[Fault] = []
    seen: set[tuple[str, str | None]] = set()
    for entry in text.split(","):
        fault = _parse_entry(entry.strip())
        if (fault.kind, fault.scope) in seen:
            raise FaultSpecError(f"'{fault.kind}' is given twice for the same scope in {text!r}")
        seen.add((fault.kind, fault.scope))
        faults.append(fault)
    return FaultSpec(tuple(faults))


def _parse_entry(entry: str) -> Fault:
    if not entry:
        raise FaultSpecError("an empty entry in the fault list (two commas, or a trailing one?)")
    name, equals, rest = entry.partition("=")
    if not equals:
        raise FaultSpecError(f"{entry!r} is not name=value (e.g. throttle=0.2, latency=250, server=1.0@s3)")
    if name not in KINDS:
        raise FaultSpecError(f"unknown fault {name!r}; known: {', '.join(KINDS)}")
    raw, at, scope = rest.partition("@")
    if at:
        allowed = STEPS_FUNCTIONS if name == "crash" else SERVICES
        if scope not in allowed:
            raise FaultSpecError(f"{name}@{scope!r}: unknown scope; one of {', '.join(sorted(allowed))}")
    if not _NUMBER.fullmatch(raw):
        raise FaultSpecError(f"{entry!r}: the value must be a plain non-negative number, not {raw!r}")
    value = float(raw)
    if name in PROBABILITY_KINDS and not 0 <= value <= 1:
        raise FaultSpecError(f"{entry!r}: a probability is between 0 and 1")
    if name == "latency" and not (math.isfinite(value) and value <= MAX_LATENCY_MS):
        raise FaultSpecError(f"{entry!r}: latency is milliseconds, at most {MAX_LATENCY_MS}")
    return Fault(name, value, scope or None)


# -- what goes on the wire --------------------------------------------------------------------------
class _Body:
    """The ``raw`` of an AWSResponse: botocore reads an error body through ``stream()``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_kwargs) -> Iterator[bytes]:
        yield self.data


def _throttle_error(service: str, protocol: str, operation: str) -> tuple[int, str]:
    if service == "dynamodb":
        # DynamoDB throttles data-plane calls on the table's throughput, control-plane calls on rate.
        control = operation.startswith(
            ("Describe", "List", "Create", "Update", "Delete")
        ) and operation not in (
            "UpdateItem",
            "DeleteItem",
        )
        return 400, "ThrottlingException" if control else "ProvisionedThroughputExceededException"
    if service == "s3":
        return 503, "SlowDown"
    if protocol == "rest-json":  # Lambda
        return 429, "TooManyRequestsException"
    if protocol == "query":  # SNS
        return 400, "Throttling"
    return 400, "ThrottlingException"


def _server_error(service: str) -> tuple[int, str]:
    return 500, "InternalError" if service == "s3" else "InternalServerError"


def error_response(service: str, protocol: str, url: str, status: int, code: str) -> AWSResponse:
    """An AWS error response as ``service`` sends it, for botocore to parse."""
    request_id = str(uuid.uuid4())
    message = "Rate exceeded" if status != 500 else "We encountered an internal error. Please try again."
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id}
    if protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.0"
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "rest-json":
        headers["Content-Type"] = "application/json"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message}).encode()
    elif protocol == "query":
        headers["Content-Type"] = "text/xml"
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    else:  # rest-xml (S3)
        headers["Content-Type"] = "application/xml"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}'
            f"</Message><RequestId>{request_id}</RequestId><HostId>local</HostId></Error>"
        ).encode()
    headers["Content-Length"] = str(len(body))
    return AWSResponse(url, status, headers, _Body(body))


WIRE_PROTOCOLS = frozenset({"json", "rest-json", "query", "rest-xml"})


# -- the controller ----------------------------------------------------------------------------------
class FaultController:
    """The active SPEC, a seeded RNG shared by every thread, and how many faults were injected."""

    def __init__(self, spec: FaultSpec | str | None = None, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._suspended = 0
        self.set(spec, seed)

    def set(self, spec: FaultSpec | str | None, seed: int | None = None) -> FaultSpec:
        """Replace the active faults (and the RNG, seeded with ``seed``); counts start from zero."""
        parsed = spec if isinstance(spec, FaultSpec) else parse(spec)
        with self._lock:
            self.spec = parsed
            self.seed = seed
            self._random = random.Random(seed)
            self.counts = dict.fromkeys(KINDS, 0)
        return parsed

    def status(self) -> dict:
        with self._lock:
            return {
                "faults": self.spec.text(),
                "entries": [{"kind": f.kind, "value": f.value, "scope": f.scope} for f in self.spec.faults],
                "seed": self.seed,
                "injected": dict(self.counts),
            }

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """No call is faulted while inside (on any thread): for a test reading state via the store."""
        with self._lock:
            self._suspended += 1
        try:
            yield
        finally:
            with self._lock:
                self._suspended -= 1

    def draw(self, kind: str, scope: str) -> bool:
        """One draw for ``kind`` at ``scope``; counts it when it hits."""
        with self._lock:
            if self._suspended:
                return False
            probability = self.spec.value(kind, scope)
            if probability <= 0 or self._random.random() >= probability:
                return False
            self.counts[kind] += 1
            return True

    def _latency_seconds(self, service: str) -> float:
        with self._lock:
            if self._suspended:
                return 0.0
            milliseconds = self.spec.value("latency", service)
            if milliseconds > 0:
                self.counts["latency"] += 1
            return milliseconds / 1000

    # -- the botocore seam -------------------------------------------------------------------------
    def hook(self, service: str, client) -> None:
        """``aws.add_client_hook`` target: fault every request this client sends."""
        protocol = client.meta.service_model.protocol
        if protocol not in WIRE_PROTOCOLS:
            return  # a protocol this layer cannot forge (e.g. CBOR): leave the client alone

        def before_send(request, **kwargs) -> AWSResponse | None:
            if not self.spec.active:
                return None
            delay = self._latency_seconds(service)
            if delay:
                time.sleep(delay)
            operation = (kwargs.get("event_name") or "").rsplit(".", 1)[-1]
            if self.draw("throttle", service):
                status, code = _throttle_error(service, protocol, operation)
            elif self.draw("server", service):
                status, code = _server_error(service)
            else:
                return None
            return error_response(service, protocol, request.url, status, code)

        client.meta.events.register("before-send", before_send)

    def crashes(self, function_key: str) -> bool:
        """Whether this steps invocation's result is lost (one draw)."""
        return self.draw("crash", function_key)
