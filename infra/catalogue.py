"""What OPS deploys, as data: its functions and state machines.

The CDK stack and the embedded local stack both build from this list, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    handler: str
    description: str
    timeout_seconds: int = 30
    memory_mb: int = 512
    # Deployed only where vacuum is turned on (deny by default: see OpsConfig.vacuum_allowed).
    vacuum_only: bool = False
    # (No reserved concurrency here: it is deploy-time context, cdk.json "reservedConcurrency",
    # empty by default so that a new account's quota of 10 can deploy the stack.)


@dataclass(frozen=True)
class StateMachineSpec:
    key: str
    asl_file: str
    # ASL placeholder → key of the function whose ARN fills it.
    function_placeholders: dict[str, str] = field(default_factory=dict)
    vacuum_only: bool = False


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("api", "g3n_ops.handlers.api.handler", "OPS HTTP API: ping, stat, maintenance reads"),
    FunctionSpec(
        "admin",
        "g3n_ops.handlers.admin.handler",
        "OPS administration: set and rotate the secret code",
    ),
    FunctionSpec(
        "maintenance",
        "g3n_ops.handlers.maintenance_ops.handler",
        "Maintenance operations: schedule, start, update, end, cancel",
    ),
    FunctionSpec(
        "maintenance-steps",
        "g3n_ops.handlers.maintenance_steps.handler",
        "Maintenance lifecycle state machine tasks",
    ),
    FunctionSpec(
        "vacuum",
        "g3n_ops.handlers.vacuum_ops.handler",
        "Vacuum requests: all, org, cancel, status",
    ),
    FunctionSpec(
        "vacuum-steps",
        "g3n_ops.handlers.vacuum_steps.handler",
        "Vacuum state machine tasks: admit, purge chunks, verify, finalise",
        timeout_seconds=900,
        memory_mb=1024,
        vacuum_only=True,
    ),
    FunctionSpec(
        "execution-status",
        "g3n_ops.handlers.execution_status.handler",
        "Closes a vacuum or maintenance record whose execution ended outside OPS (EventBridge)",
    ),
)

STATE_MACHINES: tuple[StateMachineSpec, ...] = (
    StateMachineSpec(
        "maintenance",
        "maintenance-lifecycle.asl.json",
        {"MaintenanceStepsFunctionArn": "maintenance-steps"},
    ),
    StateMachineSpec(
        "vacuum", "vacuum.asl.json", {"VacuumStepsFunctionArn": "vacuum-steps"}, vacuum_only=True
    ),
)


def function_name(stage: str, key: str) -> str:
    return f"g3n-{stage}-ops-{key}"


def state_machine_name(stage: str, key: str) -> str:
    return f"g3n-{stage}-ops-{key}"


def deployed_functions(*, vacuum: bool) -> tuple[FunctionSpec, ...]:
    """The functions a stage gets: without vacuum, none that only a vacuum needs."""
    return tuple(spec for spec in FUNCTIONS if vacuum or not spec.vacuum_only)


def deployed_state_machines(*, vacuum: bool) -> tuple[StateMachineSpec, ...]:
    return tuple(spec for spec in STATE_MACHINES if vacuum or not spec.vacuum_only)
