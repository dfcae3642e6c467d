"""IAM enforcement on the embedded local stack.

Design: every caller is told apart by the access key its requests are signed with (SigV4 names it
in the ``Authorization`` header), and every AWS request is checked where they all pass, the
gateway, before moto sees it:

- each OPS function acts as its own role: a function invoked in-process (``LocalFunction.call``)
  runs inside ``acting_as(function name)``, and every request signed while it runs (by any boto3
  client of this process: OPS's, Powertools', the SNS notifier's) is signed with that role's
  access key. The identity follows the function into the threads it starts (``threading.Thread``
  and ``ThreadPoolExecutor`` carry it), as every thread of a Lambda process has the role;
- the role's statements come from the synthesised ``OpsStack`` (``template.py``), so what is
  enforced here is what the deploy grants;
- the documented operator identities (``operator``, ``oncall``, ``console``:
  ``identities.py``) have their own keys, printed by ``g3n ops local credentials NAME``, so any
  client in any process (the CLI, boto3, the AWS CLI) acts as one;
- any other key (``testing``, the provisioner's, a test's own clients, moto's interpreter) is the
  account's administrator: not checked.

A request is mapped to the IAM checks AWS makes for it (``requests.py``: the action, which is not
always the operation's name, the resource ARN and ``dynamodb:LeadingKeys``) and each check is
evaluated (``policy.py``). A refused request gets AWS's answer for its protocol (``AccessDenied``
/ ``AccessDeniedException`` / ``AuthorizationError``, with the principal, action and resource in
the message). Modes: ``enforce`` refuses, ``soft`` logs what it would refuse and lets it through,
``off`` checks nothing. Every allowed check records which grant allowed it: the least-privilege
report (``bench/iam_unused_grants.py``) lists the grants never used.

A check on the client side (a botocore hook on OPS's clients) would have been simpler for the
functions, but would miss the clients OPS does not create (Powertools idempotency, the notifier)
and could not cover an operator's AWS CLI in another process; SigV4 keys cover both.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
import io
import json
import logging
import os
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from xml.sax.saxutils import escape

from botocore.auth import SigV4Auth
from botocore.credentials import ReadOnlyCredentials

from g3n_ops_client.local.iam.policy import Decision, Statement, evaluate
from g3n_ops_client.local.iam.requests import Check, Mapper, _model, parse

log = logging.getLogger("g3n.local.iam")
MODES = ("enforce", "soft", "off")
DEFAULT_MODE = "enforce"


def access_key_for(name: str) -> str:
    """A stable AWS-shaped access key per identity (the same in every process and run)."""
    digest = base64.b32encode(hashlib.sha256(f"g3n-local:{name}".encode()).digest()).decode()
    return "AKIA" + digest[:16]


def secret_key_for(name: str) -> str:
    return base64.b64encode(hashlib.sha256(f"g3n-local-secret:{name}".encode()).digest()).decode()[:40]


@dataclass
class Principal:
    name: str
    arn: str
    statements: list[Statement]
    kind: str = "function"  # or "identity" (a documented operator identity)
    access_key: str = ""
    secret_key: str = ""

    def __post_init__(self) -> None:
        self.access_key = self.access_key or access_key_for(self.name)
        self.secret_key = self.secret_key or secret_key_for(self.name)

    @property
    def credentials(self) -> ReadOnlyCredentials:
        return ReadOnlyCredentials(self.access_key, self.secret_key, None)


@dataclass(frozen=True)
class Refusal:
    principal: str
    action: str
    resource: str
    explicit: bool
    message: str


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("g3n_iam_principal", default=None)


def current() -> Principal | None:
    return _current.get()


@contextlib.contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Sign every AWS request made in this block (and threads it starts) as ``principal``."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


_active: IamEnforcer | None = None


def activate(enforcer: IamEnforcer | None) -> None:
    """The enforcer whose principals the in-process functions act as."""
    global _active
    _active = enforcer


def deactivate(enforcer: IamEnforcer) -> None:
    """Stop acting as ``enforcer``'s principals, unless another stack has activated its own since."""
    if _active is enforcer:
        activate(None)


def current_container() -> str:
    """The running function's name (``aws.container()`` on the local stack), "" outside one."""
    principal = _current.get()
    return principal.name if principal is not None else ""


def function_principal(name: str) -> Principal | None:
    """The principal the function ``name`` acts as (None when IAM is off)."""
    if _active is None or _active.mode == "off":
        return None
    return _active._by_name.get(name)


_installed = False
_install_lock = threading.Lock()


