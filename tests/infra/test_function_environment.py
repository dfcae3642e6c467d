"""The local stack is the deployed stack's twin: each function gets the same variables with the
same values, and the OPS table has the same keys, indexes, billing and TTL.

The deployed side is OpsStack synthesised for the local stage with vacuum on (the template the
local stack's IAM enforcement reads, cached on disk), its intrinsics resolved to the local
account's names and ARNs. The local side is a ``Provisioner`` given the deployed values (the test
stack's own shortens timings) and no ``VACUUM_*`` tuning from the environment.
"""

from __future__ import annotations

import os

import boto3
import pytest

from g3n_ops.settings import DEPLOYED_NAMES
from g3n_ops_client.local.defaults import LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STAGE
from g3n_ops_client.local.iam.template import Resolver, synthesised_template
from g3n_ops_client.local.lambda_runtime import LambdaDispatcher
from g3n_ops_client.local.provision import Provisioner
from infra import catalogue
from infra.project import cdk_json_context


@pytest.fixture(scope="module")
def template() -> dict:
    return synthesised_template(LOCAL_STAGE)


@pytest.fixture(scope="module")
def resolve(template) -> Resolver:
    return Resolver(template, account=LOCAL_ACCOUNT, region=LOCAL_REGION)


def deployed_function(template: dict, name: str) -> dict:
    (props,) = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("FunctionName") == name
    ]
    return props


@pytest.fixture
def local_environment(local_stack, monkeypatch) -> dict[str, str]:
    """What provision.py gives every function, for a stack configured as deployed."""
    for name in [name for name in os.environ if name.startswith("VACUUM_")]:
        monkeypatch.delenv(name)  # the local-only tuning knob: off, as in AWS
    provisioner = Provisioner(
        stage=LOCAL_STAGE,
        account=LOCAL_ACCOUNT,
        region=LOCAL_REGION,
        info=local_stack.info,
        pending_seconds=int(cdk_json_context()["vacuumPendingSeconds"]),
        dispatcher=LambdaDispatcher(),
    )
    return provisioner.function_environment()


@pytest.mark.parametrize("spec", catalogue.FUNCTIONS, ids=lambda spec: spec.key)
def test_each_function_gets_the_deployed_variables_and_values_locally(
    spec, template, resolve, local_environment
):
    props = deployed_function(template, catalogue.function_name(LOCAL_STAGE, spec.key))
    deployed = resolve(props["Environment"]["Variables"])
    assert sorted(local_environment) == sorted(deployed) == sorted(DEPLOYED_NAMES)
    for name, value in deployed.items():
        assert local_environment[name] == value, name


def test_the_ops_table_is_specified_once_for_aws_and_the_local_stack(template, resolve, local_stack):
    (deployed,) = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::DynamoDB::Table"
    ]
    ddb = boto3.client("dynamodb", endpoint_url=local_stack.endpoint_url, region_name=LOCAL_REGION)
    name = resolve(deployed["TableName"])
    assert name == local_stack.provisioner.table_name
    local = ddb.describe_table(TableName=name)["Table"]

    def by_name(entries: list[dict], key: str) -> list[dict]:
        return sorted(entries, key=lambda entry: entry[key])

    assert local["KeySchema"] == deployed["KeySchema"]
    assert by_name(local["AttributeDefinitions"], "AttributeName") == by_name(
        deployed["AttributeDefinitions"], "AttributeName"
    )
    assert [
        {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        for index in by_name(local.get("GlobalSecondaryIndexes", []), "IndexName")
    ] == by_name(deployed.get("GlobalSecondaryIndexes", []), "IndexName")
    assert local["BillingModeSummary"]["BillingMode"] == deployed["BillingMode"]
    assert "StreamSpecification" not in local and "StreamSpecification" not in deployed
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert {"AttributeName": ttl["AttributeName"], "Enabled": ttl["TimeToLiveStatus"] == "ENABLED"} == (
        deployed["TimeToLiveSpecification"]
    )
