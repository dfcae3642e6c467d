"""The OPS stack (``OpsStack``) and the app that holds it, configured from cdk.json context.

Everything is env-agnostic (account and region are CloudFormation pseudo parameters), so
``cdk synth`` needs no AWS credentials and no network.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk import Annotations, App, Aspects, CfnOutput, Environment, Stack
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ssm as ssm
from cdk_nag import AwsSolutionsChecks
from constructs import Construct, Node

from g3n_ops import settings
from g3n_ops.contract import discovery
from infra import catalogue
from infra.constructs.access import AUDIT_WRITE, grant_function_access
from infra.constructs.api import OpsApi
from infra.constructs.audit import MaintenanceAudit
from infra.constructs.data import OpsData
from infra.constructs.discovery import DiscoveryParameters
from infra.constructs.functions import OpsFunctions
from infra.constructs.guard import MaintenanceGuard
from infra.constructs.initial_items import InitialItems
from infra.constructs.monitoring import (
    EventsTopic,
    OpsMonitoring,
    grant_execution_status_access,
    grant_publishing,
)
from infra.constructs.registry import ServiceRegistry
from infra.constructs.schedules import RecurringMaintenance, RecurringWindow, api_service_codes
from infra.constructs.security import SecretSecurity
from infra.constructs.state_machines import OpsStateMachines, execution_arns, state_machine_arn
from infra.project import PROJECT_ROOT, cdk_json_context

STACK_ID = "OpsStack"
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9]{0,11}$")


# Stages on which vacuum can never be turned on, whatever the context says.
ALWAYS_PROTECTED_STAGES = frozenset({"prod"})


@dataclass(frozen=True)
class OpsConfig:
    stage: str
    vacuum_pending_seconds: int
    vacuum_allowed: bool
    registry_file: Path
    recurring_maintenance: tuple[RecurringWindow, ...]
    secret_lockout_threshold: int = 5
    secret_lockout_window_seconds: int = 900
    # Vacuum's data plane (cdk.json "vacuumTuning"): units purged at once (the Map's concurrency),
    # how long one AWS call may retry transient errors, and the items one chunk may take.
    vacuum_concurrency: int = 8
    vacuum_retry_seconds: int = 300
    vacuum_chunk_items: int = 10_000_000
    # Why vacuum is off, for the synth's annotation (empty when it is on).
    vacuum_denied_because: str = ""
    protected_accounts: tuple[str, ...] = ()
    # cdk.json "reservedConcurrency": function key → reserved concurrent executions. Empty by
    # default: a new account's concurrency quota is 10 and Lambda keeps 10 unreserved, so any
    # reservation at all fails the deploy there.
    reserved_concurrency: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_context(cls, node: Node) -> OpsConfig:
        """Read the context; values given with ``cdk -c key=value`` arrive as strings."""
        stage = str(node.try_get_context("stage") or "dev")
        if not STAGE_PATTERN.match(stage):
            raise ValueError(f"stage {stage!r}: use 1-12 lowercase letters/digits, starting with a letter")
        windows = _json_value(node.try_get_context("recurringMaintenance")) or []
        registry_file = PROJECT_ROOT / str(node.try_get_context("registryFile") or "infra/registry.json")
        lockout = _json_value(node.try_get_context("secretLockout")) or {}
        tuning = _json_value(node.try_get_context("vacuumTuning")) or {}
        protected_accounts = _string_list(node.try_get_context("protectedAccounts"))
        denied = vacuum_denied_because(
            stage,
            vacuum_stages=_string_list(node.try_get_context("vacuumStages")),
            protected_stages=_string_list(node.try_get_context("protectedStages")),
            protected_accounts=protected_accounts,
            account=_target_account(node),
        )
        return cls(
            stage=stage,
            vacuum_pending_seconds=int(node.try_get_context("vacuumPendingSeconds") or 300),
            vacuum_allowed=not denied,
            vacuum_denied_because=denied,
            protected_accounts=tuple(protected_accounts),
            registry_file=registry_file,
            recurring_maintenance=tuple(
                RecurringWindow.from_context(entry, api_codes=api_service_codes(registry_file))
                for entry in windows
            ),
            secret_lockout_threshold=_positive(lockout.get("threshold", 5), "secretLockout.threshold"),
            secret_lockout_window_seconds=_positive(
                lockout.get("windowSeconds", 900), "secretLockout.windowSeconds"
            ),
            vacuum_concurrency=_positive(tuning.get("concurrency", 8), "vacuumTuning.concurrency"),
            vacuum_retry_seconds=_positive(tuning.get("retrySeconds", 300), "vacuumTuning.retrySeconds"),
            vacuum_chunk_items=_positive(tuning.get("chunkItems", 10_000_000), "vacuumTuning.chunkItems"),
            reserved_concurrency=_reserved_concurrency(node.try_get_context("reservedConcurrency")),
        )


def vacuum_denied_because(
    stage: str,
    *,
    vacuum_stages: list[str],
    protected_stages: list[str],
    protected_accounts: list[str],
    account: str | None,
) -> str:
    """Deny by default: empty only when the stage turns vacuum on explicitly and neither the stage
    nor the target account is protected (``prod`` always is). An unknown account counts as
    protected while any account is listed: the check must be able to pass, not merely not fail."""
    if stage in ALWAYS_PROTECTED_STAGES or stage in protected_stages:
        return f"stage '{stage}' is protected"
    if stage not in vacuum_stages:
        return f"stage '{stage}' is not in the context's vacuumStages"
    if protected_accounts and account is None:
        return (
            "protectedAccounts is set and the target account is unknown (-c account=… or CDK_DEFAULT_ACCOUNT)"
        )
    if account in protected_accounts:
        return f"account {account} is protected"
    return ""


class OpsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: OpsConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        stage = config.stage

        self.data = OpsData(self, "Data", stage=stage)
        table = self.data.table
        self.registry = ServiceRegistry(self, "Registry", stage=stage, registry_file=config.registry_file)
        self.audit = MaintenanceAudit(self, "Audit", stage=stage)
        self.events = EventsTopic(self, "Events", stage=stage)

        self.functions = OpsFunctions(
            self,
            "Functions",
            stage=stage,
            asset_root=PROJECT_ROOT / "lambdas",
            environment=self._function_environment(),
            vacuum=config.vacuum_allowed,
            reserved_concurrency=config.reserved_concurrency,
        )
        grant_function_access(
            self,
            stage=stage,
            vacuum=config.vacuum_allowed,
            functions=self.functions,
            table=table,
            registry=self.registry,
            audit_log_group=self.audit.log_group,
        )
        self.state_machines = OpsStateMachines(
            self,
            "StateMachines",
            stage=stage,
            functions=self.functions,
            specs=catalogue.deployed_state_machines(vacuum=config.vacuum_allowed),
        )
        if not config.vacuum_allowed:
            Annotations.of(self).add_info(
                f"vacuum is off ({config.vacuum_denied_because}): no vacuum state machine, no purge IAM"
            )
        self.security = SecretSecurity(self, "Security", stage=stage)
        self._monitoring()
        self.api = OpsApi(self, "Api", stage=stage, handler=self.functions["api"])
        self.guard = MaintenanceGuard(
            self,
            "Guard",
            stage=stage,
            package_dir=PROJECT_ROOT / "lambdas" / "g3n_maintenance_guard",
            table=table,
            status_url=f"{self.api.url}/status",  # the public status page the guard's 503 links
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
        # Last: the OPS table's deletion protection, once everything else exists (data.py).
        self.table_protection = self.initial_items.protect_table()

    def _monitoring(self) -> None:
        """Every function may publish lifecycle events; the rule, alarms and dashboard."""
        stage = self.config.stage
        grant_publishing(self.events, self.functions)
        for notifies in (cloudwatch_actions.SnsAction(self.events.topic),):  # fires and clears
            self.security.lockout_alarm.add_alarm_action(notifies)
            self.security.lockout_alarm.add_ok_action(notifies)
        grant_execution_status_access(
            self.functions["execution-status"],
            audit_log_group=self.audit.log_group,
            audit_actions=AUDIT_WRITE,
            execution_arns=[execution_arns(self, stage, key) for key in self.state_machines.by_key],
        )
        self.monitoring = OpsMonitoring(
            self,
            "Monitoring",
            stage=self.config.stage,
            topic=self.events.topic,
            functions=self.functions,
            state_machines=self.state_machines,
            api_service_codes=[service.code for service in self.registry.registry.api_services],
        )
        ssm.StringParameter(
            self,
            "EventsTopicArnParameter",
            parameter_name=discovery.scoped(discovery.EVENTS_TOPIC_ARN, stage),
            string_value=self.events.topic.topic_arn,
        )

    def _function_environment(self) -> dict[str, str]:
        """What ``g3n_ops.settings`` (and the maintenance guard) read; the values not given here
        (guard TTL, probe margin, status page refresh, the vacuum window) are its defaults."""
        config, table_name = self.config, self.data.table.table_name
        return settings.function_environment(
            settings.Settings.given(
                stage=config.stage,
                table_name=table_name,
                registry_parameter=self.registry.parameter.parameter_name,
                maintenance_state_machine_arn=state_machine_arn(self, config.stage, "maintenance"),
                vacuum_state_machine_arn=(
                    state_machine_arn(self, config.stage, "vacuum") if config.vacuum_allowed else ""
                ),
                maintenance_audit_log_group=self.audit.log_group_name,
                vacuum_pending_seconds=config.vacuum_pending_seconds,
                vacuum_allowed=config.vacuum_allowed,
                vacuum_concurrency=config.vacuum_concurrency,
                vacuum_retry_seconds=config.vacuum_retry_seconds,
                vacuum_chunk_items=config.vacuum_chunk_items,
                secret_lockout_threshold=config.secret_lockout_threshold,
                secret_lockout_window_seconds=config.secret_lockout_window_seconds,
                events_topic_arn=self.events.topic.topic_arn,
                dry_run_max_age_seconds=int(
                    self.node.try_get_context("vacuumDryRunMaxAgeSeconds")
                    or settings.default_of("dry_run_max_age_seconds")
                ),
            )
        )

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": self.api.url,
            "OpsTableName": self.data.table.table_name,
            "GuardReadPolicyArn": self.guard.read_policy.managed_policy_arn,
            "MaintenanceStateMachineArn": self.state_machines["maintenance"].state_machine_arn,
        }
        if "vacuum" in self.state_machines.by_key:
            outputs["VacuumStateMachineArn"] = self.state_machines["vacuum"].state_machine_arn
        for name, value in outputs.items():
            CfnOutput(self, name, value=value, export_name=f"g3n-{self.config.stage}-ops-{name}")
        # Not an export: the layer's ARN changes with every guard edit, and an export another
        # stack imports cannot change ("export in use"). Services read the SSM parameter
        # (discovery.GUARD_LAYER_ARN, scoped to the stage) when they deploy.
        CfnOutput(
            self,
            "GuardLayerArn",
            value=self.guard.layer.layer_version_arn,
            # (A description must be a literal: the parameter's name, not its token.)
            description=f"also in SSM: {discovery.scoped(discovery.GUARD_LAYER_ARN, self.config.stage)}",
        )


def build_app(
    context: dict[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True
) -> tuple[App, OpsStack]:
    """The app with cdk.json's context as defaults (the CDK CLI's ``-c`` still overrides them, and
    ``python app.py`` works without the CLI), ``context`` on top, and cdk-nag's AwsSolutions."""
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = OpsConfig.from_context(app.node)
    # Where accounts are protected, a vacuum-enabled stack is bound to the account that was checked.
    account = _target_account(app.node) if config.vacuum_allowed and config.protected_accounts else None
    stack = OpsStack(
        app,
        STACK_ID,
        config=config,
        env=Environment(account=account) if account else None,
        stack_name=f"g3n-{config.stage}-ops",
        description=f"g3n OPS ({config.stage}): maintenance windows and vacuum",
    )
    if nag:
        Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _string_list(value: Any) -> list[str]:
    value = _json_value(value) if isinstance(value, str) and value.startswith("[") else value
    if value is None:
        return []
    if isinstance(value, str):  # ``-c vacuumStages=dev,test``
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


def _target_account(node: Node) -> str | None:
    """The account the stack is synthesised for: ``-c account=…`` or the CDK CLI's default."""
    account = node.try_get_context("account") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    return str(account) if account else None


def _reserved_concurrency(value: Any) -> dict[str, int]:
    """``{"admin": 2, "maintenance": 3}`` (or the same as a JSON string, from ``-c``): only
    functions of the catalogue, each a positive count."""
    value = _json_value(value) or {}
    if not isinstance(value, dict):
        raise ValueError(
            f'reservedConcurrency: a map of function key to count, e.g. {{"admin": 2}}; got {value!r}'
        )
    known = {spec.key for spec in catalogue.FUNCTIONS}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ValueError(
            f"reservedConcurrency: unknown function(s) {unknown}; the functions are {sorted(known)}"
        )
    return {str(key): _positive(count, f"reservedConcurrency.{key}") for key, count in value.items()}


def _positive(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number
