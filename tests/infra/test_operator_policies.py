"""The documented operator identities (``docs/iam/*.json``) against the synthesised stack: every
ARN they name is a resource the stack deploys (its functions, state machines and executions,
parameters, log group, topic, API routes), and each grants what its role is documented to do and
nothing it must not. The template is the local stack's synth (cached on disk, the same
``infra.stack.build_app``), for the stage the documents' ``{stage}`` becomes."""

from __future__ import annotations

import json

import pytest

from g3n_ops_client.local.iam.identities import DOCS, IDENTITIES, identity_statements
from g3n_ops_client.local.iam.policy import evaluate, statements_of, wildcard_match
from g3n_ops_client.local.iam.template import Resolver, synthesised_template
from infra import catalogue

STAGE, ACCOUNT, REGION = "local", "123456789012", "us-east-1"
REQUEST_FUNCTIONS = {"maintenance", "vacuum", "admin"}


@pytest.fixture(scope="module")
def template() -> dict:
    return synthesised_template(STAGE)


@pytest.fixture(scope="module")
def deployed_arns(template) -> set[str]:
    """An ARN for every resource an operator policy may name, as the stack deploys it."""
    resolve = Resolver(template, account=ACCOUNT, region=REGION)
    arns: set[str] = set()
    for logical_id, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Lambda::Function" and "FunctionName" in props:
            arns.add(resolve.get_att(logical_id, "Arn"))
        elif kind == "AWS::StepFunctions::StateMachine":
            machine = resolve.get_att(logical_id, "Arn")
            arns |= {machine, machine.replace(":stateMachine:", ":execution:") + ":an-execution"}
        elif kind == "AWS::SSM::Parameter":
            name = resolve(props["Name"])
            arns.add(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}")
            parent = name.rsplit("/", 1)[0]
            arns.add(f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{parent.lstrip('/')}")  # a path read
        elif kind == "AWS::Logs::LogGroup" and "LogGroupName" in props:
            arns.add(resolve.get_att(logical_id, "Arn").removesuffix(":*") + ":log-stream:a-stream")
        elif kind == "AWS::SNS::Topic":
            arns.add(resolve.ref(logical_id))
        elif kind == "AWS::ApiGatewayV2::Route":
            method, path = props["RouteKey"].split(" ", 1)
            path = path.replace("{id}", "an-id")
            arns.add(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:an-api/$default/{method}{path}")
    return arns


def allowed(name: str, action: str, resource: str) -> bool:
    return evaluate(identity_statements(name, STAGE), action, resource).allowed


def function_arn(key: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{catalogue.function_name(STAGE, key)}"


def machine_arn(key: str) -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{catalogue.state_machine_name(STAGE, key)}"


@pytest.mark.parametrize("document", sorted(path.name for path in DOCS.glob("*.json")))
def test_every_arn_a_documented_policy_names_is_deployed(document, deployed_arns):
    text = (DOCS / document).read_text()
    assert "{stage}" in text, "the stage is a placeholder, not a fixed name"
    for statement in statements_of(json.loads(text.replace("{stage}", STAGE)), source=document):
        assert statement.sid, f"{document}: every statement says what it is for (a Sid)"
        if statement.effect == "Deny":
            continue
        for pattern in statement.resources:
            assert pattern != "*", f"{document} {statement.sid}: an Allow names its resources"
            assert any(wildcard_match(pattern, arn) for arn in deployed_arns), (
                f"{document} {statement.sid}: {pattern} matches nothing the stack deploys"
            )


def test_the_operator_runs_every_operation_and_starts_nothing_directly():
    for spec in catalogue.FUNCTIONS:
        may = allowed("operator", "lambda:InvokeFunction", function_arn(spec.key))
        assert may == (spec.key in REQUEST_FUNCTIONS), spec.key
    for spec in catalogue.STATE_MACHINES:
        assert not allowed("operator", "states:StartExecution", machine_arn(spec.key))
        assert allowed("console", "states:StartExecution", machine_arn(spec.key))
    for spec in catalogue.FUNCTIONS:  # the console starter starts state machines, invokes no step
        if spec.key not in REQUEST_FUNCTIONS:
            assert not allowed("console", "lambda:InvokeFunction", function_arn(spec.key))


def test_oncall_reads_and_stops_executions_but_can_start_or_invoke_nothing():
    for spec in catalogue.FUNCTIONS:
        assert not allowed("oncall", "lambda:InvokeFunction", function_arn(spec.key)), spec.key
    for spec in catalogue.STATE_MACHINES:
        machine = machine_arn(spec.key)
        execution = machine.replace(":stateMachine:", ":execution:") + ":run"
        assert not allowed("oncall", "states:StartExecution", machine)
        assert allowed("oncall", "states:StopExecution", execution)
        assert allowed("oncall", "states:DescribeExecution", execution)
        assert allowed("oncall", "states:ListExecutions", machine)
    api = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:an-api/$default/GET"
    assert allowed("oncall", "execute-api:Invoke", f"{api}/maintenance/mw-1")
    registry = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/g3nretailstack/ops/registry"
    assert allowed("oncall", "ssm:GetParameter", registry)


def test_identities_are_the_documented_files():
    files = {path.name for path in DOCS.glob("*.json")}
    assert {name for names in IDENTITIES.values() for name in names} == files
