"""Runs OPS's Lambda handlers in-process for moto's no-Docker Lambda backend.

moto's simple backend only echoes the payload; the local stack replaces its ``invoke`` so an
invoke of a known function name runs the project's handler, and a raised exception comes back
the way Lambda reports it (``X-Amz-Function-Error`` + errorType/errorMessage), which is what
Step Functions' Retry/Catch match on.

With the fault layer's ``crash=P``, a steps function's invocation does its work and then, with
probability P, loses its result and answers as a timed-out Lambda does (``Sandbox.Timedout``).
"""

from __future__ import annotations

import collections
import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from moto.awslambda_simple.models import LambdaSimpleBackend

from g3n_ops.contract.errors import OpsError
from g3n_ops_client.local.faults import FaultController
from g3n_ops_client.local.iam import context as iam

log = logging.getLogger("g3n.local.lambda")
TIMEOUT_ERROR = "Sandbox.Timedout"  # Lambda's errorType for a timed-out invocation


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class LocalFunction:
    name: str
    arn: str
    handler_path: str
    memory_mb: int
    timeout_seconds: int

    def handler(self) -> Callable:
        module_name, _, attribute = self.handler_path.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)

    @property
    def key(self) -> str:
        """The catalogue key (``g3n-<stage>-ops-<key>``)."""
        return self.name.rsplit("-ops-", 1)[-1]

    @property
    def is_steps(self) -> bool:
        """A state machine's task function (the only kind ``crash`` faults hit)."""
        return self.key.endswith("-steps")

    def context(self) -> LocalContext:
        return LocalContext(self.name, self.arn, self.memory_mb, self.timeout_seconds)

    def call(self, event: object, context: LocalContext | None = None) -> object:
        """Run the handler as the function's own IAM role (``iam.enforce``): every AWS request it
        makes is signed with that role's key and checked against the role's deployed policy."""
        with iam.acting_as(iam.function_principal(self.name)):
            return self.handler()(event, context or self.context())


class LambdaDispatcher:
    """Routes invokes by function name (or ARN) to in-process handlers."""

    def __init__(self, faults: FaultController | None = None) -> None:
        self.functions: dict[str, LocalFunction] = {}
        self.faults = faults
        self._running: collections.Counter[str] = collections.Counter()
        self._running_lock = threading.Lock()

    def running(self, key: str) -> int:
        """Invocations of the function ``key`` in flight now (a failed execution's chunks drain)."""
        with self._running_lock:
            return self._running[key]

    def register(self, function: LocalFunction) -> None:
        self.functions[function.name] = function

    def find(self, name_or_arn: str) -> LocalFunction | None:
        name = name_or_arn.split(":function:")[-1].split(":")[0]
        return self.functions.get(name)

    def invoke(self, name_or_arn: str, body: bytes | str | None, response_headers: dict) -> bytes:
        function = self.find(name_or_arn)
        if function is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload("ResourceNotFoundException", f"no local handler for {name_or_arn}")
        event = json.loads(body) if body else {}
        context = function.context()
        with self._running_lock:
            self._running[function.key] += 1
        try:
            result = function.call(event, context)
        except OpsError as error:  # an expected, typed failure: Step Functions catches it by name
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload(type(error).__name__, error.message)
        except Exception as error:  # what Lambda does with any unhandled error: report, don't crash
            log.error("unhandled error in %s:\n%s", function.name, traceback.format_exc())
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload(type(error).__name__, str(error))
        finally:
            with self._running_lock:
                self._running[function.key] -= 1
        if function.is_steps and self.faults is not None and self.faults.crashes(function.key):
            # The work is done, the result is lost: what Lambda answers when a function times out.
            response_headers["x-amz-function-error"] = "Unhandled"
            message = f"{context.aws_request_id} Task timed out after {function.timeout_seconds:.2f} seconds"
            return _error_payload(TIMEOUT_ERROR, message)
        return json.dumps(result).encode()


def _error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


_active: LambdaDispatcher | None = None


def install(dispatcher: LambdaDispatcher) -> None:
    """Make moto's no-Docker Lambda backend run ``dispatcher``'s handlers."""
    global _active
    _active = dispatcher

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        if _active is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload("ServiceException", "the local stack is not running")
        return _active.invoke(function_name, body, response_headers)

    LambdaSimpleBackend.invoke = invoke
