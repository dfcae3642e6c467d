"""The local stack's principals: each OPS function as its role in the synthesised template."""

from __future__ import annotations

from g3n_ops_client.local.iam.context import Principal
from g3n_ops_client.local.iam.enforce import IamEnforcer
from g3n_ops_client.local.iam.policy import Statement
from g3n_ops_client.local.iam.template import function_statements, synthesised_template
from infra import catalogue


def register_functions(enforcer: IamEnforcer, *, stage: str) -> None:
    statements = function_statements(
        synthesised_template(stage), account=enforcer.account, region=enforcer.region
    )
    for spec in catalogue.FUNCTIONS:
        name = catalogue.function_name(stage, spec.key)
        if name not in statements:
            raise RuntimeError(f"the synthesised stack has no function {name}")
        role_arn = f"arn:aws:sts::{enforcer.account}:assumed-role/{name}-role/{name}"
        enforcer.register(Principal(name, role_arn, statements[name]))


def moto_key_schema(account: str, region: str):
    """``(table, index) → partition key attribute`` from moto's DynamoDB backend (this process)."""
    from moto.dynamodb.models import dynamodb_backends

    def lookup(table: str, index: str | None) -> str | None:
        found = dynamodb_backends[account][region].tables.get(table.rsplit("/", 1)[-1])
        if found is None:
            return None
        if index is None:
            return found.hash_key_attr
        for candidate in [*found.global_indexes, *found.indexes]:
            if candidate.name == index:
                return next((k["AttributeName"] for k in candidate.schema if k["KeyType"] == "HASH"), None)
        return None

    return lookup


def grant_registry_purge(enforcer: IamEnforcer, document: dict, *, stage: str) -> None:
    """What deploying a registry grants the steps function: purge on every table, bucket and log
    group it names (``infra/constructs/access.py``'s statements), for a registry published while
    the stack runs (tests that plant a bucket that does not exist). Until the stack's reset."""
    from infra.constructs.access import BUCKET_LIST, LOG_STREAM_PURGE, OBJECT_DELETE, SERVICE_TABLE_PURGE

    at = f"{enforcer.region}:{enforcer.account}"
    services = document["services"]
    tables = [f"arn:aws:dynamodb:{at}:table/{t['name']}" for s in services for t in s.get("tables", [])]
    buckets = [f"arn:aws:s3:::{bucket}" for s in services for bucket in s.get("buckets", [])]
    groups = [f"arn:aws:logs:{at}:log-group:{g}:*" for s in services for g in s.get("logGroups", [])]
    statements = [
        ((*SERVICE_TABLE_PURGE, "dynamodb:Query"), tables + [f"{arn}/index/*" for arn in tables]),
        (BUCKET_LIST, buckets),
        (OBJECT_DELETE, [f"{arn}/*" for arn in buckets]),
        (LOG_STREAM_PURGE, groups),
    ]
    principal = enforcer.principal(catalogue.function_name(stage, "vacuum-steps"))
    principal.statements = principal.statements + [
        Statement(
            "Allow",
            actions=tuple(actions),
            resources=tuple(resources),
            source="registry published at runtime",
        )
        for actions, resources in statements
        if resources
    ]
