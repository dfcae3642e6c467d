"""Items the OPS table needs from the first deploy on, each written only if absent: the secret
code's scrypt hash and the inactive maintenance state.

The secret code is read at synth from the deployer's ``G3N_OPS_SECRET_CODE``; only its hash, salt
and scrypt parameters go into the template, never the code. The write is a conditional PutItem
(``attribute_not_exists(pk)``) whose ConditionalCheckFailed is ignored, so a deploy never
overwrites an existing secret (rotate it with ``g3n ops rotate-secret``). Without the variable
the synth still succeeds (tests, diffs) but skips the secret item and adds a warning annotation:
a stack deployed that way answers ``secret-not-set`` until a deploy with the variable set.
"""

from __future__ import annotations

import os

from aws_cdk import Annotations, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from g3n_ops.domain import secret
from g3n_ops.store import maintenance_state
from g3n_ops.store import table as ops_table
from infra.constructs.nag import LAMBDA_BASIC_EXECUTION_ROLE, suppress

SECRET_ENV = "G3N_OPS_SECRET_CODE"
# The singleton provider function AwsCustomResource adds at stack level.
PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"


class InitialItems(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table: dynamodb.ITable) -> None:
        super().__init__(scope, construct_id)
        self._table = table
        self.maintenance_state = self._put_if_absent(
            "MaintenanceState", maintenance_state.item(maintenance_state.INACTIVE)
        )
        code = os.environ.get(SECRET_ENV)
        if code:
            self.secret: cr.AwsCustomResource | None = self._put_if_absent(
                "Secret", secret.initial_item(code)
            )
        else:
            self.secret = None
            Annotations.of(self).add_warning_v2(
                "g3n:secret-not-set",
                f"{SECRET_ENV} is not set: the template does not set the OPS secret code. "
                "Set it when deploying a new stack (an existing secret is never overwritten).",
            )
        provider = Stack.of(self).node.try_find_child(PROVIDER_ID)
        if provider is not None:
            suppress(
                provider,
                "IAM4",
                "AWSLambdaBasicExecutionRole only lets the custom-resource provider write its own logs.",
                applies_to=[LAMBDA_BASIC_EXECUTION_ROLE],
            )
            suppress(provider, "L1", "The AwsCustomResource provider runtime is chosen and updated by CDK.")

    def _put_if_absent(self, construct_id: str, item: dict) -> cr.AwsCustomResource:
        key = item["pk"]
        put = cr.AwsSdkCall(
            service="DynamoDB",
            action="putItem",
            parameters={
                "TableName": self._table.table_name,
                "Item": ops_table.serialize(item),
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
