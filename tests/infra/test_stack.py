"""The synthesised OPS stack: what is wired to what (handlers, environment, ASL files and their
substitutions, IAM per function, routes, parameters, the secret), not only how many resources.

The app is synthesised once for the module, with cdk-nag's AwsSolutions checks, a recurring
maintenance window and ``G3N_OPS_SECRET_CODE`` set (about 3 s on two cores).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION

import workflows
from g3n_ops import discovery
from g3n_ops.domain import secret
from g3n_ops.registry import Registry
from g3n_ops.store import maintenance_state
from g3n_ops.store import table as ops_table
from infra import catalogue
from infra.stack import PROJECT_ROOT, OpsConfig, build_app, cdk_json_context
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
def stack(synthesised):
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
    settings_source = (PROJECT_ROOT / "lambdas" / "g3n_ops" / "settings.py").read_text()
    read_by_settings = set(re.findall(r"env(?:\.get\(|\[)\"([A-Z_]+)\"", settings_source))
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
        "POWERTOOLS_SERVICE_NAME": "g3n-ops",
        "POWERTOOLS_METRICS_NAMESPACE": "G3nOps",
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
    assert _on(allowed, table) == {"dynamodb:GetItem", "dynamodb:Query"}
    assert _on(allowed, f"{table}/index/*") == {"dynamodb:GetItem", "dynamodb:Query"}
    assert _on(allowed, _registry_parameter_arn(template)) == {"ssm:GetParameter"}
    for service in registry.services:
        for service_table in service.tables:
            assert _on(allowed, table_arn(service_table.name)) == {"dynamodb:DescribeTable"}
    assert not {action for action, _ in allowed if action.startswith("states:")}


def test_admin_function_gets_and_puts_the_secret_item_only(template, ops_table_id):
    allowed = template.allowed(role(template, "admin"))
    data_actions = {action for action, _ in allowed if action.split(":")[0] not in {"xray", "logs"}}
    assert data_actions == {"dynamodb:GetItem", "dynamodb:PutItem"}
    assert _on(allowed, f"${{{ops_table_id}.Arn}}") == {"dynamodb:GetItem", "dynamodb:PutItem"}
    (statement,) = [
        st for st in template.statements(role(template, "admin")) if "dynamodb:PutItem" in st["Action"]
    ]
    assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["secret"]}}


READ_WRITE = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}


@pytest.mark.parametrize("key", ["maintenance", "maintenance-steps"])
def test_maintenance_functions_drive_the_lifecycle_and_write_the_audit(template, ops_table_id, key):
    allowed = template.allowed(role(template, key))
    assert _on(allowed, f"${{{ops_table_id}.Arn}}") == READ_WRITE
    (audit_id, _) = template.one("AWS::Logs::LogGroup", LogGroupName=AUDIT_LOG_GROUP)
    assert _on(allowed, f"${{{audit_id}.Arn}}") == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert not _on(allowed, state_machine_arn("vacuum"))
    if key == "maintenance":  # schedules windows, and stops the waiting execution on an early start
        assert _on(allowed, state_machine_arn("maintenance")) == {"states:StartExecution"}
        assert _on(allowed, execution_arns("maintenance")) == {"states:StopExecution"}
    else:  # the lifecycle's own steps start nothing
        assert not {action for action, _ in allowed if action.startswith("states:")}


def test_vacuum_request_function_starts_and_stops_vacuum_executions(template, ops_table_id):
    allowed = template.allowed(role(template, "vacuum"))
    assert _on(allowed, f"${{{ops_table_id}.Arn}}") == READ_WRITE
    assert not _on(allowed, _registry_parameter_arn(template))  # requests never read the registry
    assert _on(allowed, state_machine_arn("vacuum")) == {"states:StartExecution"}
    assert _on(allowed, execution_arns("vacuum")) == {"states:StopExecution", "states:DescribeExecution"}
    # The request handler deletes nothing outside OPS: purging is the steps function's job.
    assert not {res for _, res in allowed if ":table/g3n-" in res or ":s3:::" in res}


def test_vacuum_steps_function_purges_exactly_the_registry(template, ops_table_id, registry):
    allowed = template.allowed(role(template, "vacuum-steps"))
    purge = {"dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:DescribeTable"}
    for service in registry.services:
        for service_table in service.tables:
            arn = table_arn(service_table.name)
            assert _on(allowed, arn) == purge
            assert _on(allowed, f"{arn}/index/*") == {"dynamodb:Query"}
        for bucket in service.buckets:
            assert _on(allowed, f"{PREFIX}:s3:::{bucket}") == {
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
            }
            assert _on(allowed, f"{PREFIX}:s3:::{bucket}/*") == {
                "s3:DeleteObjectVersion",
                "s3:AbortMultipartUpload",
            }
        for group in service.log_groups:
            assert _on(allowed, f"{PREFIX}:logs:{REGION}:{ACCOUNT}:log-group:{group}:*") == {
                "logs:DescribeLogStreams",
                "logs:DeleteLogStream",
            }
    # The OPS table itself: records and stats only, never Scan/BatchWriteItem.
    assert _on(allowed, f"${{{ops_table_id}.Arn}}") == READ_WRITE
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


def test_every_route_is_iam_authorised_and_served_by_the_api_function(template):
    routes = {props["RouteKey"]: props for _, props in _props(template, "AWS::ApiGatewayV2::Route")}
    assert set(routes) == {"GET /ping", "GET /stat", "GET /maintenance", "GET /maintenance/{id}"}
    api_function = function_id(template, "api")
    for route_key, props in routes.items():
        assert props["AuthorizationType"] == "AWS_IAM", route_key
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


# -- data, audit, parameters, outputs -----------------------------------------------------------------


def test_ops_table_is_protected_and_retained(template, ops_table_id):
    resource = template.resources[ops_table_id]
    props = resource["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
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
    assert template.resources[logical_id]["DeletionPolicy"] == "Retain"


def test_discovery_parameters_point_at_the_deployed_resources(template, ops_table_id):
    parameters = {props["Name"]: props for _, props in _props(template, "AWS::SSM::Parameter")}
    expected = {
        discovery.STAGE: STAGE,
        discovery.TABLE_NAME: f"${{{ops_table_id}}}",
        discovery.API_URL: "${" + template.one("AWS::ApiGatewayV2::Api")[0] + ".ApiEndpoint}",
    }
    for spec in catalogue.FUNCTIONS:
        expected[discovery.function_parameter(spec.key)] = f"${{{function_id(template, spec.key)}}}"
    for spec in catalogue.STATE_MACHINES:
        machine_id, _ = template.one(
            "AWS::StepFunctions::StateMachine", StateMachineName=catalogue.state_machine_name(STAGE, spec.key)
        )
        expected[discovery.state_machine_parameter(spec.key)] = f"${{{machine_id}}}"
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
    names = ["ApiUrl", "OpsTableName", "GuardLayerArn", "GuardReadPolicyArn"]
    names += ["MaintenanceStateMachineArn", "VacuumStateMachineArn"]
    assert set(outputs) == set(names)
    for name in names:
        assert outputs[name]["Export"]["Name"] == f"g3n-{STAGE}-ops-{name}"


# -- initial items: the secret and the maintenance state ------------------------------------------------


def _initial_item_calls(template) -> dict[str, dict]:
    calls = {}
    for _, props in _props(template, "Custom::AWS"):
        assert "Update" not in props and "Delete" not in props  # written on create only
        call = json.loads(render(props["Create"]))
        calls[call["parameters"]["Item"]["pk"]["S"]] = call
    return calls


def test_secret_is_written_once_as_a_scrypt_hash(template, ops_table_id):
    call = _initial_item_calls(template)[secret.SECRET_PK]
    assert (call["service"], call["action"]) == ("DynamoDB", "putItem")
    assert call["parameters"]["TableName"] == f"${{{ops_table_id}}}"
    assert call["parameters"]["ConditionExpression"] == "attribute_not_exists(pk)"
    assert re.search(call["ignoreErrorCodesMatching"], "ConditionalCheckFailedException")
    stored = ops_table.deserialize(call["parameters"]["Item"])
    assert stored["algorithm"] == "scrypt"
    assert secret.matches(SECRET_CODE, stored) and not secret.matches(SECRET_CODE + "x", stored)


def test_plain_secret_code_appears_nowhere_in_the_cloud_assembly(template, outdir):
    assert SECRET_CODE not in template.text
    for path in outdir.rglob("*"):
        if path.is_file():
            assert SECRET_CODE.encode() not in path.read_bytes(), path


def test_inactive_maintenance_state_is_written_if_absent(template):
    call = _initial_item_calls(template)[maintenance_state.STATE_PK]
    assert call["parameters"]["ConditionExpression"] == "attribute_not_exists(pk)"
    item = ops_table.deserialize(call["parameters"]["Item"])
    assert item == maintenance_state.item(maintenance_state.INACTIVE)


def test_initial_item_writer_may_only_put_those_two_items(template, ops_table_id):
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
    for statement in (s for s in statements if not s["Action"][0].startswith("logs:")):
        assert statement["Action"] == ["dynamodb:PutItem"]
        assert statement["Resource"] == [f"${{{ops_table_id}.Arn}}"]
        keys.update(statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"])
    assert keys == {secret.SECRET_PK, maintenance_state.STATE_PK}


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


def test_cdk_nag_aws_solutions_has_no_unsuppressed_findings(stack):
    annotations = Annotations.from_stack(stack)
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


def _config(**context) -> OpsConfig:
    return OpsConfig.from_context(App(context={**cdk_json_context(), **context}).node)


def test_prod_never_allows_vacuum_and_cli_strings_are_parsed():
    assert _config(stage="prod", vacuumAllowed=True).vacuum_allowed is False
    dev = _config(stage="dev", vacuumAllowed="false", vacuumPendingSeconds="60")
    assert (dev.vacuum_allowed, dev.vacuum_pending_seconds) == (False, 60)
    (window,) = _config(recurringMaintenance=json.dumps([WINDOW])).recurring_maintenance
    assert (window.cron, window.duration, window.auto_end) == (f"cron({WINDOW['cron']})", 1800, True)


@pytest.mark.parametrize(
    "bad",
    [{"stage": "Prod!"}, {"recurringMaintenance": [{**WINDOW, "duration": "1h"}]}],
    ids=["stage", "duration"],
)
def test_invalid_context_fails_the_synth(bad):
    with pytest.raises(ValueError):
        _config(**bad)


def test_without_the_secret_variable_synth_warns_and_skips_the_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("G3N_OPS_SECRET_CODE", raising=False)
    stack, template = _synth(tmp_path, {"stage": "prod"}, nag=False)
    assert set(_initial_item_calls(template)) == {maintenance_state.STATE_PK}
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp(".*G3N_OPS_SECRET_CODE.*")
    )
    assert warnings
    _, props = template.function(catalogue.function_name("prod", "vacuum"))
    assert props["Environment"]["Variables"]["VACUUM_ALLOWED"] == "false"
    assert not template.of_type("AWS::Scheduler::Schedule")


def test_app_py_synthesises_with_plain_python(tmp_path):
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    env.pop("G3N_OPS_SECRET_CODE", None)
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "OpsStack.template.json").is_file()


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
