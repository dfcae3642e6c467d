"""Items the OPS table needs from the first deploy on, each written only if absent: the inactive
maintenance state. And the table's deletion protection, turned on as the stack's last step
(:meth:`InitialItems.protect_table`; why not in the table's template: ``infra/constructs/data.py``).

The secret code is deliberately not one of them: neither the code nor its hash may enter the
template (anyone who can read a template could attack a hash offline). A new stack answers
``secret-not-set`` until the operator runs ``g3n ops init-secret`` (IAM-gated: invoke on the
admin function; a conditional put that works only while no secret exists).
"""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from cdk_nag import RegexAppliesTo
from constructs import Construct

from g3n_ops.contract.maintenance import INACTIVE_STATE, state_item
from infra.constructs.nag import suppress


class InitialItems(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)
        self._table = table
        # The provider function (a stack-wide singleton) gets this role and log group instead of
        # AWSLambdaBasicExecutionRole; each item adds its own PutItem statement to the role.
        self._log_group = logs.LogGroup(
            self,
            "ProviderLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self._role = iam.Role(
            self,
            "ProviderRole",
            description="g3n OPS: write the initial OPS table items on first deploy",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        )
        self._log_group.grant(self._role, "logs:CreateLogStream", "logs:PutLogEvents")
        suppress(
            self._role,
            "IAM5",
            "The provider writes log streams (':*') of its own log group only.",
            applies_to=[RegexAppliesTo(regex="/^Resource::<.+ProviderLogs.+\\.Arn>:\\*$/")],
        )
        self.maintenance_state = self._put_if_absent("MaintenanceState", state_item(INACTIVE_STATE))

    def protect_table(self) -> cr.AwsCustomResource:
        """Turn on the table's deletion protection after every other resource of the stack exists:
        on a first deploy it is then on only once nothing else can fail and roll the create back
        (the rollback could not delete a protected table, and a retry would meet it). Call it
        last. Later deploys call it again only if the call itself changes; a later update that
        fails leaves the table alone anyway (only the rollback of its own create removes it)."""
        enable = cr.AwsSdkCall(
            service="DynamoDB",
            action="updateTable",
            parameters={"TableName": self._table.table_name, "DeletionProtectionEnabled": True},
            physical_resource_id=cr.PhysicalResourceId.of("g3n-ops-table-deletion-protection"),
        )
        protection = cr.AwsCustomResource(
            self,
            "TableDeletionProtection",
            on_create=enable,
            on_update=enable,
            install_latest_aws_sdk=False,
            role=self._role,
            log_group=self._log_group,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["dynamodb:UpdateTable"], resources=[self._table.table_arn])]
            ),
        )
        own = protection.node.path + "/"
        for construct in Stack.of(self).node.find_all():
            if isinstance(construct, CfnResource) and not construct.node.path.startswith(own):
                protection.node.add_dependency(construct)
        return protection

    def _put_if_absent(self, construct_id: str, item: dict) -> cr.AwsCustomResource:
        key = item["pk"]
        put = cr.AwsSdkCall(
            service="DynamoDB",
            action="putItem",
            parameters={
                "TableName": self._table.table_name,
                "Item": {name: {"S": value} for name, value in item.items()},  # strings only
                "ConditionExpression": "attribute_not_exists(pk)",
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"g3n-ops-initial-item-{key}"),
            # The item exists already: keep it (that is the point of the condition).
            ignore_error_codes_matching="ConditionalCheckFailed",
        )
        return cr.AwsCustomResource(
            self,
            construct_id,
            on_create=put,  # create only: an update or delete of the stack never touches the item
            install_latest_aws_sdk=False,  # the runtime's SDK: no network fetch during deploy
            role=self._role,
            log_group=self._log_group,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["dynamodb:PutItem"],
                        resources=[self._table.table_arn],
                        conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [key]}},
                    )
                ]
            ),
        )
