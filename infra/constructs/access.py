"""Least-privilege IAM for each OPS function, in one place so a reviewer can read it whole.

OPS-table permissions come from ``infra.table_access`` (the key prefixes each function uses):
each action group is one statement conditioned on ``dynamodb:LeadingKeys``, so a function
reaches only its own items, and only the functions that verify the secret code reach the secret.
DynamoDB has no ``TransactWriteItems`` IAM action: a transaction is authorised by its parts
(Put/Update/Delete, and ``ConditionCheckItem`` for a ConditionCheck part, which OPS never sends),
each under the same condition. Nothing grants
Scan or DeleteTable on the OPS table, nor anything on any table where vacuum is off.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import RegexAppliesTo
from constructs import Construct

from g3n_ops.contract.keys import KIND_INDEX
from infra.constructs.functions import OpsFunctions
from infra.constructs.nag import suppress
from infra.constructs.registry import ServiceRegistry
from infra.constructs.state_machines import execution_arns, state_machine_arn
from infra.table_access import (
    MAINTENANCE_BRACKET_ACCESS,
    MAINTENANCE_BRACKET_TABLE_FUNCTIONS,
    OWN_TABLE_ACCESS,
    TableAccess,
)

OPS_ITEM_READ = ("dynamodb:GetItem",)
# No transaction of OPS's has a ConditionCheck part: no ConditionCheckItem (bench/iam_unused_grants.py).
OPS_ITEM_WRITE = ("dynamodb:PutItem", "dynamodb:UpdateItem")
OPS_ITEM_DELETE = ("dynamodb:DeleteItem",)
OPS_INDEX_QUERY = ("dynamodb:Query",)
# Exactly what purge.py calls: Scan to find keys (vacuum-all, and vacuum-org on a table with no
# orgcode key or index), BatchWriteItem to delete them, DescribeTable to size scan segments; Query
# only where vacuum-org finds an org that way: the orgcode-keyed tables and the orgcode indexes.
SERVICE_TABLE_PURGE = ("dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable")
SERVICE_ORG_QUERY = ("dynamodb:Query",)
# ListObjectVersions + DeleteObjects with a VersionId for every version and delete marker;
# ListMultipartUploads + AbortMultipartUpload for incomplete uploads. DeleteObjects needs
# s3:DeleteObject for every key whatever else it names, and s3:DeleteObjectVersion for a key
# named with its version (S3's API reference; the local stack enforces both).
BUCKET_LIST = ("s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
OBJECT_DELETE = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload")
LOG_STREAM_PURGE = ("logs:DescribeLogStreams", "logs:DeleteLogStream")
AUDIT_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
# Grants no OPS code exercises, each with the reason it stays (``bench/iam_unused_grants.py`` runs
# the suite with IAM enforced and lists every grant no call used; each must be removed or listed
# here): (function keys, action, resource, reason), with IAM wildcards, resources as resolved.
GRANTS_NOT_USED_BY_CODE: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("*",), "logs:*", "arn:aws:logs:*:*:log-group:/aws/lambda/*",
     "Lambda's runtime writes the function's own log group with the role (the local stack prints)"),
    (("*",), "xray:*", "*", "active tracing: Lambda sends the trace segments with the role (off locally)"),
    (("*",), "kms:*", "arn:aws:kms:*",
     "the encrypted topic: SNS uses its key as the publisher when a function publishes"),
    (("admin",), "sns:Publish", "*", "secret.lockout, when wrong codes to rotate-secret lock the code"),
    (("vacuum-steps",), "logs:CreateLogStream", "*:log-group:/g3nretailstack/ops/maintenance-audit:*",
     "the audit's stream of the day is created by its first writer, which may be this function"),
    (("vacuum-steps",), "s3:AbortMultipartUpload", "arn:aws:s3:::*/*",
     "aborts a bucket's incomplete multipart uploads; the seed leaves none to abort"),
)  # fmt: skip
# cdk-nag finding for an ARN ending in ``:*`` or ``/*`` after a named resource (never a bare ``*``).
WILDCARD_BELOW_NAMED_RESOURCE = RegexAppliesTo(regex="/^Resource::.+[:/]\\*$/")


def leading_keys(patterns: tuple[str, ...]) -> dict:
    """Every key the request touches must match one of ``patterns`` (exact, or prefix ``…*``)."""
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(patterns)}}


MAINTENANCE_BRACKET_SID = "MaintenanceBracket"


def grant_table_access(
    function: lambda_.Function, table: dynamodb.ITable, access: TableAccess, *, sid: str | None = None
) -> None:
    statements = [
        (OPS_ITEM_READ, [table.table_arn], access.read),
        (OPS_ITEM_WRITE, [table.table_arn], access.write),
        (OPS_ITEM_DELETE, [table.table_arn], access.delete),
        (OPS_INDEX_QUERY, [f"{table.table_arn}/index/{KIND_INDEX}"], access.kinds),
    ]
    for actions, resources, patterns in statements:
        if patterns:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid=f"{sid}{actions[0].split(':')[1]}" if sid else None,
                    actions=list(actions),
                    resources=resources,
                    conditions=leading_keys(patterns),
                )
            )


def grant_function_access(
    scope: Construct,
    *,
    stage: str,
    vacuum: bool,
    functions: OpsFunctions,
    table: dynamodb.ITable,
    registry: ServiceRegistry,
    audit_log_group: logs.ILogGroup,
) -> None:
    """``vacuum`` False (the default for any stage): no vacuum execution can be started and no
    purge permission exists; the vacuum request function may still read its records."""
    for key, function in functions.by_key.items():
        grant_table_access(function, table, OWN_TABLE_ACCESS[key])

    maintenance_machine = sfn.StateMachine.from_state_machine_arn(
        scope, "MaintenanceStateMachineRef", state_machine_arn(scope, stage, "maintenance")
    )

    api = functions["api"]
    _read_registry(api, registry)
    _allow(api, ["dynamodb:DescribeTable"], registry.table_arns())  # item counts for stat
    _suppress_wildcards(api)

    _suppress_wildcards(functions["admin"])

    # Operations start windows (and, on a manual early start, stop the waiting execution).
    maintenance = functions["maintenance"]
    maintenance_machine.grant_start_execution(maintenance)
    _read_registry(maintenance, registry)  # a window's --services are checked against it
    _allow(maintenance, ["states:StopExecution"], [execution_arns(scope, stage, "maintenance")])
    audit_log_group.grant(maintenance, *AUDIT_WRITE)
    _suppress_wildcards(maintenance, "state machine executions and audit log streams")

    # The lifecycle's own steps only read and write records and the audit; they start nothing.
    # Describe: a step event is believed only if its execution is this machine's and RUNNING.
    maintenance_steps = functions["maintenance-steps"]
    audit_log_group.grant(maintenance_steps, *AUDIT_WRITE)
    _read_registry(maintenance_steps, registry)  # the effect probe's health URLs; a schedule's services
    _allow(maintenance_steps, ["states:DescribeExecution"], [execution_arns(scope, stage, "maintenance")])
    _suppress_wildcards(maintenance_steps, "audit log streams")

    if not vacuum:
        _suppress_wildcards(functions["vacuum"])
        return
    vacuum_machine = sfn.StateMachine.from_state_machine_arn(
        scope, "VacuumStateMachineRef", state_machine_arn(scope, stage, "vacuum")
    )
    vacuum_requests = functions["vacuum"]
    _read_registry(vacuum_requests, registry)  # vacuum-org checks the orgcode against its pattern
    vacuum_machine.grant_start_execution(vacuum_requests)
    # Stop on cancel; Describe so vacuum-status can close a run whose execution ended outside OPS.
    _allow(
        vacuum_requests,
        ["states:StopExecution", "states:DescribeExecution"],
        [execution_arns(scope, stage, "vacuum")],
    )
    _suppress_wildcards(vacuum_requests, "state machine executions")

    steps = functions["vacuum-steps"]
    _read_registry(steps, registry)
    # Continue-as-new: a round reads its own execution's history length and, near the budget,
    # starts the next execution of the vacuum state machine for the same record.
    # Describe and history: a step event is believed only if its execution is this machine's,
    # RUNNING, and (for a failure) in its failure state.
    vacuum_machine.grant_start_execution(steps)
    _allow(
        steps,
        ["states:GetExecutionHistory", "states:DescribeExecution"],
        [execution_arns(scope, stage, "vacuum")],
    )
    _suppress_wildcards(steps, "state machine executions")
    grant_maintenance_bracket(
        scope, stage=stage, functions=functions, table=table, audit_log_group=audit_log_group
    )
    # The registry's resources, one managed policy per kind: together they would overflow the
    # role's inline policy size, and CDK's automatic overflow policies cannot carry suppressions.
    purge = {
        "ServiceTables": [
            iam.PolicyStatement(actions=list(SERVICE_TABLE_PURGE), resources=registry.table_arns()),
            iam.PolicyStatement(
                actions=list(SERVICE_ORG_QUERY),
                resources=registry.org_partition_table_arns() + registry.org_index_arns(),
            ),
        ],
        "ServiceBuckets": [
            iam.PolicyStatement(actions=list(BUCKET_LIST), resources=registry.bucket_arns()),
            iam.PolicyStatement(actions=list(OBJECT_DELETE), resources=registry.object_arns()),
        ],
        "ServiceLogGroups": [
            iam.PolicyStatement(actions=list(LOG_STREAM_PURGE), resources=registry.log_group_arns())
        ],
    }
    for name, statements in purge.items():
        statements = [statement for statement in statements if statement.resources]
        if not statements:
            continue
        policy = iam.ManagedPolicy(
            scope,
            f"VacuumSteps{name}Policy",
            description=f"g3n OPS vacuum: purge the registry's {name[len('Service') :].lower()} ({stage})",
            statements=statements,
            roles=[steps.role],
        )
        suppress(
            policy,
            "IAM5",
            "Wildcards only below the registry's named resources: bucket objects and log "
            "streams, whose names are not known in advance.",
            applies_to=[WILDCARD_BELOW_NAMED_RESOURCE],
        )


def grant_maintenance_bracket(
    scope: Construct,
    *,
    stage: str,
    functions: OpsFunctions,
    table: dynamodb.ITable,
    audit_log_group: logs.ILogGroup,
) -> None:
    """vacuum-all --with-maintenance drives a maintenance window through the maintenance domain:
    the request function schedules and starts it (its record, the guard's state, the lifecycle
    execution, the maintenance audit) and cancels it if the run does not start; the steps function
    ends it at finalise; execution-status ends it for a run that ended outside OPS (its records
    and audit it already reaches). Every statement's Sid starts ``MaintenanceBracket``."""
    machine = state_machine_arn(scope, stage, "maintenance")
    executions = execution_arns(scope, stage, "maintenance")
    for key in MAINTENANCE_BRACKET_TABLE_FUNCTIONS:
        function = functions[key]
        grant_table_access(function, table, MAINTENANCE_BRACKET_ACCESS, sid=MAINTENANCE_BRACKET_SID)
        _allow(function, AUDIT_WRITE, [audit_log_group.log_group_arn], sid=f"{MAINTENANCE_BRACKET_SID}Audit")
    # Ending a window starts its lifecycle's closing execution; only the request function cancels
    # a window that has not started (the run did not start), which stops its waiting execution.
    for key in (*MAINTENANCE_BRACKET_TABLE_FUNCTIONS, "execution-status"):
        _allow(functions[key], ["states:StartExecution"], [machine], sid=f"{MAINTENANCE_BRACKET_SID}Start")
    _allow(functions["vacuum"], ["states:StopExecution"], [executions], sid=f"{MAINTENANCE_BRACKET_SID}Stop")
    # Ending the window at finalise reads its lifecycle execution's status first.
    _allow(
        functions["vacuum-steps"],
        ["states:DescribeExecution"],
        [executions],
        sid=f"{MAINTENANCE_BRACKET_SID}Describe",
    )


def _read_registry(function: lambda_.Function, registry: ServiceRegistry) -> None:
    _allow(function, ["ssm:GetParameter"], [registry.parameter_arn])


def _allow(function: lambda_.Function, actions, resources: list[str], *, sid: str | None = None) -> None:
    if resources:
        function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=list(actions), resources=resources))


def _suppress_wildcards(function: lambda_.Function, what: str = "") -> None:
    """IAM5 for ARNs that end in ``*`` below a named resource (never a bare ``*`` on data)."""
    assert function.role is not None
    suppress(
        function.role,
        "IAM5",
        "Wildcards only below named resources: the function's log streams, the OPS table's indexes"
        + (f", {what}." if what else "."),
        applies_to=[WILDCARD_BELOW_NAMED_RESOURCE],
    )
