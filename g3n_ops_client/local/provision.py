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
from g3n_maintenance_guard import STATUS_URL_ENV
from g3n_ops import aws, notify, settings
from g3n_ops.contract import discovery
from g3n_ops.contract.registry import Registry
from g3n_ops.contract.table import OPS_TABLE, Key, table_name
from g3n_ops.domain import secret
from g3n_ops.registry import forget_cached_registry
from g3n_ops.store import maintenance_state
from g3n_ops.store import secret as secret_store
from g3n_ops.store import table as ops_table
from g3n_ops_client.local.lambda_runtime import LambdaDispatcher, LocalFunction
from g3n_ops_client.local.standins import StandIns
from g3n_ops_client.local.status_watcher import StatusWatcher
from infra import catalogue

# What the local stack decides whatever its environment says (see function_environment).
STACK_OWNED_VACUUM_VARIABLES = frozenset(
    map(settings.env_name, ("vacuum_state_machine_arn", "vacuum_pending_seconds", "vacuum_allowed"))
)


# The endpoint the functions' clients (``aws.client``, ``notify``; one set per process) were made for.
_clients_endpoint: str | None = None


def registry_template() -> str:
    return (resources.files("infra") / "registry.json").read_text()


def _placeholder_zip() -> bytes:
    """moto wants a code package; the local stack runs the handler in-process instead."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "handlers run in-process on the g3n local stack\n")
    return buffer.getvalue()


class Provisioner:
    def __init__(
        self,
        *,
        stage,
        account,
        region,
        info,
        pending_seconds,
        dispatcher: LambdaDispatcher,
        lockout: tuple[int, int] = (5, 900),
        guard_ttl_seconds: int = 20,
        probe_margin_seconds: int = 10,
    ):
        self.stage = stage
        self.lockout = lockout  # (wrong codes, window seconds)
        self._secret_items: dict[str, dict] = {}
        self.guard_ttl_seconds = guard_ttl_seconds
        self.probe_margin_seconds = probe_margin_seconds
        self.account = account
        self.region = region
        self.info = info
        self.pending_seconds = pending_seconds
        self.dispatcher = dispatcher
        self._clients: dict[tuple[str, str], object] = {}
        self.registry = Registry.from_template(registry_template(), stage=stage, account=account)
        self.standins = StandIns(
            [service.code for service in self.registry.api_services], guard_ttl_seconds=guard_ttl_seconds
        )
        self.table_name = table_name(stage)
        self.role_arn = f"arn:aws:iam::{account}:role/g3n-{stage}-ops-local"
        for spec in catalogue.FUNCTIONS:
            name = catalogue.function_name(stage, spec.key)
            self.dispatcher.register(
                LocalFunction(
                    name, self.function_arn(spec.key), spec.handler, spec.memory_mb, spec.timeout_seconds
                )
            )
        # The EventBridge rule on execution status changes, emulated (moto emits no such events).
        self.status_watcher = StatusWatcher(
            sfn_client=lambda: self._client("stepfunctions"),
            state_machine_arns=lambda: {self.state_machine_arn(s.key) for s in catalogue.STATE_MACHINES},
            dispatcher=dispatcher,
            function_name=catalogue.function_name(stage, "execution-status"),
            account=account,
            region=region,
        )

    # -- names -----------------------------------------------------------------------------------
    def function_arn(self, key: str) -> str:
        return (
            f"arn:aws:lambda:{self.region}:{self.account}:function:{catalogue.function_name(self.stage, key)}"
        )

    @property
    def events_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account}:g3n-{self.stage}-ops-events"

    def state_machine_arn(self, key: str) -> str:
        name = catalogue.state_machine_name(self.stage, key)
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"

    def function_environment(self) -> dict[str, str]:
        """What the CDK stack gives each function (all functions share it), for this stack.

        One local-only knob on top: ``VACUUM_*`` variables in the local stack's own environment
        (``VACUUM_RETRY_SECONDS``, ``VACUUM_CHUNK_ITEMS``, ...) win over the defaults, so a test or
        bench can shrink a vacuum; the stack's own choices (state machine, pending window,
        allowed) win over them."""
        stack_set = settings.Settings.given(
            stage=self.stage,
            table_name=self.table_name,
            # (registry parameter and audit log group: the defaults, the local stage's names)
            maintenance_state_machine_arn=self.state_machine_arn("maintenance"),
            vacuum_state_machine_arn=self.state_machine_arn("vacuum"),
            vacuum_pending_seconds=self.pending_seconds,
            vacuum_allowed=True,  # the local stack is a dev stack: vacuum is on, explicitly
            secret_lockout_threshold=self.lockout[0],
            secret_lockout_window_seconds=self.lockout[1],
            # The stand-ins' guard TTL, which the maintenance probes' deadline counts on.
            guard_ttl_seconds=self.guard_ttl_seconds,
            maintenance_probe_margin_seconds=self.probe_margin_seconds,
            events_topic_arn=self.events_topic_arn,
        )
        tuned = {
            name: value
            for name, value in os.environ.items()
            if name.startswith("VACUUM_") and name not in STACK_OWNED_VACUUM_VARIABLES
        }
        return {**settings.function_environment(stack_set), **tuned}

    def process_environment(self) -> dict[str, str]:
        """This process's environment: the functions' (their handlers run here) and the stand-in
        services' status page, which their guards' 503 links (each real service's own stack sets
        it; no OPS function reads it)."""
        return {**self.function_environment(), STATUS_URL_ENV: self.info.api_url + "/status"}

    def _client(self, service: str):
        key = (service, self.info.endpoint_url)
        if key not in self._clients:
            self._clients[key] = boto3.session.Session().client(
                service, region_name=self.region, endpoint_url=self.info.endpoint_url
            )
        return self._clients[key]

    # -- provisioning ----------------------------------------------------------------------------
    def provision(self, secret_code: str) -> None:
        self.refresh_process()
        self._create_ops_table()
        self._create_role()
        self._create_functions()
        self._create_state_machines()
        self._create_service_resources()
        self._create_log_group(f"{discovery.PREFIX}/maintenance-audit")
        self._write_parameters()
        self._initialise_secret(secret_code)
        self._initialise_maintenance_state()
        self._create_events_topic()
        self.status_watcher.resume(forget=True)
        self.status_watcher.start()

    def refresh_process(self) -> None:
        """This process's side of a fresh stack: the functions' environment, no cached settings
        or registry (handlers run in-process), no rigged stand-in. The functions' AWS clients are
        made again when the stack's endpoint is new to them; a reset on the same endpoint keeps
        them, as warm containers keep theirs (a client holds no state of the stack; each reset
        made ~8 again, ~9 s of a suite run)."""
        # The API services' health URLs are the stand-ins on this stack's port.
        self.registry = self.registry.with_health_urls(self.info.services_url)
        self.standins.reset()
        os.environ.update(self.process_environment())
        settings.settings.cache_clear()
        global _clients_endpoint
        if _clients_endpoint != self.info.endpoint_url:  # another stack of this process's, or none
            aws.reset_clients()
            notify.reset_client()
            _clients_endpoint = self.info.endpoint_url
        forget_cached_registry()

    def _create_ops_table(self) -> None:
        ddb = self._client("dynamodb")
        ddb.create_table(**ops_table_definition(self.table_name))
        if OPS_TABLE.ttl_attribute:
            ddb.update_time_to_live(
                TableName=self.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": OPS_TABLE.ttl_attribute},
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
        """In this process's moto backends, as seeding writes (``in_process``): half a reset's
        provisioning went to these ~40 requests over HTTP."""
        from g3n_ops_client.local.in_process import ServiceResources

        resources = ServiceResources(self.account, self.region)
        for service in self.registry.services:
            for tbl in service.tables:
                resources.create_table(table_definition(tbl))
            for bucket in service.buckets:
                resources.create_versioned_bucket(bucket)
            for group in service.log_groups:
                resources.create_log_group(group)

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
            discovery.EVENTS_TOPIC_ARN: self.events_topic_arn,
        }
        for spec in catalogue.FUNCTIONS:
            values[discovery.function_parameter(spec.key)] = catalogue.function_name(self.stage, spec.key)
        for spec in catalogue.STATE_MACHINES:
            values[discovery.state_machine_parameter(spec.key)] = self.state_machine_arn(spec.key)
        for name, value in values.items():
            ssm.put_parameter(
                Name=name, Value=value, Type="String", Overwrite=True, Tier="Intelligent-Tiering"
            )

    def _initialise_secret(self, code: str) -> None:
        """What ``g3n ops init-secret`` does (a conditional put of the scrypt hash), with the hash
        computed once per code and process: at N=2^17 each hash costs ~0.5 s, and tests reset
        the stack many times."""
        if code not in self._secret_items:
            self._secret_items[code] = secret.initial_item(code)
        attributes = {key: value for key, value in self._secret_items[code].items() if key != "pk"}
        secret_store.put_secret_if_absent(attributes)

    def _initialise_maintenance_state(self) -> None:
        item = maintenance_state.item(maintenance_state.INACTIVE)
        ddb = self._client("dynamodb")
        with contextlib.suppress(ddb.exceptions.ConditionalCheckFailedException):
            ddb.put_item(
                TableName=self.table_name,
                Item=ops_table.serialize(item),
                ConditionExpression="attribute_not_exists(pk)",
            )

    def clear_secret_lockout(self) -> None:
        self._client("dynamodb").delete_item(
            TableName=self.table_name, Key={"pk": {"S": secret_store.LOCKOUT_PK}}
        )

    def _create_events_topic(self) -> None:
        created = self._client("sns").create_topic(Name=self.events_topic_arn.rsplit(":", 1)[1])
        assert created["TopicArn"] == self.events_topic_arn

    def running_executions(self) -> list[str]:
        sfn = self._client("stepfunctions")
        return [
            execution["executionArn"]
            for machine in sfn.list_state_machines()["stateMachines"]
            for page in sfn.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
            )
            for execution in page["executions"]
        ]

    def stop_running_executions(self, *, deliver_endings: bool = False) -> None:
        """Ask every running execution to stop. Unlike on AWS, one may read RUNNING for a moment
        after its StopExecution (moto's interpreter ends it between states): ``running_executions``
        tells when none is. Their endings reach execution-status only if ``deliver_endings``."""
        if not deliver_endings:
            self.status_watcher.suspend()  # a reset or stop follows: nothing stopped is worth closing
        sfn = self._client("stepfunctions")
        for execution_arn in self.running_executions():
            sfn.stop_execution(executionArn=execution_arn, cause="local stack reset")

    # -- serving ---------------------------------------------------------------------------------
    def call_api(self, event: dict) -> dict:
        return self.dispatcher.functions[catalogue.function_name(self.stage, "api")].call(event)

    def standin_handlers(self) -> dict:
        return self.standins.handlers

    def seed(self) -> dict:
        from g3n_ops_client.local import in_process
        from g3n_ops_client.local.seed import seed

        return seed(
            self.registry,
            self._client,
            put_items=in_process.DynamoDBItems(self.account, self.region).put_items,
            s3=in_process.S3Objects(self.account),
            logs=in_process.LogEvents(self.account, self.region),
        )


def ops_table_definition(name: str) -> dict:
    """CreateTable arguments for the OPS table, from its one specification (TTL is a second call)."""

    def key_schema(partition: Key, sort: Key | None) -> list[dict]:
        keys = [(partition, "HASH"), (sort, "RANGE")]
        return [{"AttributeName": key.name, "KeyType": kind} for key, kind in keys if key is not None]

    definition: dict = {
        "TableName": name,
        "BillingMode": OPS_TABLE.billing_mode,
        "KeySchema": key_schema(OPS_TABLE.partition_key, OPS_TABLE.sort_key),
        "AttributeDefinitions": [
            {"AttributeName": key.name, "AttributeType": key.type} for key in OPS_TABLE.attributes()
        ],
    }
    if OPS_TABLE.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": key_schema(index.partition_key, index.sort_key),
                "Projection": {"ProjectionType": index.projection},
            }
            for index in OPS_TABLE.indexes
        ]
    return definition


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
