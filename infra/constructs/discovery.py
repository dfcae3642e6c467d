"""SSM parameters under ``/g3nretailstack/ops/`` from which the CLI, the MCP server and the
services find OPS (names from ``g3n_ops.contract.discovery``, scoped to the stage: see its docstring; the
local stack writes the same ones). The registry parameter belongs to ``ServiceRegistry``, the
guard's to ``MaintenanceGuard``."""

from __future__ import annotations

from aws_cdk import aws_ssm as ssm
from constructs import Construct

from g3n_ops.contract import discovery
from infra.constructs.functions import OpsFunctions, pascal
from infra.constructs.state_machines import OpsStateMachines


class DiscoveryParameters(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        api_url: str,
        table_name: str,
        functions: OpsFunctions,
        state_machines: OpsStateMachines,
    ) -> None:
        super().__init__(scope, construct_id)
        values: dict[str, tuple[str, str]] = {
            "Stage": (discovery.scoped(discovery.STAGE, stage), stage),
            "ApiUrl": (discovery.scoped(discovery.API_URL, stage), api_url),
            "TableName": (discovery.scoped(discovery.TABLE_NAME, stage), table_name),
        }
        for key, function in functions.by_key.items():
            values[f"Function{pascal(key)}"] = (
                discovery.function_parameter(key, stage),
                function.function_name,
            )
        for key, machine in state_machines.by_key.items():
            values[f"StateMachine{pascal(key)}"] = (
                discovery.state_machine_parameter(key, stage),
                machine.state_machine_arn,
            )
        self.parameters: dict[str, ssm.StringParameter] = {
            name: ssm.StringParameter(self, construct_id_, parameter_name=name, string_value=value)
            for construct_id_, (name, value) in values.items()
        }
