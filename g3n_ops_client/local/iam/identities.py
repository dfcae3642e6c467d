"""The documented operator identities (``docs/iam/*.json``), as the local stack enforces them.

- ``operator``: ``operator-policy.json``, every SOP;
- ``oncall``: ``oncall-policy.json``, reads, status and cancel (stopping an execution) only;
- ``console``: the operator plus ``console-starter-policy.json`` (start the state machines, as
  from the Step Functions console).

The documents name the stage as ``{stage}``; ``tests/infra`` checks every name in them against the
synthesised template. Each identity has a fixed access key (``context.access_key_for``), so
``g3n ops local credentials NAME`` can print it without asking the running stack.
"""

from __future__ import annotations

import json
from pathlib import Path

from g3n_ops_client.local.iam.context import Principal, access_key_for, secret_key_for
from g3n_ops_client.local.iam.enforce import IamEnforcer
from g3n_ops_client.local.iam.policy import Statement, statements_of

DOCS = Path(__file__).resolve().parents[3] / "docs" / "iam"
STAGE_PLACEHOLDER = "{stage}"
IDENTITIES: dict[str, tuple[str, ...]] = {
    "operator": ("operator-policy.json",),
    "oncall": ("oncall-policy.json",),
    "console": ("operator-policy.json", "console-starter-policy.json"),
}


def policy_document(file_name: str, stage: str) -> dict:
    return json.loads((DOCS / file_name).read_text().replace(STAGE_PLACEHOLDER, stage))


def identity_statements(name: str, stage: str) -> list[Statement]:
    return [
        statement
        for file_name in IDENTITIES[name]
        for statement in statements_of(policy_document(file_name, stage), source=f"docs/iam/{file_name}")
    ]


def register_identities(enforcer: IamEnforcer, *, stage: str) -> None:
    if not DOCS.is_dir():  # an installed package without the docs: no identities to act as
        return
    for name in IDENTITIES:
        arn = f"arn:aws:iam::{enforcer.account}:user/{name}"
        enforcer.register(Principal(name, arn, identity_statements(name, stage), kind="identity"))


def credentials(name: str) -> dict[str, str]:
    """The environment that makes any AWS client act as ``name`` on the local stack."""
    if name not in IDENTITIES:
        raise KeyError(f"no identity {name!r}; the identities are {', '.join(IDENTITIES)}")
    return {"AWS_ACCESS_KEY_ID": access_key_for(name), "AWS_SECRET_ACCESS_KEY": secret_key_for(name)}


def is_identity_key(access_key: str | None) -> bool:
    return bool(access_key) and any(access_key == access_key_for(name) for name in IDENTITIES)