def install_process_hooks() -> None:
    """Once per process: requests are signed with the current principal's key, and threads started
    while a principal acts carry it."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
    add_auth = SigV4Auth.add_auth

    def signed_as_current(self, request):
        principal = _current.get()
        if principal is not None:
            self.credentials = principal.credentials
        return add_auth(self, request)

    SigV4Auth.add_auth = signed_as_current

    start, run = threading.Thread.start, threading.Thread.run

    def start_carrying(self):
        self._g3n_principal = _current.get()
        return start(self)

    def run_carrying(self):
        principal = getattr(self, "_g3n_principal", None)
        if principal is None:
            return run(self)
        with acting_as(principal):
            return run(self)

    threading.Thread.start = start_carrying
    threading.Thread.run = run_carrying

    submit = ThreadPoolExecutor.submit

    def submit_carrying(self, fn, /, *args, **kwargs):
        principal = _current.get()
        if principal is None:
            return submit(self, fn, *args, **kwargs)

        def carried(*a, **k):
            with acting_as(principal):
                return fn(*a, **k)

        return submit(self, carried, *args, **kwargs)

    ThreadPoolExecutor.submit = submit_carrying


class IamEnforcer:
    def __init__(self, mode: str, *, account: str, region: str, key_schema) -> None:
        if mode not in MODES:
            raise ValueError(f"--iam must be one of {', '.join(MODES)}, not {mode!r}")
        self.mode = mode
        self.account, self.region = account, region
        self.mapper = Mapper(account=account, region=region, key_schema=key_schema)
        self._by_key: dict[str, Principal] = {}
        self._by_name: dict[str, Principal] = {}
        self._registered: dict[str, list[Statement]] = {}
        self._lock = threading.Lock()
        # principal name → {(statement, action pattern, resource pattern)} that allowed a check
        self.used: dict[str, set[tuple[Statement, str, str]]] = defaultdict(set)
        self.refusals: list[Refusal] = []
        # With recording on (``recording()``): one request that each grant allowed, to replay.
        self.samples: dict[str, dict[tuple[Statement, str, str], dict]] | None = None

    # -- principals ------------------------------------------------------------------------------
    def register(self, principal: Principal) -> Principal:
        with self._lock:
            self._by_key[principal.access_key] = principal
            self._by_name[principal.name] = principal
            self._registered[principal.name] = list(principal.statements)
        return principal

    def restore(self) -> None:
        """Every principal's statements as registered (the stack's reset: a test's changes end)."""
        with self._lock:
            for name, statements in self._registered.items():
                self._by_name[name].statements = list(statements)

    def principal(self, name: str) -> Principal:
        return self._by_name[name]

    @property
    def principals(self) -> list[Principal]:
        return list(self._by_name.values())

    @contextlib.contextmanager
    def statements_replaced(self, name: str, statements: list[Statement]) -> Iterator[None]:
        """Tests: ``name`` has only ``statements`` inside the block."""
        principal = self._by_name[name]
        saved, principal.statements = principal.statements, list(statements)
        try:
            yield
        finally:
            principal.statements = saved

    @contextlib.contextmanager
    def recording(self) -> Iterator[dict[str, dict[tuple[Statement, str, str], dict]]]:
        """Inside: keep, per principal and grant, the first request it allowed (``replay``)."""
        self.samples = defaultdict(dict)
        try:
            yield self.samples
        finally:
            self.samples = None

    def replay(self, sample: dict) -> tuple[int, dict, bytes] | None:
        """Check a recorded request again (against the principal's statements now)."""
        environ = {**sample["environ"], "wsgi.input": io.BytesIO(sample["body"])}
        return self.check_request(environ)

    @contextlib.contextmanager
    def mode_set(self, mode: str) -> Iterator[None]:
        saved, self.mode = self.mode, mode
        try:
            yield
        finally:
            self.mode = saved

    # -- checking --------------------------------------------------------------------------------
    def decide(self, principal: Principal, check: Check) -> Decision:
        decision = evaluate(principal.statements, check.action, check.resource, check.context)
        if decision.allowed:
            self.used[principal.name].add(
                (decision.statement, decision.action_pattern, decision.resource_pattern)
            )
        return decision

    def check_request(self, environ: dict) -> tuple[int, dict, bytes] | None:
        """None to let the request through; else the (status, headers, body) of AWS's refusal."""
        if self.mode == "off":
            return None
        principal = self._principal_of(environ)
        if principal is None:
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = parse(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            headers,
            body,
        )
        if request is None:
            return None
        for check in self.mapper.checks(request):
            decision = self.decide(principal, check)
            if decision.allowed:
                if self.samples is not None:
                    grant = (decision.statement, decision.action_pattern, decision.resource_pattern)
                    self.samples[principal.name].setdefault(grant, _sample(environ, body))
                continue
            refusal = self._refusal(principal, check, decision)
            if self.mode == "soft":
                log.warning("IAM (soft, let through): %s", refusal.message)
                continue
            log.info("IAM refused: %s", refusal.message)
            return _error_response(request.service, refusal.message)
        return None

    PUBLIC_API_PATHS = ("/status", "/openapi.json")  # the routes without an authoriser

    def check_api(self, environ: dict, path: str) -> tuple[int, dict, bytes] | None:
        """The OPS HTTP API's IAM authoriser: a signed request to an operator route needs
        ``execute-api:Invoke`` on it (API Gateway's 403 otherwise); public routes are not checked."""
        if self.mode == "off" or path in self.PUBLIC_API_PATHS or path.startswith("/status/"):
            return None
        principal = self._principal_of(environ)
        if principal is None:
            return None
        api = f"arn:aws:execute-api:{self.region}:{self.account}:local"
        resource = f"{api}/$default/{environ['REQUEST_METHOD']}{path}"
        check = Check("execute-api:Invoke", resource)
        decision = self.decide(principal, check)
        if decision.allowed:
            return None
        refusal = self._refusal(principal, check, decision)
        if self.mode == "soft":
            log.warning("IAM (soft, let through): %s", refusal.message)
            return None
        body = json.dumps({"message": refusal.message.split(" because")[0].split(" with an explicit")[0]})
        return (
            403,
            {"content-type": "application/json", "x-amzn-errortype": "AccessDeniedException"},
            body.encode(),
        )

    def _principal_of(self, environ: dict) -> Principal | None:
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        marker = "Credential="
        if marker in authorization:
            key = authorization.split(marker, 1)[1].split("/", 1)[0]
        else:
            query = environ.get("QUERY_STRING", "")
            key = next(
                (
                    part.split("=", 1)[1].split("%2F", 1)[0].split("/", 1)[0]
                    for part in query.split("&")
                    if part.startswith("X-Amz-Credential=")
                ),
                "",
            )
        return self._by_key.get(key)

    def _refusal(self, principal: Principal, check: Check, decision: Decision) -> Refusal:
        explicit = decision.effect == "explicit-deny"
        because = (
            "with an explicit deny in an identity-based policy"
            if explicit
            else f"because no identity-based policy allows the {check.action} action"
        )
        message = (
            f"User: {principal.arn} is not authorized to perform: {check.action} on resource: "
            f"{check.resource} {because}"
        )
        refusal = Refusal(principal.name, check.action, check.resource, explicit, message)
        with self._lock:
            self.refusals.append(refusal)
        return refusal

    # -- least privilege -------------------------------------------------------------------------
    def usage_document(self) -> dict:
        """Every grant each principal holds and those that allowed a check, as JSON-able lists
        (``[policy, action, resource, condition]``): runs in several processes merge by union."""

        def grant(statement: Statement, action: str, resource: str) -> list:
            return [statement.source, action, resource, json.dumps(statement.condition)]

        document: dict = {"grants": {}, "used": {}, "refused": sorted({r.message for r in self.refusals})}
        for principal in self.principals:
            document["grants"][principal.name] = [
                grant(statement, action, resource)
                for statement in principal.statements
                if statement.effect == "Allow"
                for action in statement.actions or ("NotAction",)
                for resource in statement.resources or ("NotResource",)
            ]
            document["used"][principal.name] = sorted(
                grant(statement, action, resource)
                for statement, action, resource in self.used.get(principal.name, ())
            )
        return document


