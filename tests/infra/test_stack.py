"""The synthesised OPS stack: what is wired to what (handlers, environment, ASL files and their
substitutions, IAM per function, routes, parameters, the secret), not only how many resources.

The app is synthesised once for the module, with cdk-nag's AwsSolutions checks, a recurring
maintenance window and ``G3N_OPS_SECRET_CODE`` set (about 3 s on two cores).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION

import workflows
from g3n_ops.contract import discovery
from g3n_ops.contract.keys import SECRET_LOCKOUT_PK as LOCKOUT_KEY
from g3n_ops.contract.keys import SECRET_PK as SECRET_KEY
from g3n_ops.contract.registry import Registry
from g3n_ops.domain import secret
from g3n_ops.settings import DEPLOYED_NAMES
from g3n_ops.store import maintenance_state
from g3n_ops.store import table as ops_table
from infra import catalogue
from infra.project import PROJECT_ROOT, cdk_json_context
from infra.table_access import FUNCTION_TABLE_ACCESS
from tests.infra.template import Template, render

STAGE = "dev"
SECRET_CODE = "infra-test-plain-secret-7f3c9a"
WINDOW = {
    "name": "weekly-patch",
    "cron": "0 3 ? * SUN *",
    "description": "Weekly patching",
    "duration": 1800,
    "autoEnd": True,
}
ACCOUNT = "${AWS::AccountId}"
REGION = "${AWS::Region}"
AUDIT_LOG_GROUP = "/g3nretailstack/ops/maintenance-audit"
PREFIX = "arn:${AWS::Partition}"


def _synth(outdir: Path, context: dict, *, nag: bool):
    from infra.stack import build_app

    app, stack = build_app(context, outdir=str(outdir), nag=nag)
    try:
        app.synth()
    except RuntimeError as error:  # cdk.json makes annotation errors (cdk-nag) fail the synth
        report = outdir / "validation-report.json"
        pytest.fail(f"synth failed: {error}\n{report.read_text() if report.exists() else ''}")
    return stack, Template(json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()))


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("cdk.out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("G3N_OPS_SECRET_CODE", SECRET_CODE)
        stack, template = _synth(outdir, {"recurringMaintenance": [WINDOW]}, nag=True)
    return stack, template, outdir


@pytest.fixture(scope="module")
def cdk_stack(synthesised):
    return synthesised[0]


@pytest.fixture(scope="module")
def template(synthesised) -> Template:
    return synthesised[1]


@pytest.fixture(scope="module")
def outdir(synthesised) -> Path:
    return synthesised[2]


@pytest.fixture(scope="module")
def registry() -> Registry:
    text = (PROJECT_ROOT / "infra" / "registry.json").read_text()
    return Registry.from_template(text, stage=STAGE, account=ACCOUNT)


@pytest.fixture(scope="module")
def ops_table_id(template) -> str:
    (logical_id,) = template.of_type("AWS::DynamoDB::Table")
    return logical_id


def function_id(template: Template, key: str) -> str:
    return template.function(catalogue.function_name(STAGE, key))[0]


def role(template: Template, key: str) -> str:
    return template.role_of(function_id(template, key))


def state_machine_arn(key: str) -> str:
    return f"{PREFIX}:states:{REGION}:{ACCOUNT}:stateMachine:{catalogue.state_machine_name(STAGE, key)}"


def execution_arns(key: str) -> str:
    return f"{PREFIX}:states:{REGION}:{ACCOUNT}:execution:{catalogue.state_machine_name(STAGE, key)}:*"


def state_machine_id(template: Template, key: str) -> str:
    name = catalogue.state_machine_name(STAGE, key)
    return template.one("AWS::StepFunctions::StateMachine", StateMachineName=name)[0]


def table_arn(name: str) -> str:
    return f"{PREFIX}:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


# -- functions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", catalogue.FUNCTIONS, ids=lambda spec: spec.key)
def test_each_catalogue_function_is_deployed_as_specified(template, spec):
    logical_id, props = template.function(catalogue.function_name(STAGE, spec.key))
    assert props["Handler"] == spec.handler
    assert props["Runtime"] == "python3.11"
    assert props["Timeout"] == spec.timeout_seconds
    assert props["MemorySize"] == spec.memory_mb
    assert props["TracingConfig"] == {"Mode": "Active"}
    # The layer is the one AWS publishes for the pinned Powertools release (a deploy-time lookup).
    (layer,) = props["Layers"]
    parameter = template.document["Parameters"][layer["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == f"/aws/service/powertools/python/x86_64/python3.11/{POWERTOOLS_VERSION}"
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = template.properties(log_group_id)
    assert log_group["LogGroupName"] == f"/aws/lambda/{props['FunctionName']}"
    assert log_group["RetentionInDays"] > 0
    # Its own role, writing its own log group only (no AWSLambdaBasicExecutionRole: logs on "*").
    role_id = template.role_of(logical_id)
    assert "ManagedPolicyArns" not in template.properties(role_id)
    allowed = template.allowed(role_id)
    assert _on(allowed, f"${{{log_group_id}.Arn}}") == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert not any(action.startswith("logs:") and res == "*" for action, res in allowed)
    # The handler module exists in the asset the function is built from.
    module = spec.handler.rsplit(".", 1)[0]
    assert (PROJECT_ROOT / "lambdas" / (module.replace(".", "/") + ".py")).is_file(), module


def test_all_functions_share_the_lambdas_asset_without_caches_or_tests(template, outdir):
    functions = [template.function(catalogue.function_name(STAGE, spec.key)) for spec in catalogue.FUNCTIONS]
    keys = {props["Code"]["S3Key"] for _, props in functions}
    assert len(keys) == 1
    asset_dir = asset_path(outdir, keys.pop())
    assert (asset_dir / "g3n_ops" / "settings.py").is_file()
    assert (asset_dir / "g3n_maintenance_guard").is_dir()
    assert not list(asset_dir.rglob("__pycache__")) and not list(asset_dir.rglob("*.pyc"))


def test_function_environment_is_what_settings_reads(template, ops_table_id):
    # settings.py declares each variable it reads once: deployed, or a knob no stack sets.
    read_by_settings = set(DEPLOYED_NAMES)
    assert read_by_settings, "settings.py no longer reads env[...] / env.get(...)"
    expected = {
        "OPS_STAGE": STAGE,
        "OPS_TABLE_NAME": f"${{{ops_table_id}}}",
        "G3N_OPS_TABLE_NAME": f"${{{ops_table_id}}}",
        "OPS_REGISTRY_PARAMETER": "${" + _registry_parameter_id(template) + "}",
        "MAINTENANCE_STATE_MACHINE_ARN": state_machine_arn("maintenance"),
        "VACUUM_STATE_MACHINE_ARN": state_machine_arn("vacuum"),
        "MAINTENANCE_AUDIT_LOG_GROUP": "/g3nretailstack/ops/maintenance-audit",
        "VACUUM_PENDING_SECONDS": "300",
        "VACUUM_ALLOWED": "true",
        "VACUUM_CONCURRENCY": "8",
        "VACUUM_RETRY_SECONDS": "300",
        "VACUUM_CHUNK_ITEMS": "10000000",
        "SECRET_LOCKOUT_THRESHOLD": "5",
        "SECRET_LOCKOUT_WINDOW_SECONDS": "900",
        "G3N_MAINTENANCE_GUARD_TTL_SECONDS": "20",
        "MAINTENANCE_PROBE_MARGIN_SECONDS": "10",
        "POWERTOOLS_SERVICE_NAME": "g3n-ops",
        "POWERTOOLS_METRICS_NAMESPACE": "G3nOps",
        "OPS_EVENTS_TOPIC_ARN": "${" + template.one("AWS::SNS::Topic")[0] + "}",
        "VACUUM_DRY_RUN_MAX_AGE_SECONDS": "86400",
        "STATUS_REFRESH_SECONDS": "60",
        "VACUUM_MAINTENANCE_SECONDS": "14400",
    }
    assert read_by_settings <= expected.keys()
    for spec in catalogue.FUNCTIONS:
        _, props = template.function(catalogue.function_name(STAGE, spec.key))
        assert render(props["Environment"]["Variables"]) == expected, spec.key


def test_state_machine_arns_in_the_environment_are_the_deployed_names(template):
    for spec in catalogue.STATE_MACHINES:
        template.one(
            "AWS::StepFunctions::StateMachine", StateMachineName=catalogue.state_machine_name(STAGE, spec.key)
        )


# -- state machines ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", catalogue.STATE_MACHINES, ids=lambda spec: spec.key)
def test_state_machine_is_the_asl_file_with_function_substitutions(template, spec):
    _, props = template.one(
        "AWS::StepFunctions::StateMachine", StateMachineName=catalogue.state_machine_name(STAGE, spec.key)
    )
    asl_text = (PROJECT_ROOT / "workflows" / spec.asl_file).read_text()
    assert props["DefinitionString"] == asl_text
    assert json.loads(props["DefinitionString"]) == json.loads(asl_text)
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == workflows.placeholders(asl_text)
    for placeholder, value in substitutions.items():
        key = spec.function_placeholders[placeholder]
        assert value == {"Fn::GetAtt": [function_id(template, key), "Arn"]}, placeholder
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}


@pytest.mark.parametrize("spec", catalogue.STATE_MACHINES, ids=lambda spec: spec.key)
def test_state_machine_role_may_invoke_its_steps_functions(template, spec):
    _, props = template.one(
        "AWS::StepFunctions::StateMachine", StateMachineName=catalogue.state_machine_name(STAGE, spec.key)
    )
    allowed = template.allowed(props["RoleArn"]["Fn::GetAtt"][0])
    for key in set(spec.function_placeholders.values()):
        assert ("lambda:InvokeFunction", f"${{{function_id(template, key)}.Arn}}") in allowed
    other_functions = {spec_.key for spec_ in catalogue.FUNCTIONS} - set(spec.function_placeholders.values())
    for key in other_functions:
        assert not any(function_id(template, key) in resource for _, resource in allowed), key


# -- IAM per function ---------------------------------------------------------------------------------


def _on(allowed: set, resource: str) -> set[str]:
    return {action for action, res in allowed if res == resource}


def test_api_function_reads_only(template, ops_table_id, registry):
    allowed = template.allowed(role(template, "api"))
    table = f"${{{ops_table_id}.Arn}}"
    assert _on(allowed, table) == {"dynamodb:GetItem"}
    assert _on(allowed, f"{table}/index/kind-index") == {"dynamodb:Query"}
    assert _on(allowed, _registry_parameter_arn(template)) == {"ssm:GetParameter"}
    for service in registry.services:
        for service_table in service.tables:
            assert _on(allowed, table_arn(service_table.name)) == {"dynamodb:DescribeTable"}
    assert not {action for action, _ in allowed if action.startswith("states:")}


ITEM_WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem"}  # no ConditionCheck part in any transaction


def ops_table_conditions(template, ops_table_id, key: str) -> dict[str, dict[str, list[str]]]:
    """For one function: ``table``/``index`` → action → the LeadingKeys patterns it is allowed
    (the union over statements). Every statement on the OPS table must carry that condition."""
    table = f"${{{ops_table_id}.Arn}}"
    found: dict[str, dict[str, set[str]]] = {}
    for statement in template.statements(role(template, key)):
        resources = [res for res in statement["Resource"] if res.startswith(table)]
        if not resources:
            continue
        assert statement["Effect"] == "Allow"
        condition = statement.get("Condition", {})
        assert set(condition) == {"ForAllValues:StringLike"}, (key, statement)
        patterns = condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        patterns = [patterns] if isinstance(patterns, str) else patterns
        for resource in resources:
            assert resource in {table, f"{table}/index/kind-index"}, (key, resource)
            where = "index" if resource.endswith("/index/kind-index") else "table"
            for action in statement["Action"]:
                found.setdefault(where, {}).setdefault(action, set()).update(patterns)
    return {where: {action: sorted(p) for action, p in actions.items()} for where, actions in found.items()}


@pytest.mark.parametrize("key", sorted(FUNCTION_TABLE_ACCESS), ids=str)
def test_each_function_reaches_only_its_own_ops_table_keys(template, ops_table_id, key):
    access = FUNCTION_TABLE_ACCESS[key]
    expected: dict[str, dict[str, list[str]]] = {"table": {"dynamodb:GetItem": sorted(access.read)}}
    expected["table"] |= {action: sorted(access.write) for action in ITEM_WRITE if access.write}
    if access.delete:
        expected["table"]["dynamodb:DeleteItem"] = sorted(access.delete)
    if access.kinds:
        expected["index"] = {"dynamodb:Query": sorted(access.kinds)}
    assert ops_table_conditions(template, ops_table_id, key) == expected
    # Nothing else on the OPS table (no Scan, no batch, no other index) outside those statements.
    allowed = template.allowed(role(template, key))
    table = f"${{{ops_table_id}.Arn}}"
    on_table = {action for action, res in allowed if res.startswith(table)}
    assert on_table <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:DeleteItem", *ITEM_WRITE}


def _may_reach(patterns: list[str], key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def test_only_the_functions_that_verify_the_secret_can_touch_it(template, ops_table_id):
    reach = {}
    for spec in catalogue.FUNCTIONS:
        conditions = ops_table_conditions(template, ops_table_id, spec.key).get("table", {})
        reach[spec.key] = {
            key
            for key in (SECRET_KEY, LOCKOUT_KEY)
            if any(_may_reach(patterns, key) for patterns in conditions.values())
        }
    verifying = {"admin", "maintenance", "vacuum"}  # the handlers with SecretRequest routes
    assert {key for key, keys in reach.items() if SECRET_KEY in keys} == verifying
    assert {key for key, keys in reach.items() if LOCKOUT_KEY in keys} == verifying
    # The public API function in particular: the guard's state and records, nothing else.
    api = ops_table_conditions(template, ops_table_id, "api")
    assert api == {
        "table": {"dynamodb:GetItem": ["maintenance#*"]},
        "index": {"dynamodb:Query": ["maintenance", "vacuum"]},
    }
    # The guard's managed policy reads the state item only (see test_guard_read_policy…).


def test_no_function_reserves_concurrency_by_default(template):
    # A new account's quota is 10 and Lambda keeps 10 unreserved: any reservation fails its deploy.
    # (cdk.json "reservedConcurrency" sets some: test_a_second_stage_…; the lockout does not
    # depend on it: tests/unit/test_secret_lockout.py.)
    assert cdk_json_context()["reservedConcurrency"] == {}
    for spec in catalogue.FUNCTIONS:
        _, props = template.function(catalogue.function_name(STAGE, spec.key))
        assert "ReservedConcurrentExecutions" not in props, spec.key


def test_lockout_alarm_fires_on_the_first_lockout(template):
    _, alarm = template.one("AWS::CloudWatch::Alarm", AlarmName=f"g3n-{STAGE}-ops-secret-lockout")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("G3nOps", "SecretLockout")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "g3n-ops"}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("key", ["maintenance", "maintenance-steps"])
def test_maintenance_functions_drive_the_lifecycle_and_write_the_audit(template, ops_table_id, key):
    allowed = template.allowed(role(template, key))
    (audit_id, _) = template.one("AWS::Logs::LogGroup", LogGroupName=AUDIT_LOG_GROUP)
    assert _on(allowed, f"${{{audit_id}.Arn}}") == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert not _on(allowed, state_machine_arn("vacuum"))
    if key == "maintenance":  # schedules windows, and stops the waiting execution on an early start
        assert _on(allowed, state_machine_arn("maintenance")) == {"states:StartExecution"}
        assert _on(allowed, execution_arns("maintenance")) == {"states:StopExecution"}
    else:  # the lifecycle's own steps start nothing; they describe the execution a step names
        assert {(a, r) for a, r in allowed if a.startswith("states:")} == {
            ("states:DescribeExecution", execution_arns("maintenance"))
        }


def test_vacuum_request_function_starts_and_stops_vacuum_executions(template, ops_table_id):
    allowed = template.allowed(role(template, "vacuum"))
    assert _on(allowed, _registry_parameter_arn(template)) == {"ssm:GetParameter"}  # the orgcode pattern
    assert _on(allowed, state_machine_arn("vacuum")) == {"states:StartExecution"}
    assert _on(allowed, execution_arns("vacuum")) == {"states:StopExecution", "states:DescribeExecution"}
    # vacuum-all --with-maintenance: the window it opens (and cancels if the run does not start).
    assert _on(allowed, state_machine_arn("maintenance")) == {"states:StartExecution"}
    assert _on(allowed, execution_arns("maintenance")) == {"states:StopExecution"}
    # The request handler deletes nothing outside OPS: purging is the steps function's job.
    assert not {res for _, res in allowed if ":table/g3n-" in res or ":s3:::" in res}


def test_the_maintenance_bracket_grants_are_statements_of_their_own(template):
    """vacuum-all --with-maintenance drives a window: its grants carry ``MaintenanceBracket`` Sids
    (the local stack's enforcement test removes them to show the run fails without them)."""
    for key, expected in {
        "vacuum": {"states:StartExecution", "states:StopExecution", "logs:CreateLogStream",
                   "logs:PutLogEvents", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
        "vacuum-steps": {"states:StartExecution", "states:DescribeExecution",
                         "logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem", "dynamodb:PutItem",
                         "dynamodb:UpdateItem"},
        "execution-status": {"states:StartExecution"},
    }.items():  # fmt: skip
        statements = template.statements(role(template, key))
        bracket = [s for s in statements if s.get("Sid", "").startswith("MaintenanceBracket")]
        assert {action for statement in bracket for action in statement["Action"]} == expected, key


def test_vacuum_steps_function_purges_exactly_the_registry(template, ops_table_id, registry):
    allowed = template.allowed(role(template, "vacuum-steps"))
    purge = {"dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"}
    for service in registry.services:
        for service_table in service.tables:
            arn = table_arn(service_table.name)
            # Query only where vacuum-org finds an org by it: an orgcode key, or the orgcode index.
            by_partition = service_table.org_lookup == "partition"
            assert _on(allowed, arn) == purge | ({"dynamodb:Query"} if by_partition else set())
            assert not _on(allowed, f"{arn}/index/*")
            if service_table.org_lookup == "index":
                assert _on(allowed, f"{arn}/index/{service_table.org_index}") == {"dynamodb:Query"}
        for bucket in service.buckets:
            assert _on(allowed, f"{PREFIX}:s3:::{bucket}") == {
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
            }
            assert _on(allowed, f"{PREFIX}:s3:::{bucket}/*") == {
                "s3:DeleteObject",  # DeleteObjects needs it for every key, versioned or not
                "s3:DeleteObjectVersion",
                "s3:AbortMultipartUpload",
            }
        for group in service.log_groups:
            assert _on(allowed, f"{PREFIX}:logs:{REGION}:{ACCOUNT}:log-group:{group}:*") == {
                "logs:DescribeLogStreams",
                "logs:DeleteLogStream",
            }
    # The OPS table itself: records and stats only, never Scan/BatchWriteItem.
    ops_table = f"${{{ops_table_id}.Arn}}"
    assert _on(allowed, ops_table) == {"dynamodb:GetItem", "dynamodb:DeleteItem", *ITEM_WRITE}
    registry_tables = {table_arn(t.name) for s in registry.services for t in s.tables}
    purged = {res for action, res in allowed if action == "dynamodb:BatchWriteItem"}
    assert purged == registry_tables


def test_no_role_may_delete_a_table_or_use_wildcard_actions(template):
    for res in template.of_type("AWS::IAM::Role"):
        for statement in template.statements(res):
            for action in statement["Action"]:
                assert not action.endswith("*"), (res, action)
                assert action != "dynamodb:DeleteTable", res
            if "*" in statement["Resource"]:
                # Only actions AWS offers without resource-level permissions.
                assert all(action.split(":")[0] in {"xray", "logs"} for action in statement["Action"]), (
                    statement
                )


# -- API --------------------------------------------------------------------------------------------


def test_operator_routes_are_iam_authorised_public_ones_open_and_all_served_by_the_api_function(template):
    routes = {props["RouteKey"]: props for _, props in _props(template, "AWS::ApiGatewayV2::Route")}
    operator = {"GET /ping", "GET /stat", "GET /maintenance", "GET /maintenance/{id}"}
    public = {"GET /status", "GET /openapi.json"}
    assert set(routes) == operator | public
    api_function = function_id(template, "api")
    for route_key, props in routes.items():
        assert props["AuthorizationType"] == ("AWS_IAM" if route_key in operator else "NONE"), route_key
        integration_id = render(props["Target"]).removeprefix("integrations/${").removesuffix("}")
        integration = template.properties(integration_id)
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert integration["IntegrationUri"] == {"Fn::GetAtt": [api_function, "Arn"]}


def test_default_stage_logs_access_and_throttles(template):
    _, stage = template.one("AWS::ApiGatewayV2::Stage", StageName="$default")
    assert stage["AutoDeploy"] is True
    log_group = render(stage["AccessLogSettings"]["DestinationArn"])
    assert log_group.endswith(".Arn}")
    assert "$context.requestId" in stage["AccessLogSettings"]["Format"]
    throttle = stage["DefaultRouteSettings"]
    assert throttle["ThrottlingRateLimit"] > 0 and throttle["ThrottlingBurstLimit"] > 0


def test_each_public_route_has_its_own_throttle(template):
    _, stage = template.one("AWS::ApiGatewayV2::Stage", StageName="$default")
    assert set(stage["RouteSettings"]) == {"GET /status", "GET /openapi.json"}
    for route_key, settings in stage["RouteSettings"].items():
        assert 0 < settings["ThrottlingRateLimit"] <= 100, route_key
        assert 0 < settings["ThrottlingBurstLimit"] <= 200, route_key


# -- data, audit, parameters, outputs -----------------------------------------------------------------


def test_ops_table_is_protected_and_retained(template, ops_table_id):
    resource = template.resources[ops_table_id]
    props = resource["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # Kept on a stack delete or a replacement (the secret hash lives here), removed only by the
    # rollback of the create that made it, so that a failed first deploy can be retried ...
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    # ... which DynamoDB would refuse for a protected table: protection is the stack's last step.
    assert "DeletionProtectionEnabled" not in props
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ops_table.KIND_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "kind", "KeyType": "HASH"},
        {"AttributeName": "sortKey", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}


def test_maintenance_audit_log_group_is_retained(template):
    logical_id, props = template.one(
        "AWS::Logs::LogGroup", LogGroupName="/g3nretailstack/ops/maintenance-audit"
    )
    assert props["RetentionInDays"] >= 365
    resource = template.resources[logical_id]
    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")


def test_discovery_parameters_point_at_the_deployed_resources(template, ops_table_id):
    parameters = {props["Name"]: props for _, props in _props(template, "AWS::SSM::Parameter")}
    expected = {
        discovery.STAGE: STAGE,
        discovery.TABLE_NAME: f"${{{ops_table_id}}}",
        discovery.API_URL: "${" + template.one("AWS::ApiGatewayV2::Api")[0] + ".ApiEndpoint}",
        discovery.EVENTS_TOPIC_ARN: "${" + template.one("AWS::SNS::Topic")[0] + "}",
    }
    for spec in catalogue.FUNCTIONS:
        expected[discovery.function_parameter(spec.key)] = f"${{{function_id(template, spec.key)}}}"
    for spec in catalogue.STATE_MACHINES:
        machine_id, _ = template.one(
            "AWS::StepFunctions::StateMachine", StateMachineName=catalogue.state_machine_name(STAGE, spec.key)
        )
        expected[discovery.state_machine_parameter(spec.key)] = f"${{{machine_id}}}"
    guard = {
        discovery.GUARD_LAYER_ARN: "${" + template.one("AWS::Lambda::LayerVersion")[0] + "}",
        discovery.GUARD_READ_POLICY_ARN: "${"
        + template.one(
            "AWS::IAM::ManagedPolicy", ManagedPolicyName=f"g3n-{STAGE}-ops-maintenance-guard-read"
        )[0]
        + "}",
    }
    expected.update(guard)
    assert set(parameters) == {*expected, discovery.REGISTRY}
    for name, value in expected.items():
        assert render(parameters[name]["Value"]) == value, name


def test_registry_parameter_is_the_registry_file_expanded_for_the_stage(template):
    _, props = template.one("AWS::SSM::Parameter", Name=discovery.REGISTRY)
    account = "123456789012"
    deployed = json.loads(render(props["Value"]).replace(ACCOUNT, account))
    text = (PROJECT_ROOT / "infra" / "registry.json").read_text()
    assert deployed == Registry.from_template(text, stage=STAGE, account=account).to_document()
    assert len(deployed["services"]) == 15 and sum(len(s["tables"]) for s in deployed["services"]) == 20
    assert props["Tier"] == "Advanced"  # the expanded document is over the 4 KB Standard limit


def test_outputs_are_exported_under_stable_names(template):
    outputs = template.document["Outputs"]
    names = ["ApiUrl", "OpsTableName", "GuardReadPolicyArn"]
    names += ["MaintenanceStateMachineArn", "VacuumStateMachineArn"]
    assert set(outputs) == {*names, "GuardLayerArn"}
    for name in names:
        assert outputs[name]["Export"]["Name"] == f"g3n-{STAGE}-ops-{name}"
    # The layer's ARN changes with every guard edit: an export of it, once imported, would block
    # OPS's next update ("export in use"). Services read it from SSM (test_discovery_parameters…).
    assert "Export" not in outputs["GuardLayerArn"]
    assert discovery.GUARD_LAYER_ARN in outputs["GuardLayerArn"]["Description"]


# -- initial items: the secret and the maintenance state ------------------------------------------------


def _initial_item_calls(template) -> dict[str, dict]:
    calls = {}
    for _, props in _props(template, "Custom::AWS"):
        call = json.loads(render(props["Create"]))
        if call["action"] != "putItem":
            continue  # the table's deletion protection (test_table_deletion_protection_…)
        assert "Update" not in props and "Delete" not in props  # written on create only
        calls[call["parameters"]["Item"]["pk"]["S"]] = call
    return calls


def test_no_secret_code_nor_any_hash_of_it_is_in_the_template(template):
    # G3N_OPS_SECRET_CODE is set during this synth: nothing may read it into the template.
    assert secret.SECRET_PK not in _initial_item_calls(template)
    assert '"salt"' not in template.text and "scrypt" not in template.text.lower()
    for _, props in _props(template, "Custom::AWS"):
        parameters = json.loads(render(props["Create"]))["parameters"]
        assert not {"hash", "salt", "n"} & set(parameters.get("Item", {})), parameters


def test_inactive_maintenance_state_is_written_if_absent(template):
    call = _initial_item_calls(template)[maintenance_state.STATE_PK]
    assert call["parameters"]["ConditionExpression"] == "attribute_not_exists(pk)"
    item = ops_table.deserialize(call["parameters"]["Item"])
    assert item == maintenance_state.item(maintenance_state.INACTIVE)


def test_initial_item_writer_may_only_put_those_two_items_and_protect_the_table(template, ops_table_id):
    (_, provider) = next(
        (lid, props)
        for lid, props in _props(template, "AWS::Lambda::Function")
        if lid.startswith("AWS679f53fac002430cb0da5b7982bd2287")
    )
    provider_role = provider["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in template.properties(provider_role)
    statements = template.statements(provider_role)
    log_group = provider["LoggingConfig"]["LogGroup"]["Ref"]
    assert template.allowed(provider_role) >= {
        ("logs:CreateLogStream", f"${{{log_group}.Arn}}"),
        ("logs:PutLogEvents", f"${{{log_group}.Arn}}"),
    }
    keys = set()
    protect = {
        "Effect": "Allow",
        "Action": ["dynamodb:UpdateTable"],
        "Resource": [f"${{{ops_table_id}.Arn}}"],
    }
    assert protect in statements
    for statement in (s for s in statements if not s["Action"][0].startswith("logs:") and s != protect):
        assert statement["Action"] == ["dynamodb:PutItem"]
        assert statement["Resource"] == [f"${{{ops_table_id}.Arn}}"]
        keys.update(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"])
    assert keys == {maintenance_state.STATE_PK}


def test_table_deletion_protection_is_turned_on_after_everything_else(template, ops_table_id):
    (logical_id, call) = next(
        (lid, json.loads(render(props["Create"])))
        for lid, props in _props(template, "Custom::AWS")
        if json.loads(render(props["Create"]))["action"] == "updateTable"
    )
    assert call["parameters"] == {"TableName": f"${{{ops_table_id}}}", "DeletionProtectionEnabled": True}
    assert json.loads(render(template.properties(logical_id)["Update"])) == call
    # Every other resource exists first: a create that fails before it rolls back cleanly, the
    # unprotected table included (and a retried deploy does not meet an "already exists").
    before = set(template.resources[logical_id]["DependsOn"]) | _implicit_dependencies(template, logical_id)
    own = {lid for lid in template.resources if lid.startswith("InitialItemsTableDeletionProtection")}
    assert logical_id in own and len(own) == 2  # the call and its policy
    assert set(template.resources) - own <= before
    # Nothing waits on it (so no cycle): it is the last thing CloudFormation creates.
    for other in set(template.resources) - own:
        assert not own & set(template.resources[other].get("DependsOn", [])), other
        assert not own & _implicit_dependencies(template, other), other


def _implicit_dependencies(template: Template, logical_id: str) -> set[str]:
    """What a resource depends on through Ref / GetAtt in its properties."""
    text = json.dumps(template.resources[logical_id]["Properties"])
    return {lid for lid in template.resources if f'"Ref": "{lid}"' in text or f'["{lid}", ' in text}


# -- guard ----------------------------------------------------------------------------------------------


def test_guard_layer_ships_the_guard_package_under_python(template, outdir):
    _, props = template.one("AWS::Lambda::LayerVersion")
    assert props["CompatibleRuntimes"] == ["python3.11"]
    content = asset_path(outdir, props["Content"]["S3Key"])
    package = content / "python" / "g3n_maintenance_guard"
    source = PROJECT_ROOT / "lambdas" / "g3n_maintenance_guard"
    shipped = {p.relative_to(package) for p in package.rglob("*.py")}
    assert shipped and shipped == {
        p.relative_to(source) for p in source.rglob("*.py") if "tests" not in p.relative_to(source).parts
    }


def test_guard_read_policy_reaches_only_the_maintenance_state_item(template, ops_table_id):
    (_, props) = next(
        (lid, props)
        for lid, props in _props(template, "AWS::IAM::ManagedPolicy")
        if props.get("ManagedPolicyName", "").endswith("maintenance-guard-read")
    )
    (statement,) = props["PolicyDocument"]["Statement"]
    assert statement["Action"] == "dynamodb:GetItem"
    assert render(statement["Resource"]) == f"${{{ops_table_id}.Arn}}"
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [maintenance_state.STATE_PK]}
    }


def test_guard_readme_states_what_the_guard_needs(template):
    """The layer, Powertools (the runtime has none) at the stack's version, the read policy and
    the two variables, under the names this stack publishes (tests/e2e/test_guard_adoption.py
    builds a service from exactly those)."""
    import g3n_maintenance_guard as guard
    from infra.constructs.functions import powertools_layer_parameter

    readme = (PROJECT_ROOT / "lambdas" / "g3n_maintenance_guard" / "README.md").read_text()
    assert "runtime layer you already use" not in readme
    for name in (guard.TABLE_ENV, guard.STATUS_URL_ENV, POWERTOOLS_VERSION, powertools_layer_parameter()):
        assert name in readme, name
    published = {props["Name"] for _, props in _props(template, "AWS::SSM::Parameter")}
    for name in (
        discovery.GUARD_LAYER_ARN,
        discovery.GUARD_READ_POLICY_ARN,
        discovery.TABLE_NAME,
        discovery.API_URL,
    ):
        assert name in published and name in readme, name
    for leaf in ("guard/layer-arn", "guard/read-policy-arn", "table-name", "api-url"):
        assert (
            f'ops("{leaf}")' in readme and discovery.scoped(f"{discovery.PREFIX}/{leaf}", STAGE) in published
        )
    # The inline statement it offers is the managed policy's.
    block = re.search(r"```json\n(.*?)```", readme, re.DOTALL).group(1)
    documented = json.loads(block)
    (_, props) = template.one(
        "AWS::IAM::ManagedPolicy", ManagedPolicyName=f"g3n-{STAGE}-ops-maintenance-guard-read"
    )
    (statement,) = props["PolicyDocument"]["Statement"]
    assert {key: documented[key] for key in ("Effect", "Action", "Condition")} == {
        key: statement[key] for key in ("Effect", "Action", "Condition")
    }
    assert documented["Resource"].endswith(":table/g3n-<stage>-ops")


# -- schedules --------------------------------------------------------------------------------------------


def test_recurring_window_starts_the_maintenance_state_machine(template):
    _, props = template.one("AWS::Scheduler::Schedule")
    assert props["Name"] == f"g3n-{STAGE}-ops-maintenance-{WINDOW['name']}"
    assert props["ScheduleExpression"] == f"cron({WINDOW['cron']})"
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = props["Target"]
    machine_id, _ = template.one(
        "AWS::StepFunctions::StateMachine",
        StateMachineName=catalogue.state_machine_name(STAGE, "maintenance"),
    )
    assert target["Arn"] == {"Ref": machine_id}
    assert json.loads(target["Input"]) == {
        "source": "schedule",
        "description": WINDOW["description"],
        "duration": WINDOW["duration"],
        "autoEnd": WINDOW["autoEnd"],
    }
    scheduler_role = target["RoleArn"]["Fn::GetAtt"][0]
    assert template.allowed(scheduler_role) == {("states:StartExecution", f"${{{machine_id}}}")}
    trust = template.properties(scheduler_role)["AssumeRolePolicyDocument"]["Statement"]
    assert [statement["Principal"] for statement in trust] == [{"Service": "scheduler.amazonaws.com"}]


# -- cdk-nag ----------------------------------------------------------------------------------------------


def test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(cdk_stack):
    from aws_cdk.assertions import Annotations, Match

    annotations = Annotations.from_stack(cdk_stack)
    errors = annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [str(e.entry.data)[:200] for e in errors + warnings] == []


def test_every_nag_suppression_gives_a_reason(template):
    suppressions = [
        rule
        for res in template.resources.values()
        for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressions
    for rule in suppressions:
        assert rule["id"].startswith("AwsSolutions-") and len(rule["reason"]) >= 30, rule


# -- configuration ------------------------------------------------------------------------------------------


def _config(**context):
    from aws_cdk import App

    from infra.stack import OpsConfig

    return OpsConfig.from_context(App(context={**cdk_json_context(), **context}).node)


def test_vacuum_is_on_only_where_the_context_turns_it_on_and_never_where_protected():
    assert _config(stage="dev").vacuum_allowed is True  # cdk.json: vacuumStages ["dev"]
    assert _config(stage="test").vacuum_allowed is False  # not listed: off by default
    assert _config(stage="test", vacuumStages="dev,test").vacuum_allowed is True
    # prod is protected whatever the context says, even with an empty protectedStages.
    forced = _config(stage="prod", vacuumStages=["dev", "prod"], protectedStages=[])
    assert forced.vacuum_allowed is False and "protected" in forced.vacuum_denied_because
    assert _config(stage="qa", vacuumStages=["qa"], protectedStages='["qa"]').vacuum_allowed is False
    # Protected accounts: on only for a known account that is not listed.
    accounts = {"vacuumStages": ["dev"], "protectedAccounts": ["111111111111"]}
    assert _config(stage="dev", account="111111111111", **accounts).vacuum_allowed is False
    assert _config(stage="dev", account="222222222222", **accounts).vacuum_allowed is True
    unknown = _config(stage="dev", **accounts)
    assert unknown.vacuum_allowed is False and "unknown" in unknown.vacuum_denied_because


def test_context_strings_are_parsed():
    dev = _config(
        stage="dev", vacuumPendingSeconds="60", secretLockout='{"threshold": 3, "windowSeconds": 60}'
    )
    assert (dev.vacuum_pending_seconds, dev.secret_lockout_threshold, dev.secret_lockout_window_seconds) == (
        60,
        3,
        60,
    )
    tuned = _config(vacuumTuning='{"concurrency": 2, "retrySeconds": 900, "chunkItems": 50000}')
    assert (tuned.vacuum_concurrency, tuned.vacuum_retry_seconds, tuned.vacuum_chunk_items) == (2, 900, 50000)
    (window,) = _config(recurringMaintenance=json.dumps([WINDOW])).recurring_maintenance
    assert (window.cron, window.duration, window.auto_end) == (f"cron({WINDOW['cron']})", 1800, True)


@pytest.mark.parametrize(
    "bad",
    [
        {"stage": "Prod!"},
        {"recurringMaintenance": [{**WINDOW, "duration": "1h"}]},
        {"secretLockout": {"threshold": 0}},
        {"vacuumTuning": {"concurrency": 0}},
        {"vacuumTuning": {"retrySeconds": "soon"}},
    ],
    ids=["stage", "duration", "lockout", "concurrency", "retry"],
)
def test_invalid_context_fails_the_synth(bad):
    with pytest.raises(ValueError):
        _config(**bad)


@pytest.mark.parametrize("context", [{"stage": "prod", "vacuumStages": ["prod"]}, {"stage": "test"}], ids=str)
def test_where_vacuum_is_off_neither_the_machine_nor_any_purge_permission_is_deployed(
    tmp_path, monkeypatch, context
):
    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
    stack, template = _synth(tmp_path, context, nag=True)
    stage = context["stage"]
    machines = {
        props["StateMachineName"] for _, props in _props(template, "AWS::StepFunctions::StateMachine")
    }
    assert machines == {catalogue.state_machine_name(stage, "maintenance")}
    functions = {props.get("FunctionName") for _, props in _props(template, "AWS::Lambda::Function")}
    assert catalogue.function_name(stage, "vacuum-steps") not in functions
    assert catalogue.function_name(stage, "vacuum") in functions  # status reads still answer
    for role_id in template.of_type("AWS::IAM::Role"):
        for action, resource in template.allowed(role_id):
            assert action not in {"dynamodb:BatchWriteItem", "dynamodb:Scan", "dynamodb:DeleteItem"} or (
                resource.startswith("${")  # the OPS table's own items (idempotency), never a service's
            ), (role_id, action, resource)
            assert not action.startswith("s3:Delete") and action != "logs:DeleteLogStream", (role_id, action)
            assert not (action.startswith("states:") and ":g3n-" in resource and "-ops-vacuum" in resource)
    _, props = template.function(catalogue.function_name(stage, "vacuum"))
    assert props["Environment"]["Variables"]["VACUUM_ALLOWED"] == "false"
    assert props["Environment"]["Variables"]["VACUUM_STATE_MACHINE_ARN"] == ""
    assert "VacuumStateMachineArn" not in template.document["Outputs"]
    parameters = {props["Name"] for _, props in _props(template, "AWS::SSM::Parameter")}
    assert discovery.state_machine_parameter("vacuum") not in parameters
    assert discovery.function_parameter("vacuum-steps") not in parameters
    test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(stack)


# -- a second stage in the same account: its own names; reserved concurrency from the context ---------------

OTHER_STAGE = "qa"
RESERVED = {"admin": 2, "maintenance": 3, "vacuum": 3}
# The properties that give a resource its name in the account (and region), where two stages collide.
NAME_PROPERTIES = frozenset(
    {
        "FunctionName",
        "TableName",
        "LogGroupName",
        "AlarmName",
        "TopicName",
        "StateMachineName",
        "DashboardName",
        "RoleName",
        "ManagedPolicyName",
        "LayerName",
        "Name",
        "GroupName",
    }
)


@pytest.fixture(scope="module")
def other_stage(tmp_path_factory) -> Template:
    """Stage ``qa`` of the same app (from ``-c``, so the context arrives as strings), with
    reserved concurrency set."""
    outdir = tmp_path_factory.mktemp("cdk.out.qa")
    _, template = _synth(
        outdir, {"stage": OTHER_STAGE, "reservedConcurrency": json.dumps(RESERVED)}, nag=False
    )
    return template


def physical_names(template: Template) -> set[str]:
    """Every literal name a resource takes in the account (generated ones are unique anyway)."""
    return {
        render(value)
        for res in template.resources.values()
        for key, value in res.get("Properties", {}).items()
        if key in NAME_PROPERTIES and isinstance(render(value), str) and "${" not in render(value)
    }


def test_the_default_stage_is_the_one_with_the_unscoped_names():
    assert cdk_json_context()["stage"] == discovery.DEFAULT_STAGE == STAGE
    assert discovery.audit_log_group(STAGE) == AUDIT_LOG_GROUP == discovery.MAINTENANCE_AUDIT_LOG_GROUP
    assert discovery.prefix("local") == discovery.PREFIX  # the embedded stack, alone in its account
    assert discovery.prefix(OTHER_STAGE) == f"{discovery.PREFIX}/stages/{OTHER_STAGE}"


def test_a_second_stage_in_the_same_account_names_nothing_the_default_stage_names(template, other_stage):
    dev, qa = physical_names(template), physical_names(other_stage)
    assert AUDIT_LOG_GROUP in dev and discovery.STAGE in dev  # the seed's names, unchanged
    assert dev & qa == set()
    scoped = discovery.prefix(OTHER_STAGE)
    parameters = {props["Name"]: props for _, props in _props(other_stage, "AWS::SSM::Parameter")}
    assert parameters and all(name.startswith(scoped + "/") for name in parameters), sorted(parameters)
    assert {discovery.unscoped(name, OTHER_STAGE) for name in parameters} >= {
        discovery.STAGE,
        discovery.API_URL,
        discovery.TABLE_NAME,
        discovery.REGISTRY,
        discovery.EVENTS_TOPIC_ARN,
        discovery.GUARD_LAYER_ARN,
        discovery.function_parameter("maintenance"),
        discovery.state_machine_parameter("maintenance"),
    }
    assert parameters[f"{scoped}/stage"]["Value"] == OTHER_STAGE
    audit_id, _ = other_stage.one("AWS::Logs::LogGroup", LogGroupName=f"{scoped}/maintenance-audit")
    # The functions read and write the stage's own audit log group and registry parameter.
    _, props = other_stage.function(catalogue.function_name(OTHER_STAGE, "maintenance"))
    environment = props["Environment"]["Variables"]
    assert environment["MAINTENANCE_AUDIT_LOG_GROUP"] == f"{scoped}/maintenance-audit"
    registry_id = other_stage.one("AWS::SSM::Parameter", Name=f"{scoped}/registry")[0]
    assert render(environment["OPS_REGISTRY_PARAMETER"]) == f"${{{registry_id}}}"
    role_id = other_stage.role_of(
        other_stage.function(catalogue.function_name(OTHER_STAGE, "maintenance"))[0]
    )
    assert any(f"${{{audit_id}.Arn}}" in resource for _, resource in other_stage.allowed(role_id))


def test_reserved_concurrency_comes_from_the_context(other_stage):
    for spec in catalogue.deployed_functions(vacuum=False):
        _, props = other_stage.function(catalogue.function_name(OTHER_STAGE, spec.key))
        assert props.get("ReservedConcurrentExecutions") == RESERVED.get(spec.key), spec.key


@pytest.mark.parametrize(
    "bad",
    [{"nope": 2}, {"admin": 0}, {"admin": "two"}, [2]],
    ids=["unknown-function", "zero", "not-a-number", "not-a-map"],
)
def test_invalid_reserved_concurrency_fails_the_synth(bad):
    with pytest.raises(ValueError, match="reservedConcurrency"):
        _config(reservedConcurrency=json.dumps(bad))


@pytest.mark.slow
def test_app_py_synthesises_with_plain_python_into_cdk_out(tmp_path):
    """``make synth`` (``python app.py``, no CDK CLI) writes ``cdk.out/`` in the current
    directory, as the CLI would; the CLI's ``CDK_OUTDIR`` still wins (tests/infra/test_cdk_cli.py)."""
    env = {
        key: value for key, value in os.environ.items() if key not in {"CDK_OUTDIR", "G3N_OPS_SECRET_CODE"}
    }
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "OpsStack.template.json").is_file()


# -- helpers -------------------------------------------------------------------------------------------------


def _props(template: Template, cfn_type: str):
    return [(lid, res["Properties"]) for lid, res in template.of_type(cfn_type).items()]


def asset_path(outdir: Path, s3_key: str) -> Path:
    """The staged directory of the asset uploaded as ``s3_key`` (from the asset manifest)."""
    manifest = json.loads((outdir / "OpsStack.assets.json").read_text())
    return outdir / manifest["files"][s3_key.removesuffix(".zip")]["source"]["path"]


def _registry_parameter_id(template: Template) -> str:
    return template.one("AWS::SSM::Parameter", Name=discovery.REGISTRY)[0]


def _registry_parameter_arn(template: Template) -> str:
    return f"{PREFIX}:ssm:{REGION}:{ACCOUNT}:parameter${{{_registry_parameter_id(template)}}}"


# -- monitoring ----------------------------------------------------------------------------------


def _alarms(template: Template) -> dict[str, dict]:
    return {props["AlarmName"]: render(props) for _, props in _props(template, "AWS::CloudWatch::Alarm")}


def _alarm_metrics(alarm: dict) -> list[dict]:
    """The metrics an alarm watches (the library wraps each in a math expression)."""
    if "MetricName" in alarm:
        return [{"MetricName": alarm["MetricName"], "Namespace": alarm["Namespace"], **alarm}]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def test_one_encrypted_tls_only_topic_carries_events_and_every_alarm(template):
    topic_id, topic = template.one("AWS::SNS::Topic")
    assert topic["TopicName"] == f"g3n-{STAGE}-ops-events"
    key_id, key = template.one("AWS::KMS::Key")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]} and key["EnableKeyRotation"] is True
    statements = [
        s for _, p in _props(template, "AWS::SNS::TopicPolicy") for s in p["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    alarms = _alarms(template)
    assert alarms and all(alarm["AlarmActions"] == [f"${{{topic_id}}}"] for alarm in alarms.values())
    for spec in catalogue.FUNCTIONS:  # every function that writes an audit; the read API writes none
        role = template.role_of(function_id(template, spec.key))
        publishes = ("sns:Publish", f"${{{topic_id}}}") in template.allowed(role)
        assert publishes == (spec.key != "api"), spec.key


def test_alarms_cover_vacuum_failures_executions_the_guard_and_maintenance(template, registry):
    watched = [
        (metric["Namespace"], metric["MetricName"], tuple(d["Value"] for d in metric.get("Dimensions", [])))
        for alarm in _alarms(template).values()
        for metric in _alarm_metrics(alarm)
    ]
    from g3n_ops.domain import step_caller

    alarmed = (
        "VacuumFailed",
        "MaintenanceOverrunning",
        "MaintenanceNotEffective",
        step_caller.REFUSED_METRIC,
    )
    for name in alarmed:
        assert ("G3nOps", name, ("g3n-ops",)) in watched, name
    for key in ("maintenance", "vacuum"):
        machine = f"${{{state_machine_id(template, key)}}}"
        assert ("AWS/States", "ExecutionsFailed", (machine,)) in watched, key
        assert ("AWS/States", "ExecutionsTimedOut", (machine,)) in watched, key
    import g3n_maintenance_guard as guard

    for service in registry.api_services:
        assert (guard.METRIC_NAMESPACE, guard.FAIL_OPEN_METRIC, (service.code,)) in watched, service.code
    dashboard = template.one("AWS::CloudWatch::Dashboard")[1]
    body = json.dumps(dashboard["DashboardBody"])
    for shown in ("VacuumCompleted", "MaintenanceStart", "ExecutionsFailed", guard.FAIL_OPEN_METRIC):
        assert shown in body, shown


def test_execution_status_rule_sends_ops_executions_that_ended_outside_ops_to_its_function(
    template, ops_table_id
):
    from g3n_ops.domain import execution_status

    _, rule = template.one("AWS::Events::Rule")
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert (
        pattern["detail"]["status"]
        == ["FAILED", "TIMED_OUT", "ABORTED"]
        == list(execution_status.ENDED_OUTSIDE)
    )
    machines = {f"${{{state_machine_id(template, key)}}}" for key in ("maintenance", "vacuum")}
    assert set(render(pattern["detail"]["stateMachineArn"])) == machines
    target_function = function_id(template, "execution-status")
    assert [render(t["Arn"]) for t in rule["Targets"]] == [f"${{{target_function}.Arn}}"]
    permissions = [
        p for _, p in _props(template, "AWS::Lambda::Permission") if p["Principal"] == "events.amazonaws.com"
    ]
    assert any(render(p["FunctionName"]) == f"${{{target_function}.Arn}}" for p in permissions)
    allowed = template.allowed(template.role_of(target_function))
    # It describes the execution an event names (the event is no proof); it starts only the
    # maintenance lifecycle's closing execution, ending the window of a vacuum-all --with-maintenance.
    states = {(action, res) for action, res in allowed if action.startswith("states:")}
    assert {action for action, _ in states} == {"states:DescribeExecution", "states:StartExecution"}
    assert {res for action, res in states if action == "states:StartExecution"} == {
        state_machine_arn("maintenance")
    }
    assert ("dynamodb:UpdateItem", f"${{{ops_table_id}.Arn}}") in allowed
