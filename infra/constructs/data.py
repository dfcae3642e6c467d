"""The OPS table: single-table design, never vacuumed, never deleted with the stack.

It holds the secret hash, the maintenance history and the vacuum audit, so a stack delete (or a
replacement) keeps it. A failed first deploy must be retriable, though: its rollback deletes the
table it created (``RETAIN_ON_UPDATE_OR_DELETE``, CloudFormation's ``RetainExceptOnCreate``), and
DynamoDB refuses to delete a table with deletion protection on. So the template creates the table
without it, and the stack turns it on as its very last step (``InitialItems.protect_table``).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from g3n_ops.contract.keys import KIND_INDEX

HASH_KEY = "pk"
TTL_ATTRIBUTE = "expiration"  # Powertools idempotency records and leases expire through it


class OpsData(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=f"g3n-{stage}-ops",
            partition_key=dynamodb.Attribute(name=HASH_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Turned on by the stack's last step, not here: see the module's docstring.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # The secret hash, maintenance history and vacuum audit outlive the stack; only the
            # rollback of the create that made the table removes it.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.table.add_global_secondary_index(
            index_name=KIND_INDEX,
            partition_key=dynamodb.Attribute(name="kind", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sortKey", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
