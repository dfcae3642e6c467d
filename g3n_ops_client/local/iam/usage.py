"""Least privilege on the local stack: which grant allowed which check, written per process for
the report of grants never used (``bench/iam_unused_grants.py`` merges the files)."""

from __future__ import annotations

import json
import os
import uuid

from g3n_ops_client.local.iam.enforce import IamEnforcer
from g3n_ops_client.local.iam.policy import Statement


def usage_document(enforcer: IamEnforcer) -> dict:
    """Every grant each principal holds and those that allowed a check, as JSON-able lists
    (``[policy, action, resource, condition]``): runs in several processes merge by union."""

    def grant(statement: Statement, action: str, resource: str) -> list:
        return [statement.source, action, resource, json.dumps(statement.condition)]

    document: dict = {"grants": {}, "used": {}, "refused": sorted({r.message for r in enforcer.refusals})}
    for principal in enforcer.principals:
        document["grants"][principal.name] = [
            grant(statement, action, resource)
            for statement in principal.statements
            if statement.effect == "Allow"
            for action in statement.actions or ("NotAction",)
            for resource in statement.resources or ("NotResource",)
        ]
        document["used"][principal.name] = sorted(
            grant(statement, action, resource)
            for statement, action, resource in enforcer.used.get(principal.name, ())
        )
    return document


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
        json.dump(usage_document(enforcer), out)
