"""Deploy-time configuration, handed to every function by the stack as environment variables.

The local stack sets the same variables, so code never asks where it runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from g3n_ops.contract import discovery


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
    # Lockout: this many wrong secret codes within the window lock every secret-gated operation
    # for the window. Defaults are the deployed values; the local stack lets a test shorten them.
    secret_lockout_threshold: int = 5
    secret_lockout_window_seconds: int = 900
    # The guard's cache TTL (the variable the guard itself reads) and the slack on top of it within
    # which every API service must answer 503 after a window starts (or recover after it ends).
    guard_ttl_seconds: int = 20
    maintenance_probe_margin_seconds: int = 10
    # The SNS topic every lifecycle event goes to ("" = notifications off, e.g. in unit tests).
    events_topic_arn: str = ""
    # A real vacuum binds to a completed dry-run of its scope at most this old (unless named).
    dry_run_max_age_seconds: int = 24 * 3600
    # The public status page reloads itself this often while a window is active or imminent.
    status_refresh_seconds: int = 60
    # The window vacuum-all --with-maintenance opens lasts this long (it is ended by the run; past
    # it the window is flagged overrunning, which alarms).
    vacuum_maintenance_seconds: int = 4 * 3600


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
        # Deny by default: only a stack (or the local stack) that turns vacuum on says "true";
        # prod never, whatever its environment says (the stack deploys no vacuum there anyway).
        vacuum_allowed=env.get("VACUUM_ALLOWED", "false").lower() == "true"
        and env.get("OPS_STAGE") != "prod",
        secret_lockout_threshold=_bounded(env.get("SECRET_LOCKOUT_THRESHOLD"), default=5, low=1, high=100),
        secret_lockout_window_seconds=_bounded(
            env.get("SECRET_LOCKOUT_WINDOW_SECONDS"), default=900, low=1, high=86_400
        ),
        guard_ttl_seconds=int(env.get("G3N_MAINTENANCE_GUARD_TTL_SECONDS", "20")),
        maintenance_probe_margin_seconds=int(env.get("MAINTENANCE_PROBE_MARGIN_SECONDS", "10")),
        events_topic_arn=env.get("OPS_EVENTS_TOPIC_ARN", ""),
        dry_run_max_age_seconds=int(env.get("VACUUM_DRY_RUN_MAX_AGE_SECONDS", str(24 * 3600))),
        status_refresh_seconds=int(env.get("STATUS_REFRESH_SECONDS", "60")),
        vacuum_maintenance_seconds=_bounded(
            env.get("VACUUM_MAINTENANCE_SECONDS"), default=4 * 3600, low=60, high=7 * 24 * 3600
        ),
    )


def _bounded(value: str | None, *, default: int, low: int, high: int) -> int:
    """An integer setting clamped to ``[low, high]`` (a typo cannot switch the lockout off)."""
    return default if value is None else min(high, max(low, int(value)))