def _sample(environ: dict, body: bytes) -> dict:
    kept = {key: value for key, value in environ.items() if isinstance(value, str)}
    return {"environ": kept, "body": body}


USAGE_DIR_ENV = "G3N_IAM_USAGE_DIR"


def write_usage(enforcer: IamEnforcer) -> None:
    """With ``G3N_IAM_USAGE_DIR`` set, write what this stack's principals used there (one file
    per process; ``bench/iam_unused_grants.py`` merges them)."""
    folder = os.environ.get(USAGE_DIR_ENV)
    if not folder or enforcer.mode == "off":
        return
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"usage-{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
    with open(path, "w") as out:
        json.dump(enforcer.usage_document(), out)


def _error_response(service: str, message: str) -> tuple[int, dict, bytes]:
    protocol = _model(service).metadata.get("protocol", "json") if service != "execute-api" else "rest-json"
    request_id = str(uuid.uuid4())
    if protocol == "json":
        body = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException", "message": message})
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amzn-errortype": "AccessDeniedException",
            "x-amzn-requestid": request_id,
        }
        return 400, headers, body.encode()
    if protocol == "rest-json":
        body = json.dumps({"Type": "User", "message": message})
        headers = {
            "content-type": "application/json",
            "x-amzn-errortype": "AccessDeniedException",
            "x-amzn-requestid": request_id,
        }
        return 403, headers, body.encode()
    if protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return 403, {"content-type": "application/xml"}, body.encode()
    code = "AuthorizationError" if service == "sns" else "AccessDenied"
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}"
        f"</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return 403, {"content-type": "text/xml"}, body.encode()
