"""Deploy-time configuration, handed to every function by the stack as environment variables.

The local stack sets the same variables, so code never asks where it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from g3n_ops import discovery


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    registry_parameter: str
    maintenance_state_machine_arn: str
    vacuum_state_machine_arn: str
    maintenance_audit_log_group: str
    vacuum_pending_seconds: int
    vacuum_allowed: bool
    # The public status page reloads itself this often while a window is active or imminent.
    status_refresh_seconds: int = 60


@cache
def settings() -> Settings:
    env = os.environ
    return Settings(
        stage=env.get("OPS_STAGE", "dev"),
        table_name=env["OPS_TABLE_NAME"],
        registry_parameter=env.get("OPS_REGISTRY_PARAMETER", discovery.REGISTRY),
        maintenance_state_machine_arn=env.get("MAINTENANCE_STATE_MACHINE_ARN", ""),
        vacuum_state_machine_arn=env.get("VACUUM_STATE_MACHINE_ARN", ""),
        maintenance_audit_log_group=env.get(
            "MAINTENANCE_AUDIT_LOG_GROUP", f"{discovery.PREFIX}/maintenance-audit"
        ),
        vacuum_pending_seconds=int(env.get("VACUUM_PENDING_SECONDS", "300")),
        vacuum_allowed=env.get("VACUUM_ALLOWED", "true").lower() == "true",
        status_refresh_seconds=int(env.get("STATUS_REFRESH_SECONDS", "60")),
    )
