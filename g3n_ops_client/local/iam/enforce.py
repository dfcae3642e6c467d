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

Modules: ``context`` (principals, ``acting_as``, the active enforcer), ``hooks`` (the signing and
thread hooks), this one (the checks), ``responses`` (AWS's refusals), ``usage`` (the
least-privilege record).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from g3n_ops_client.local.iam.context import Principal
from g3n_ops_client.local.iam.policy import Decision, Statement, evaluate
from g3n_ops_client.local.iam.requests import Check, Mapper, parse
from g3n_ops_client.local.iam.responses import access_denied

log = logging.getLogger("g3n.local.iam")
MODES = ("enforce", "soft", "off")
DEFAULT_MODE = "enforce"


@dataclass(frozen=True)
class Refusal:
    principal: str
    action: str
    resource: str
    explicit: bool
    message: str


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

    def find(self, name: str) -> Principal | None:
        """The principal ``name``, or None when there is none of that name."""
        return self._by_name.get(name)

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
            return access_denied(request.service, refusal.message)
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


def _sample(environ: dict, body: bytes) -> dict:
    kept = {key: value for key, value in environ.items() if isinstance(value, str)}
    return {"environ": kept, "body": body}
