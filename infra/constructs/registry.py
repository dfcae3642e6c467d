"""The service registry as deployed: ``infra/registry.json`` expanded for this stage and account,
published as one SSM parameter, plus the ARNs of everything it names (for least-privilege IAM)."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from g3n_ops.contract import discovery
from g3n_ops.contract.registry import Registry

STANDARD_TIER_LIMIT = 4096  # bytes; larger values need the Advanced tier
SAMPLE_ACCOUNT = "123456789012"  # only to measure the expanded size


class ServiceRegistry(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, registry_file: Path) -> None:
        super().__init__(scope, construct_id)
        template = registry_file.read_text()
        # Validated here so a bad registry fails the synth, not a vacuum in production.
        self.registry = Registry.from_template(template, stage=stage, account=Aws.ACCOUNT_ID)
        document = _compact(self.registry.to_document())
        # Measured with a 12-digit account, as deployed: the registry outgrows the 4 KB Standard tier.
        expanded = Registry.from_template(template, stage=stage, account=SAMPLE_ACCOUNT)
        advanced = len(_compact(expanded.to_document()).encode()) > STANDARD_TIER_LIMIT
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=discovery.scoped(discovery.REGISTRY, stage),
            description="g3n OPS service registry: tables, buckets and log groups per service",
            string_value=document,
            tier=ssm.ParameterTier.ADVANCED if advanced else ssm.ParameterTier.STANDARD,
        )
        self.parameter_arn = self.parameter.parameter_arn

    # -- ARNs of what the registry names ---------------------------------------------------------
    def table_arns(self) -> list[str]:
        stack = Stack.of(self)
        return [
            stack.format_arn(service="dynamodb", resource="table", resource_name=table.name)
            for service in self.registry.services
            for table in service.tables
        ]

    def org_partition_table_arns(self) -> list[str]:
        """The tables whose partition key is the orgcode (vacuum-org queries them)."""
        stack = Stack.of(self)
        return [
            stack.format_arn(service="dynamodb", resource="table", resource_name=table.name)
            for service in self.registry.services
            for table in service.tables
            if table.org_lookup == "partition"
        ]

    def org_index_arns(self) -> list[str]:
        """The orgcode index of each table found by it (vacuum-org queries the index)."""
        stack = Stack.of(self)
        return [
            stack.format_arn(
                service="dynamodb", resource="table", resource_name=f"{table.name}/index/{table.org_index}"
            )
            for service in self.registry.services
            for table in service.tables
            if table.org_lookup == "index" and table.org_index
        ]

    def bucket_arns(self) -> list[str]:
        return [
            f"arn:{Aws.PARTITION}:s3:::{bucket}"
            for service in self.registry.services
            for bucket in service.buckets
        ]

    def object_arns(self) -> list[str]:
        return [f"{arn}/*" for arn in self.bucket_arns()]

    def log_group_arns(self) -> list[str]:
        """Each log group with its streams (``log-group:<name>:*``)."""
        stack = Stack.of(self)
        return [
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"{group}:*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for service in self.registry.services
            for group in service.log_groups
        ]


def _compact(document: dict) -> str:
    return json.dumps(document, separators=(",", ":"))
