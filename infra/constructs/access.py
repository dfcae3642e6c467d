"""Least-privilege IAM for each OPS function, in one place so a reviewer can read it whole.

OPS-table permissions come from ``infra.table_access`` (the key prefixes each function uses):
each action group is one statement conditioned on ``dynamodb:LeadingKeys``, so a function
reaches only its own items, and only the functions that verify the secret code reach the secret.
DynamoDB has no ``TransactWriteItems`` IAM action: a transaction is authorised by its parts
(Put/Update/Delete and ``ConditionCheckItem``), each under the same condition. Nothing grants
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

from g3n_ops.store import table as ops_table
from infra.constructs.functions import OpsFunctions
from infra.constructs.nag import suppress
from infra.constructs.registry import ServiceRegistry
from infra.constructs.state_machines import execution_arns, state_machine_arn
from infra.table_access import FUNCTION_TABLE_ACCESS, TableAccess

OPS_ITEM_READ = ("dynamodb:GetItem",)
OPS_ITEM_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",  # Powertools idempotency deletes a failed call's record
    "dynamodb:ConditionCheckItem",
)
OPS_INDEX_QUERY = ("dynamodb:Query",)
# Exactly what purge.py calls: Scan/Query to find keys, BatchWriteItem to delete them,
# DescribeTable to size scan segments; on indexes only the orgcode Query.
SERVICE_TABLE_PURGE = ("dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable")
SERVICE_INDEX_QUERY = ("dynamodb:Query",)
# ListObjectVersions + DeleteObjects with a VersionId for every version and delete marker;
# ListMultipartUploads + AbortMultipartUpload for incomplete uploads.
BUCKET_LIST = ("s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
OBJECT_DELETE = ("s3:DeleteObjectVersion", "s3:AbortMultipartUpload")
LOG_STREAM_PURGE = ("logs:DescribeLogStreams", "logs:DeleteLogStream")
AUDIT_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")
# cdk-nag finding for an ARN ending in ``:*`` or ``/*`` after a named resource (never a bare ``*``).
WILDCARD_BELOW_NAMED_RESOURCE = RegexAppliesTo(regex="/^Resource::.+[:/]\\*$/")


def leading_keys(patterns: tuple[str, ...]) -> dict:
    """Every key the request touches must match one of ``patterns`` (exact, or prefix ``…*``)."""
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(patterns)}}


def grant_table_access(function: lambda_.Function, table: dynamodb.ITable, access: TableAccess) -> None:
    statements = [
        (OPS_ITEM_READ, [table.table_arn], access.read),
        (OPS_ITEM_WRITE, [table.table_arn], access.write),
        (OPS_INDEX_QUERY, [f"{table.table_arn}/index/{ops_table.KIND_INDEX}"], access.kinds),
    ]
    for actions, resources, patterns in statements:
        if patterns:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=list(actions), resources=resources, conditions=leading_keys(patterns)
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
        grant_table_access(function, table, FUNCTION_TABLE_ACCESS[key])

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
    _allow(maintenance, ["states:StopExecution"], [execution_arns(scope, stage, "maintenance")])
    audit_log_group.grant(maintenance, *AUDIT_WRITE)
    _suppress_wildcards(maintenance, "state machine executions and audit log streams")

    # The lifecycle's own steps only read and write records and the audit; they start nothing.
    # Describe: a step event is believed only if its execution is this machine's and RUNNING.
    maintenance_steps = functions["maintenance-steps"]
    audit_log_group.grant(maintenance_steps, *AUDIT_WRITE)
    _allow(maintenance_steps, ["states:DescribeExecution"], [execution_arns(scope, stage, "maintenance")])
    _suppress_wildcards(maintenance_steps, "audit log streams")

    if not vacuum:
        _suppress_wildcards(functions["vacuum"])
        return
    vacuum_machine = sfn.StateMachine.from_state_machine_arn(
        scope, "VacuumStateMachineRef", state_machine_arn(scope, stage, "vacuum")
    )
    vacuum_requests = functions["vacuum"]
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
    # The registry's resources, one managed policy per kind: together they would overflow the
    # role's inline policy size, and CDK's automatic overflow policies cannot carry suppressions.
    purge = {
        "ServiceTables": [
            iam.PolicyStatement(actions=list(SERVICE_TABLE_PURGE), resources=registry.table_arns()),
            iam.PolicyStatement(actions=list(SERVICE_INDEX_QUERY), resources=registry.table_index_arns()),
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
            "Wildcards only below the registry's named resources: table indexes, bucket objects and log "
            "streams, whose names are not known in advance.",
            applies_to=[WILDCARD_BELOW_NAMED_RESOURCE],
        )


def _read_registry(function: lambda_.Function, registry: ServiceRegistry) -> None:
    _allow(function, ["ssm:GetParameter"], [registry.parameter_arn])


def _allow(function: lambda_.Function, actions, resources: list[str]) -> None:
    if resources:
        function.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=resources))


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
