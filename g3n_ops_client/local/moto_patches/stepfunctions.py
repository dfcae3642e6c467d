"""moto's Step Functions interpreter (5.2.5), where it differs from AWS or breaks under parallel
executions. Each patches in place, once per process (idempotent)."""

from __future__ import annotations

import copy
import functools
import threading
import time

import boto3
from botocore.config import Config


def serialise_asl_parsing() -> None:
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


def remember_valid_definitions() -> None:
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


def own_session_for_moto_clients() -> None:
    """moto's interpreter makes a new boto3 client for every Lambda task with ``boto3.client``:
    on the default session, shared with every other thread of this process and not thread-safe
    (two threads creating clients at once can fail with "'dict' object has no attribute
    'region'", a task then fails with States.Runtime), and at ~10 ms of CPU a task. Its clients
    come from a session of their own, made one at a time, and one client serves every task that
    asks for the same one (clients are thread-safe; AWS's service integrations do not build one
    per task either)."""
    from moto.stepfunctions.parser.asl.utils import boto_client

    if isinstance(boto_client.boto3, _SharedClientFactory):
        return
    boto_client.boto3 = _SharedClientFactory()


POOL_CONNECTIONS = 32


class _SharedClientFactory:
    def __init__(self) -> None:
        self._session = boto3.session.Session()
        self._clients: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def client(self, *args, **kwargs):
        config = kwargs.pop("config", None)
        options = getattr(config, "_user_provided_options", {})  # what the caller set, not defaults
        key = (args, _sorted_repr(kwargs), _sorted_repr(options))
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                # one client for a Map's parallel tasks: a connection each, as a client per task had
                pooled = (config or Config()).merge(Config(max_pool_connections=POOL_CONNECTIONS))
                found = self._clients[key] = self._session.client(*args, config=pooled, **kwargs)
            return found


def _sorted_repr(mapping: dict) -> tuple:
    return tuple(sorted((name, repr(value)) for name, value in mapping.items()))


STOP_WAIT_SECONDS = 30.0


def stop_waits_for_the_program() -> None:
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


def a_stop_is_final() -> None:
    """Once an execution is stopped moto skips ("prunes") every evaluation that follows, but the
    code around them still pops from the evaluation stack what they would have pushed. A
    StopExecution landing as a task state starts (after its TimeoutSeconds is read, before the
    task's thread has evaluated its Resource; a window the thread start widens under load, and
    that ``stop_waits_for_the_program`` aims at when a stop follows a start) makes the task pop
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


DEFAULT_HISTORY_PAGE = 100  # GetExecutionHistory's page when maxResults is absent or 0, as on AWS
MAX_HISTORY_PAGE = 1000


def history_pages_as_asked() -> None:
    """moto answers GetExecutionHistory with every event, oldest first, whatever ``maxResults``,
    ``reverseOrder`` and ``nextToken`` say, and deep-copies the whole history to do it: a vacuum's
    few hundred events cost ~60 ms an answer, and OPS asks for the latest one or 25 at each step it
    checks. AWS answers a page (100 events unless ``maxResults`` says up to 1000), newest first
    when asked, with a ``nextToken`` while more remain; so does this, copying only that page."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import InvalidToken
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.get_execution_history, "pages", False):
        return

    def get_execution_history(self):
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        size = min(self._get_param("maxResults") or DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)
        token = self._get_param("nextToken")
        if token is not None and not (token.isdigit() and int(token) > 0):
            raise InvalidToken(token)
        start = int(token or 0)
        env = execution.exec_worker.env  # None until the program runs: no event yet
        events, more = [], False
        if env is not None:
            manager = env.event_manager
            with manager._mutex:
                history = manager._history_event_list
                ordered = history[::-1] if self._get_param("reverseOrder") else history
                events = copy.deepcopy(ordered[start : start + size])
                more = len(history) > start + size
        answer = {"events": events, **({"nextToken": str(start + size)} if more else {})}
        return ActionResult(answer)

    get_execution_history.pages = True  # type: ignore[attr-defined]
    StepFunctionResponse.get_execution_history = get_execution_history


def json_paths_parsed_once() -> None:
    """moto's interpreter parses each JSONPath (InputPath, ResultPath, a ``.$`` parameter) every
    time a state evaluates it, building a new PLY parser each time: ~3 ms a path, a few per
    state. A path's parsed form is only read (``find``), so each path string is parsed once."""
    from moto.stepfunctions.parser.asl.utils import json_path

    if hasattr(json_path.parse, "cache_info"):
        return
    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
