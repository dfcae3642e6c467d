"""Who is acting on the local stack: a principal (a function's role or an operator identity) and
its access keys, the principal the running code acts as (``acting_as``), and the active enforcer
whose principals the in-process functions act as (``activate``).

What a request signed by a principal may do is checked in ``enforce.py``; ``hooks.py`` makes
every request carry the acting principal's key.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.credentials import ReadOnlyCredentials

from g3n_ops_client.local.iam.policy import Statement

if TYPE_CHECKING:
    from g3n_ops_client.local.iam.enforce import IamEnforcer


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
    return _active.find(name)


def active() -> IamEnforcer | None:
    """The enforcer activated last (None: none, or it was deactivated)."""
    return _active
