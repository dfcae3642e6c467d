"""Creates on the local endpoint what the CDK stack creates in AWS, from the same data:
``infra/catalogue.py`` (functions, state machines), ``infra/registry.json`` (service tables,
buckets, log groups) and ``workflows/*.asl.json`` (the state machine definitions)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from importlib import resources

import boto3

import workflows
from g3n_ops import aws, discovery, settings
from g3n_ops.domain import secret
from g3n_ops.registry import Registry, forget_cached_registry
from g3n_ops.store import maintenance_state
from g3n_ops.store import table as ops_table
from g3n_ops_client.local.lambda_runtime import LambdaDispatcher, LocalFunction
from g3n_ops_client.local.standins import standin_handler
from infra import catalogue

OPS_TABLE_SUFFIX = "ops"


def registry_template() -> str:
    return (resources.files("infra") / "registry.json").read_text()


def _placeholder_zip() -> bytes:
    """moto wants a code package; the local stack runs the handler in-process instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "handlers run in-process on the g3n local stack\n")
    return buffer.getvalue()


class Provisioner:
    def __init__(self, *, stage, account, region, info, pending_seconds, dispatcher: LambdaDispatcher):
        self.stage = stage
        self.account = account
        self.region = region
        self.info = info
        self.pending_seconds = pending_seconds
        self.dispatcher = dispatcher
        self._clients: dict[tuple[str, str], object] = {}
        self.registry = Registry.from_template(registry_template(), stage=stage, account=account)
        self.table_name = f"g3n-{stage}-{OPS_TABLE_SUFFIX}"
        self.role_arn = f"arn:aws:iam::{account}:role/g3n-{stage}-ops-local"
        for spec in catalogue.FUNCTIONS:
            name = catalogue.function_name(stage, spec.key)
            self.dispatcher.register(
                LocalFunction(
                    name, self.function_arn(spec.key), spec.handler, spec.memory_mb, spec.timeout_seconds
                )
            )

    # -- names -----------------------------------------------------------------------------------
    def function_arn(self, key: str) -> str:
        return (
            f"arn:aws:lambda:{self.region}:{self.account}:function:{catalogue.function_name(self.stage, key)}"
        )

    def state_machine_arn(self, key: str) -> str:
        name = catalogue.state_machine_name(self.stage, key)
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    def function_environment(self) -> dict[str, str]:
        """What the CDK stack gives each function, for this process (all functions share it).

        Vacuum tuning (``VACUUM_RETRY_SECONDS``, ``VACUUM_CHUNK_ITEMS``, any ``VACUUM_*``) comes
        from the local stack's own environment, so a test or bench can shrink it; the stack's own
        settings (pending window, allowed) win over the environment's."""
        return {
            **{name: value for name, value in os.environ.items() if name.startswith("VACUUM_")},
            "OPS_STAGE": self.stage,
            "OPS_TABLE_NAME": self.table_name,
            "G3N_OPS_TABLE_NAME": self.table_name,  # read by the maintenance guard
            "OPS_REGISTRY_PARAMETER": discovery.REGISTRY,
            "MAINTENANCE_STATE_MACHINE_ARN": self.state_machine_arn("maintenance"),
            "VACUUM_STATE_MACHINE_ARN": self.state_machine_arn("vacuum"),
            "MAINTENANCE_AUDIT_LOG_GROUP": f"{discovery.PREFIX}/maintenance-audit",
            "VACUUM_PENDING_SECONDS": str(self.pending_seconds),
            "VACUUM_ALLOWED": "true",
        }

    def _client(self, service: str):
        key = (service, self.info.endpoint_url)
        if key not in self._clients:
            self._clients[key] = boto3.session.Session().client(
                service, region_name=self.region, endpoint_url=self.info.endpoint_url
            )
        return self._clients[key]

    # -- provisioning ----------------------------------------------------------------------------
    def provision(self, secret_code: str) -> None:
        os.environ.update(self.function_environment())
        settings.settings.cache_clear()
        aws.reset_clients()
        forget_cached_registry()
        self._create_ops_table()
        self._create_role()
        self._create_functions()
        self._create_state_machines()
        self._create_service_resources()
        self._create_log_group(f"{discovery.PREFIX}/maintenance-audit")
        self._write_parameters()
        secret.put_if_absent(secret_code)
        self._initialise_maintenance_state()

    def _create_ops_table(self) -> None:
        ddb = self._client("dynamodb")
        ddb.create_table(
            TableName=self.table_name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "kind", "AttributeType": "S"},
                {"AttributeName": "sortKey", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": ops_table.KIND_INDEX,
                    "KeySchema": [
                        {"AttributeName": "kind", "KeyType": "HASH"},
                        {"AttributeName": "sortKey", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        ddb.update_time_to_live(
            TableName=self.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
        )

    def _create_role(self) -> None:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        self._client("iam").create_role(
            RoleName=self.role_arn.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(trust)
        )

    def _create_functions(self) -> None:
        lam = self._client("lambda")
        package = _placeholder_zip()
        for spec in catalogue.FUNCTIONS:
            lam.create_function(
                FunctionName=catalogue.function_name(self.stage, spec.key),
                Runtime="python3.11",
                Role=self.role_arn,
                Handler=spec.handler,
                Code={"ZipFile": package},
                Description=spec.description,
                Timeout=spec.timeout_seconds,
                MemorySize=spec.memory_mb,
                Environment={"Variables": self.function_environment()},
            )

    def _create_state_machines(self) -> None:
        sfn = self._client("stepfunctions")
        for spec in catalogue.STATE_MACHINES:
            substitutions = {
                placeholder: self.function_arn(key) for placeholder, key in spec.function_placeholders.items()
            }
            definition = workflows.render(workflows.read_asl(spec.asl_file), substitutions)
            sfn.create_state_machine(
                name=catalogue.state_machine_name(self.stage, spec.key),
                definition=definition,
                roleArn=self.role_arn,
            )

    def _create_service_resources(self) -> None:
        ddb, s3 = self._client("dynamodb"), self._client("s3")
        for service in self.registry.services:
            for tbl in service.tables:
                ddb.create_table(**table_definition(tbl))
            for bucket in service.buckets:
                s3.create_bucket(Bucket=bucket)
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            for group in service.log_groups:
                self._create_log_group(group)

    def _create_log_group(self, name: str) -> None:
        self._client("logs").create_log_group(logGroupName=name)

    def _write_parameters(self) -> None:
        ssm = self._client("ssm")
        values = {
            discovery.STAGE: self.stage,
            discovery.API_URL: self.info.api_url,
            discovery.TABLE_NAME: self.table_name,
            discovery.REGISTRY: json.dumps(self.registry.to_document(), separators=(",", ":")),
            discovery.LOCAL_SERVICES_URL: self.info.services_url,
        }
        for spec in catalogue.FUNCTIONS:
            values[discovery.function_parameter(spec.key)] = catalogue.function_name(self.stage, spec.key)
        for spec in catalogue.STATE_MACHINES:
            values[discovery.state_machine_parameter(spec.key)] = self.state_machine_arn(spec.key)
        for name, value in values.items():
            ssm.put_parameter(
                Name=name, Value=value, Type="String", Overwrite=True, Tier="Intelligent-Tiering"
            )

    def _initialise_maintenance_state(self) -> None:
        item = maintenance_state.item(maintenance_state.INACTIVE)
        ddb = self._client("dynamodb")
        with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(
                TableName=self.table_name,
                Item=ops_table.serialize(item),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def stop_running_executions(self) -> None:
        sfn = self._client("stepfunctions")
        for machine in sfn.list_state_machines()["stateMachines"]:
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )
            for page in pages:
                for execution in page["executions"]:
                    sfn.stop_execution(executionArn=execution["executionArn"], cause="local stack reset")

    # -- serving ---------------------------------------------------------------------------------
    def call_api(self, event: dict) -> dict:
        return self.dispatcher.functions[catalogue.function_name(self.stage, "api")].call(event)

    def standin_handlers(self) -> dict:
        return {service.code: standin_handler(service.code) for service in self.registry.api_services}

    def seed(self) -> dict:
        from g3n_ops_client.local.seed import seed

        return seed(self.registry, self._client)


def table_definition(tbl) -> dict:
    """CreateTable arguments for a registry table (with its orgcode GSI when it declares one)."""
    attributes = {key.attribute_name: key.attribute_type for key in tbl.key_schema}
    definition: dict = {
        "TableName": tbl.name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": k.attribute_name, "KeyType": k.key_type} for k in tbl.key_schema],
    }
    if tbl.org_index:
        attributes["orgcode"] = "S"
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": tbl.org_index,
                "KeySchema": [{"AttributeName": "orgcode", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ]
    definition["AttributeDefinitions"] = [
        {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
    ]
    return definition
