"""One state machine per entry of ``infra.catalogue.STATE_MACHINES``, deployed from the ASL file in
``workflows/`` as is: the ``${Placeholder}`` names become DefinitionSubstitutions with the ARNs of
the catalogue's functions (the local stack substitutes the same names).

The file's text goes inline into ``DefinitionString`` (``DefinitionBody.from_string``), read with
the same ``workflows.read_asl`` the local stack uses; ``DefinitionBody.from_file`` would upload it
as an S3 asset instead and leave only ``DefinitionS3Location`` in the template."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

import workflows
from infra import catalogue
from infra.constructs.functions import OpsFunctions, pascal
from infra.constructs.nag import suppress

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def state_machine_arn(scope: Construct, stage: str, key: str) -> str:
    """The ARN a state machine will have, from its name alone. Functions that start or stop
    executions use it instead of the construct's token, which would make a dependency cycle
    (state machine → steps function → its role's policy → state machine)."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="stateMachine",
        resource_name=catalogue.state_machine_name(stage, key),
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def execution_arns(scope: Construct, stage: str, key: str) -> str:
    """Every execution of the state machine ``key``."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{catalogue.state_machine_name(stage, key)}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


class OpsStateMachines(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        functions: OpsFunctions,
        specs: tuple[catalogue.StateMachineSpec, ...] = catalogue.STATE_MACHINES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.by_key: dict[str, sfn.StateMachine] = {}
        for spec in specs:  # the stage's (no vacuum machine where vacuum is off)
            name = catalogue.state_machine_name(stage, spec.key)
            log_group = logs.LogGroup(
                self,
                f"{pascal(spec.key)}Logs",
                log_group_name=f"/aws/vendedlogs/states/{name}",
                retention=LOG_RETENTION,
                removal_policy=RemovalPolicy.DESTROY,
            )
            machine = sfn.StateMachine(
                self,
                pascal(spec.key),
                state_machine_name=name,
                definition_body=sfn.DefinitionBody.from_string(workflows.read_asl(spec.asl_file)),
                definition_substitutions={
                    placeholder: functions[key].function_arn
                    for placeholder, key in spec.function_placeholders.items()
                },
                # Execution data holds ids and stats only: the secret code never enters an input.
                logs=sfn.LogOptions(
                    destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True
                ),
                tracing_enabled=True,
            )
            # The ASL comes from a file, so CDK cannot infer the tasks' permissions: grant them.
            for key in sorted(set(spec.function_placeholders.values())):
                functions[key].grant_invoke(machine.role)
            suppress(
                machine.role,
                "IAM5",
                "Invoke on '<function ARN>:*' covers the function's versions/aliases; log delivery and "
                "X-Ray actions do not support resource-level permissions.",
                applies_to=[
                    *(
                        f"Resource::<{_function_logical_id(functions[key])}.Arn>:*"
                        for key in sorted(set(spec.function_placeholders.values()))
                    ),
                    "Resource::*",
                ],
            )
            self.by_key[spec.key] = machine

    def __getitem__(self, key: str) -> sfn.StateMachine:
        return self.by_key[key]


def _function_logical_id(function: lambda_.Function) -> str:
    return Stack.of(function).get_logical_id(function.node.default_child)
