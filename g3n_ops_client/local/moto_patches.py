"""Patches to moto (pinned at 5.2.5 in pyproject.toml) that the local stack needs, each where
moto's behaviour differs from AWS or breaks under parallel executions, and one to botocore for
speed. They patch in place, once per process (each is idempotent). Re-check each on an upgrade:

- ``_serialise_asl_parsing``      5.2.5: the ANTLR parser's shared DFA cache is not thread-safe
- ``_remember_valid_definitions`` 5.2.5: CreateStateMachine re-parses the whole ASL every time (speed)
- ``_own_session_for_moto_clients`` 5.2.5: Lambda tasks create clients on the shared default session
- ``remembering_hosts``           5.2.5: the dispatcher lists its package on every request (speed)
- ``_stop_waits_for_the_program`` 5.2.5: a StopExecution before the program runs is lost (HTTP 500)
- ``_a_stop_is_final``            5.2.5: a StopExecution as a task starts ends it FAILED (States.Runtime)
- ``_one_model_loader``           botocore 1.44.8: each new Session reads the service models from disk
- ``_plain_json_without_copies``  5.2.5: DynamoDB copies a nested value once per level to read it (speed)
- ``_items_answered_as_json``     5.2.5: item answers walk the generic shape serializer (speed)
- ``_items_copied_in_one_pass``   5.2.5: item copies go through deepcopy's memo per nested value (speed)
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from typing import Any

import boto3
import botocore.loaders
import botocore.session

_SETS = frozenset({"SS", "NS", "BS"})  # DynamoDB's set types


def install() -> None:
    _serialise_asl_parsing()
    _remember_valid_definitions()
    _own_session_for_moto_clients()
    _stop_waits_for_the_program()
    _a_stop_is_final()
    _one_model_loader()
    _plain_json_without_copies()
    _items_answered_as_json()
    _items_copied_in_one_pass()


def _serialise_asl_parsing() -> None:
    """moto parses an execution's ASL when it starts, with an ANTLR runtime whose shared DFA
    cache is not thread-safe: two executions starting at once could get a corrupt program (a
    task then popped its parameters where its resource belonged: "'dict' object has no attribute
    'region'", States.Runtime). One parse at a time."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = AmazonStateLanguageParser.parse
    if getattr(parse, "serialised", False):
        return
    lock = threading.Lock()

    def serialised(definition: str):
        with lock:
            return parse(definition)

    serialised.serialised = True
    AmazonStateLanguageParser.parse = staticmethod(serialised)


def _remember_valid_definitions() -> None:
    """moto parses a state machine's whole ASL (an ANTLR parser, ~0.2 s) to validate it on every
    CreateStateMachine, and every reset creates both again: a definition it has accepted once is
    accepted without parsing again (executions still parse their own)."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    validate = StepFunctionsParserBackend._validate_definition
    if getattr(validate, "remembers_valid_definitions", False):
        return
    valid: set[str] = set()

    def remembering(definition: str) -> None:
        if definition not in valid:
            validate(definition=definition)
            valid.add(definition)

    remembering.remembers_valid_definitions = True
    StepFunctionsParserBackend._validate_definition = staticmethod(remembering)


def _own_session_for_moto_clients() -> None:
    """moto's interpreter makes a boto3 client for every Lambda task with ``boto3.client``: the
    default session, shared with every other thread of this process and not thread-safe (two
    threads creating clients at once can fail with "'dict' object has no attribute 'region'", a
    task then fails with States.Runtime). Its clients come from a session of their own, one at a
    time."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    if isinstance(boto_client.boto3, _LockedClientFactory):
        return
    boto_client.boto3 = _LockedClientFactory()


class _LockedClientFactory:
    def __init__(self) -> None:
        self._session = boto3.session.Session()
        self._lock = threading.Lock()

    def client(self, *args, **kwargs):
        with self._lock:
            return self._session.client(*args, **kwargs)


def _one_model_loader() -> None:
    """Every botocore Session loads the service models (and the endpoint rules) from disk again
    for its first client: ~110 ms of CPU, against ~15 ms with the models at hand. On AWS each
    function's container loads them once; here every function, stand-in, client and test shares
    one process and makes sessions all the time (a third of the test suite's CPU went there).
    Sessions of this process share one loader per data path (its cache is the models it read)."""
    if getattr(botocore.session.Session._register_data_loader, "shared_loader", False):
        return
    loaders: dict[object, botocore.loaders.Loader] = {}
    lock = threading.Lock()

    def shared(data_path) -> botocore.loaders.Loader:
        with lock:
            if data_path not in loaders:
                loaders[data_path] = botocore.loaders.create_loader(data_path)
            return loaders[data_path]

    def register_shared_loader(self) -> None:
        self._components.lazy_register_component(
            "data_loader", lambda: shared(self.get_config_variable("data_path"))
        )

    register_shared_loader.shared_loader = True  # type: ignore[attr-defined]
    botocore.session.Session._register_data_loader = register_shared_loader


def _plain_json_without_copies() -> None:
    """moto reads an item as plain JSON (every projected GetItem, every condition on a nested
    path) by deep-copying each value and then each of its members again, level by level: a
    vacuum record (plan, per-unit progress, stats; ~19 KB, five levels) cost ~30 ms a read. The
    same result, every container new, built in one pass."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(DynamoType.to_regular_json, "one_pass", False):
        return

    def plain(value: Any) -> Any:
        if isinstance(value, DynamoType):
            return to_regular_json(value)
        if isinstance(value, dict):
            return {key: plain(member) for key, member in value.items()}
        if isinstance(value, list):
            return [plain(member) for member in value]
        return value  # str, bytes, bool, None: immutable

    def to_regular_json(self: DynamoType) -> dict[str, Any]:
        kind, inner = self.type, self.value
        if kind == "M":
            value: Any = {key: member_json(member) for key, member in inner.items()}
        elif kind == "L":
            value = [member_json(member) for member in inner]
        elif kind == "B" and isinstance(inner, str):
            value = base64.b64decode(inner)
        elif kind in _SETS:
            value = list(inner)  # of str or bytes: immutable
        else:
            value = inner  # str, bytes, bool, None: immutable
        return {kind: value}

    def member_json(member: Any) -> Any:
        return to_regular_json(member) if member.__class__ is DynamoType else plain(member)

    to_regular_json.one_pass = True  # type: ignore[attr-defined]
    to_regular_json.generic = DynamoType.to_regular_json  # type: ignore[attr-defined]
    DynamoType.to_regular_json = to_regular_json


# The DynamoDB operations whose answers are items (AttributeValue maps), counts and keys.
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"})


class _NotPlain(Exception):
    """A value the generic serializer must format (a timestamp, say)."""


def _wire(value: Any) -> Any:
    """``value`` as the JSON protocol puts it on the wire: blobs in base64; absent members dropped."""
    if isinstance(value, dict):
        return {key: _wire(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_wire(member) for member in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise _NotPlain(type(value).__name__)


def _items_answered_as_json() -> None:
    """moto formats every DynamoDB answer by walking botocore's output shape member by member:
    ~25 ms for one vacuum record, more than the read itself. An item answer holds nothing but
    JSON and blobs, so it is dumped as the JSON protocol has it (tests/unit/test_local_moto_patches
    compares both ways); any other answer, or one holding anything else, goes the generic way."""
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult.execute_result, "generic", None):
        return
    generic = DynamoResult.execute_result

    def execute_result(self, context):
        if context.operation_model.name in ITEM_OPERATIONS and isinstance(self.result, dict):
            try:
                body = _wire(self.result)
            except _NotPlain:
                return generic(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body)
        return generic(self, context)

    execute_result.generic = generic  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result


def remembering_hosts(base: type) -> type:
    """moto's dispatcher, remembering which backend serves a host. moto's own lookup lists and
    stats its package directory (~150 entries) and tries ~300 URL patterns on every request, under
    one lock that every request takes: the local stack's hottest path (and its queue) under load."""

    class RememberingHosts(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._backend_by_host: dict[str | None, object] = {}

        def get_backend_for_host(self, host: str | None):  # called under moto's lock
            if host not in self._backend_by_host:
                self._backend_by_host[host] = super().get_backend_for_host(host)
            return self._backend_by_host[host]

    return RememberingHosts


STOP_WAIT_SECONDS = 30.0


def _stop_waits_for_the_program() -> None:
    """moto builds an execution's program on a thread of its own after StartExecution answered
    (the parse alone can take a second under load, one at a time): a StopExecution in between
    failed with "'NoneType' object has no attribute 'set_stop'" (HTTP 500), or was ignored while
    the program had no state yet, and the execution ran on. On AWS a stop right after a start
    stops it. The stop waits until the program runs, then stops it."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    if getattr(ExecutionWorker.stop, "waits_for_the_program", False):
        return

    def stop(self, stop_date, error, cause):
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while (self.env is None or self.env._program_state is None) and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.env is None:
            raise RuntimeError(f"the execution's program did not start within {STOP_WAIT_SECONDS:.0f}s")
        self.env.set_stop(stop_date=stop_date, cause=cause, error=error)

    stop.waits_for_the_program = True
    ExecutionWorker.stop = stop


def _a_stop_is_final() -> None:
    """Once an execution is stopped moto skips ("prunes") every evaluation that follows, but the
    code around them still pops from the evaluation stack what they would have pushed. A
    StopExecution landing as a task state starts (after its TimeoutSeconds is read, before the
    task's thread has evaluated its Resource; a window the thread start widens under load, and
    that ``_stop_waits_for_the_program`` aims at when a stop follows a start) makes the task pop
    its input where its resource belonged: "'dict' object has no attribute 'region'". That error
    then overwrote the stop (``Environment.set_error`` is unconditional): the execution ended
    FAILED, States.Runtime, not ABORTED. On AWS a stop is final: ExecutionAborted, no TaskFailed.
    A state whose evaluation fails once its execution is stopped ends quietly, and a stopped
    program's error no longer replaces its stop."""
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    evaluate = ExecutionState._evaluate_with_timeout
    if getattr(evaluate, "stop_is_final", False):
        return
    set_error = Environment.set_error

    def evaluate_unless_stopped(self, env: Environment) -> None:
        try:
            evaluate(self, env)
        except Exception:
            if isinstance(env.program_state(), ProgramStopped):
                return  # the fallout of evaluations the stop pruned, not the task's outcome
            raise

    def set_error_unless_stopped(self, error) -> None:
        with self._state_mutex:  # an RLock: set_error takes it again
            if not isinstance(self._program_state, ProgramStopped):
                set_error(self, error)

    evaluate_unless_stopped.stop_is_final = True
    ExecutionState._evaluate_with_timeout = evaluate_unless_stopped
    Environment.set_error = set_error_unless_stopped


def _items_copied_in_one_pass() -> None:
    """moto copies a whole item twice for each UpdateItem (for the answer and for streams) and
    once for each item a Scan returns, through ``copy.deepcopy``, which keeps a memo entry for
    every nested value: for a vacuum record, updated once per chunk, that was a third of the
    update. Items are trees (no value is shared, none refers back), so one pass that builds new
    containers gives the same copy (tests/unit/test_local_moto_patches compares both ways)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if getattr(DynamoType.__deepcopy__, "one_pass", False):
        return

    def copy_value(value: Any) -> Any:
        if not isinstance(value, DynamoType):
            return copy.deepcopy(value)
        result = value.__class__.__new__(value.__class__)
        result.type = kind = value.type
        inner = value.value
        if kind == "M":
            result.value = {key: copy_value(member) for key, member in inner.items()}
        elif kind == "L":
            result.value = [copy_value(member) for member in inner]
        elif kind in _SETS:
            result.value = list(inner)
        else:  # str, bytes, bool, None: immutable
            result.value = inner
        return result

    def copy_item(self: Item, memo: dict) -> Item:
        result = self.__class__.__new__(self.__class__)
        result.hash_key = copy_value(self.hash_key)
        result.range_key = copy_value(self.range_key)
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)  # no size check per key: it was checked
        dict.__init__(attrs, {key: copy_value(value) for key, value in self.attrs.items()})
        result.attrs = attrs
        return result

    def copy_type(self: DynamoType, memo: dict) -> DynamoType:
        return copy_value(self)

    copy_type.one_pass = True  # type: ignore[attr-defined]
    copy_type.generic = (DynamoType.__deepcopy__, Item.__deepcopy__)  # type: ignore[attr-defined]
    DynamoType.__deepcopy__ = copy_type
    Item.__deepcopy__ = copy_item
