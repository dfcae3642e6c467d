"""The OPS stack (``OpsStack``) and the app that holds it, configured from cdk.json context.

Everything is env-agnostic (account and region are CloudFormation pseudo parameters), so
``cdk synth`` needs no AWS credentials and no network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Aspects, CfnOutput, Stack
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, Node

from infra.constructs.access import grant_function_access
from infra.constructs.api import OpsApi
from infra.constructs.audit import MaintenanceAudit
from infra.constructs.data import OpsData
from infra.constructs.discovery import DiscoveryParameters
from infra.constructs.functions import OpsFunctions
from infra.constructs.guard import MaintenanceGuard
from infra.constructs.initial_items import InitialItems
from infra.constructs.registry import ServiceRegistry
from infra.constructs.schedules import RecurringMaintenance, RecurringWindow
from infra.constructs.state_machines import OpsStateMachines, state_machine_arn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = PROJECT_ROOT / "cdk.json"
STACK_ID = "OpsStack"
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,11}$")


@dataclass(frozen=True)
class OpsConfig:
    stage: str
    vacuum_pending_seconds: int
    vacuum_allowed: bool
    registry_file: Path
    recurring_maintenance: tuple[RecurringWindow, ...]

    @classmethod
    def from_context(cls, node: Node) -> OpsConfig:
        """Read the context; values given with ``cdk -c key=value`` arrive as strings."""
        stage = str(node.try_get_context("stage") or "dev")
        if not STAGE_PATTERN.match(stage):
            raise ValueError(f"stage {stage!r}: use 1-12 lowercase letters/digits, starting with a letter")
        windows = _json_value(node.try_get_context("recurringMaintenance")) or []
        return cls(
            stage=stage,
            vacuum_pending_seconds=int(node.try_get_context("vacuumPendingSeconds") or 300),
            # Production data is never vacuumed, whatever the context says.
            vacuum_allowed=stage != "prod" and _bool(node.try_get_context("vacuumAllowed"), default=True),
            registry_file=PROJECT_ROOT / str(node.try_get_context("registryFile") or "infra/registry.json"),
            recurring_maintenance=tuple(RecurringWindow.from_context(entry) for entry in windows),
        )


class OpsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: OpsConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        stage = config.stage

        self.data = OpsData(self, "Data", stage=stage)
        table = self.data.table
        self.registry = ServiceRegistry(self, "Registry", stage=stage, registry_file=config.registry_file)
        self.audit = MaintenanceAudit(self, "Audit")

        self.functions = OpsFunctions(
            self,
            "Functions",
            stage=stage,
            asset_root=PROJECT_ROOT / "lambdas",
            environment=self._function_environment(),
        )
        grant_function_access(
            self,
            stage=stage,
            functions=self.functions,
            table=table,
            registry=self.registry,
            audit_log_group=self.audit.log_group,
        )
        self.state_machines = OpsStateMachines(self, "StateMachines", stage=stage, functions=self.functions)
        self.api = OpsApi(self, "Api", stage=stage, handler=self.functions["api"])
        self.guard = MaintenanceGuard(
            self,
            "Guard",
            stage=stage,
            package_dir=PROJECT_ROOT / "lambdas" / "g3n_maintenance_guard",
            table=table,
        )
        self.discovery = DiscoveryParameters(
            self,
            "Discovery",
            stage=stage,
            api_url=self.api.url,
            table_name=table.table_name,
            functions=self.functions,
            state_machines=self.state_machines,
        )
        self.initial_items = InitialItems(self, "InitialItems", table=table)
        self.schedules = RecurringMaintenance(
            self,
            "Schedules",
            stage=stage,
            windows=config.recurring_maintenance,
            state_machine=self.state_machines["maintenance"],
        )
        self._outputs()

    def _function_environment(self) -> dict[str, str]:
        """Exactly what ``g3n_ops.settings`` (and the maintenance guard) read."""
        stage, table_name = self.config.stage, self.data.table.table_name
        return {
            "OPS_STAGE": stage,
            "OPS_TABLE_NAME": table_name,
            "G3N_OPS_TABLE_NAME": table_name,
            "OPS_REGISTRY_PARAMETER": self.registry.parameter.parameter_name,
            "MAINTENANCE_STATE_MACHINE_ARN": state_machine_arn(self, stage, "maintenance"),
            "VACUUM_STATE_MACHINE_ARN": state_machine_arn(self, stage, "vacuum"),
            "MAINTENANCE_AUDIT_LOG_GROUP": self.audit.log_group_name,
            "VACUUM_PENDING_SECONDS": str(self.config.vacuum_pending_seconds),
            "VACUUM_ALLOWED": "true" if self.config.vacuum_allowed else "false",
            "POWERTOOLS_SERVICE_NAME": "g3n-ops",
            "POWERTOOLS_METRICS_NAMESPACE": "G3nOps",
            "STATUS_REFRESH_SECONDS": "60",  # the public status page's reload while a window is on
        }

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": self.api.url,
            "OpsTableName": self.data.table.table_name,
            "GuardLayerArn": self.guard.layer.layer_version_arn,
            "GuardReadPolicyArn": self.guard.read_policy.managed_policy_arn,
            "MaintenanceStateMachineArn": self.state_machines["maintenance"].state_machine_arn,
            "VacuumStateMachineArn": self.state_machines["vacuum"].state_machine_arn,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value, export_name=f"g3n-{self.config.stage}-ops-{name}")


def cdk_json_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text()).get("context", {})


def build_app(
    context: dict[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True
) -> tuple[App, OpsStack]:
    """The app with cdk.json's context as defaults (the CDK CLI's ``-c`` still overrides them, and
    ``python app.py`` works without the CLI), ``context`` on top, and cdk-nag's AwsSolutions."""
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = OpsConfig.from_context(app.node)
    stack = OpsStack(
        app,
        STACK_ID,
        config=config,
        stack_name=f"g3n-{config.stage}-ops",
        description=f"g3n OPS ({config.stage}): maintenance windows and vacuum",
    )
    if nag:
        Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def _bool(value: Any, *, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"true", "1", "yes"}


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
