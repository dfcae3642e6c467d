"""Reading a synthesised CloudFormation template in tests: resources by type, and intrinsic
functions rendered as readable strings (``${Logical.Arn}``, ``${AWS::Region}``) to compare ARNs."""

from __future__ import annotations

import json
from typing import Any


def render(value: Any) -> Any:
    """``{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ...]]}`` → ``"arn:${AWS::Partition}…"``."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"${{{argument}}}"
        if function == "Fn::GetAtt":
            return f"${{{argument[0]}.{argument[1]}}}"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(part)) for part in parts)
        if function == "Fn::Sub" and isinstance(argument, str):
            return argument
    return {key: render(inner) for key, inner in value.items()}


class Template:
    def __init__(self, document: dict) -> None:
        self.document = document
        self.resources: dict[str, dict] = document["Resources"]
        self.text = json.dumps(document)

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {lid: res for lid, res in self.resources.items() if res["Type"] == cfn_type}

    def properties(self, logical_id: str) -> dict:
        return self.resources[logical_id]["Properties"]

    def one(self, cfn_type: str, **match: Any) -> tuple[str, dict]:
        """The one resource of ``cfn_type`` whose properties contain ``match``."""
        found = [
            (lid, res["Properties"])
            for lid, res in self.of_type(cfn_type).items()
            if all(res.get("Properties", {}).get(key) == value for key, value in match.items())
        ]
        assert len(found) == 1, f"expected one {cfn_type} with {match}, found {[lid for lid, _ in found]}"
        return found[0]

    def function(self, name: str) -> tuple[str, dict]:
        return self.one("AWS::Lambda::Function", FunctionName=name)

    def role_of(self, function_logical_id: str) -> str:
        return self.properties(function_logical_id)["Role"]["Fn::GetAtt"][0]

    def statements(self, role_logical_id: str) -> list[dict]:
        """Every policy statement that applies to the role: inline policies and managed policies
        that name it, rendered, with Action and Resource always lists."""
        found = []
        for cfn_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for res in self.of_type(cfn_type).values():
                props = res["Properties"]
                if {"Ref": role_logical_id} in props.get("Roles", []):
                    found.extend(props["PolicyDocument"]["Statement"])
        return [_normalise(statement) for statement in found]

    def allowed(self, role_logical_id: str) -> set[tuple[str, str]]:
        """(action, resource) pairs the role is allowed."""
        return {
            (action, resource)
            for statement in self.statements(role_logical_id)
            if statement["Effect"] == "Allow"
            for action in statement["Action"]
            for resource in statement["Resource"]
        }


def _normalise(statement: dict) -> dict:
    statement = render(statement)
    for key in ("Action", "Resource"):
        if isinstance(statement.get(key), str):
            statement[key] = [statement[key]]
    return statement
