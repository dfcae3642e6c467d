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

from g3n_ops.contract.table import OPS_TABLE, Key, table_name

ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: Key | None) -> dynamodb.Attribute | None:
    return None if key is None else dynamodb.Attribute(name=key.name, type=ATTRIBUTE_TYPES[key.type])


class OpsData(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=table_name(stage),
            partition_key=_attribute(OPS_TABLE.partition_key),
            sort_key=_attribute(OPS_TABLE.sort_key),
            billing_mode=dynamodb.BillingMode(OPS_TABLE.billing_mode),
            time_to_live_attribute=OPS_TABLE.ttl_attribute,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Deletion protection is turned on by the stack's last step, not here: see the
            # module's docstring. The secret hash, maintenance history and vacuum audit outlive
            # the stack; only the rollback of the create that made the table removes it.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        for index in OPS_TABLE.indexes:
            self.table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key),
                projection_type=dynamodb.ProjectionType(index.projection),
            )
