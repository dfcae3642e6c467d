"""Deploy-time configuration, handed to every function as environment variables.

This module is the only reader of the environment in ``g3n_ops`` (``settings()``) and the only
producer of it (``function_environment``): the CDK stack and the local stack both call the
latter, so the two cannot drift apart and code never asks where it runs. Each variable's name is
spelled once, in its field below. No Powertools here: ``cdk synth`` imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from typing import Any

from g3n_ops.contract import discovery
from g3n_ops.contract.metrics import NAMESPACE as METRICS_NAMESPACE
from g3n_ops.contract.metrics import SERVICE

# Powertools' service and namespace (observability.py uses them; the stack sets them too).
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": SERVICE,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
}
# The maintenance guard's own table variable (g3n_maintenance_guard.TABLE_ENV: it imports
# Powertools, so it cannot be imported here). Every function gets it, equal to OPS_TABLE_NAME.
GUARD_TABLE_NAME = "G3N_OPS_TABLE_NAME"


def _between(low: int, high: int) -> Callable[[str], int]:
    """An integer clamped to ``[low, high]`` (a typo cannot switch the lockout off)."""
    return lambda text: min(high, max(low, int(text)))


def _true(text: str) -> bool:
    return text.lower() == "true"


def variable(name: str, default: Any, *, read: Callable[[str], Any] = str, deployed: bool = True):
    """A field carried by the environment variable ``name``, parsed from its text by ``read``;
    unset, the default holds. ``deployed=False``: a knob no stack sets (a test or bench turns it)."""
    return field(default=default, metadata={"env": name, "read": read, "deployed": deployed})


@dataclass(frozen=True, kw_only=True)
class Settings:
    stage: str = variable("OPS_STAGE", "dev")
    # Every stack sets it; unset (a unit test, a bench) it is "", which no DynamoDB call accepts,
    # while the vacuum knobs below can still be read.
    table_name: str = variable("OPS_TABLE_NAME", "")
    registry_parameter: str = variable("OPS_REGISTRY_PARAMETER", discovery.REGISTRY)
    maintenance_state_machine_arn: str = variable("MAINTENANCE_STATE_MACHINE_ARN", "")
    vacuum_state_machine_arn: str = variable("VACUUM_STATE_MACHINE_ARN", "")
    maintenance_audit_log_group: str = variable(
        "MAINTENANCE_AUDIT_LOG_GROUP", discovery.MAINTENANCE_AUDIT_LOG_GROUP
    )
    vacuum_pending_seconds: int = variable("VACUUM_PENDING_SECONDS", 300, read=int)
    # Deny by default: only a stack (or the local stack) that turns vacuum on says "true"; prod
    # never, whatever its environment says (``read``; the stack deploys no vacuum there anyway).
    vacuum_allowed: bool = variable("VACUUM_ALLOWED", False, read=_true)
    # Vacuum's data plane (cdk.json "vacuumTuning"): units purged at once (the Map's concurrency),
    # how long one AWS call may retry transient errors, and the items one chunk may take.
    vacuum_concurrency: int = variable("VACUUM_CONCURRENCY", 8, read=lambda text: max(1, int(text)))
    vacuum_retry_seconds: float = variable("VACUUM_RETRY_SECONDS", 300.0, read=float)
    vacuum_chunk_items: int = variable("VACUUM_CHUNK_ITEMS", 10_000_000, read=int)
    # Lockout: this many wrong secret codes within the window lock every secret-gated operation
    # for the window. Defaults are the deployed values; the local stack lets a test shorten them.
    secret_lockout_threshold: int = variable("SECRET_LOCKOUT_THRESHOLD", 5, read=_between(1, 100))
    secret_lockout_window_seconds: int = variable(
        "SECRET_LOCKOUT_WINDOW_SECONDS", 900, read=_between(1, 86_400)
    )
    # The guard's cache TTL (the variable the guard itself reads) and the slack on top of it within
    # which every API service must answer 503 after a window starts (or recover after it ends).
    guard_ttl_seconds: int = variable("G3N_MAINTENANCE_GUARD_TTL_SECONDS", 20, read=int)
    maintenance_probe_margin_seconds: int = variable("MAINTENANCE_PROBE_MARGIN_SECONDS", 10, read=int)
    # The SNS topic every lifecycle event goes to ("" = notifications off, e.g. in unit tests).
    events_topic_arn: str = variable("OPS_EVENTS_TOPIC_ARN", "")
    # A real vacuum binds to a completed dry-run of its scope at most this old (unless named).
    dry_run_max_age_seconds: int = variable("VACUUM_DRY_RUN_MAX_AGE_SECONDS", 24 * 3600, read=int)
    # The public status page reloads itself this often while a window is active or imminent.
    status_refresh_seconds: int = variable("STATUS_REFRESH_SECONDS", 60, read=int)
    # The window vacuum-all --with-maintenance opens lasts this long (it is ended by the run; past
    # it the window is flagged overrunning, which alarms).
    vacuum_maintenance_seconds: int = variable(
        "VACUUM_MAINTENANCE_SECONDS", 4 * 3600, read=_between(60, 7 * 24 * 3600)
    )

    # -- knobs no stack sets: the defaults are the deployed behaviour ------------------------------
    # A chunk's time (purge.Limits.from_environment): the function's timeout less the headroom,
    # capped by chunk_seconds when set.
    vacuum_chunk_seconds: float | None = variable("VACUUM_CHUNK_SECONDS", None, read=float, deployed=False)
    vacuum_chunk_headroom_seconds: float = variable(
        "VACUUM_CHUNK_HEADROOM_SECONDS", 120.0, read=float, deployed=False
    )
    vacuum_segment_items: int = variable("VACUUM_SEGMENT_ITEMS", 250_000, read=int, deployed=False)
    vacuum_max_segments: int = variable("VACUUM_MAX_SEGMENTS", 64, read=int, deployed=False)
    vacuum_writes_in_flight: int = variable("VACUUM_WRITES_IN_FLIGHT", 16, read=int, deployed=False)
    vacuum_settle_seconds: float = variable("VACUUM_SETTLE_SECONDS", 2.0, read=float, deployed=False)
    # Events per execution; the local stack's tests lower it to see continue-as-new in seconds
    # (rounds.history_budget never lets it pass rounds.HISTORY_BUDGET, Step Functions' bound).
    vacuum_history_events: int = variable("VACUUM_HISTORY_EVENTS", 10_000, read=int, deployed=False)


_FIELDS = fields(Settings)
ENVIRONMENT_NAMES = tuple(spec.metadata["env"] for spec in _FIELDS)
# What the stacks set (every function the same): the deployed fields, the guard's table variable
# and Powertools' names.
DEPLOYED_NAMES = (
    *(spec.metadata["env"] for spec in _FIELDS if spec.metadata["deployed"]),
    GUARD_TABLE_NAME,
    *POWERTOOLS_ENVIRONMENT,
)


def env_name(field_name: str) -> str:
    """The environment variable that carries the field ``field_name``."""
    return next(spec.metadata["env"] for spec in _FIELDS if spec.name == field_name)


def read(env: Mapping[str, str]) -> Settings:
    values = {
        spec.name: spec.metadata["read"](env[spec.metadata["env"]])
        for spec in _FIELDS
        if spec.metadata["env"] in env
    }
    if values.get("stage") == "prod":
        values["vacuum_allowed"] = False
    return Settings(**values)


def settings() -> Settings:
    """This process's settings: read again as soon as one of their variables changes (a test's
    monkeypatch, the local stack's reset), else the cached ones."""
    return _read_cached(tuple(os.environ.get(name) for name in ENVIRONMENT_NAMES))


@lru_cache(maxsize=8)
def _read_cached(values: tuple[str | None, ...]) -> Settings:
    named = zip(ENVIRONMENT_NAMES, values, strict=True)
    return read({name: value for name, value in named if value is not None})


def _read_now() -> Settings:
    return read(os.environ)


# functools.cache's interface, which tests use: drop the cache, or read without it.
settings.cache_clear = _read_cached.cache_clear  # type: ignore[attr-defined]
settings.__wrapped__ = _read_now  # type: ignore[attr-defined]


def function_environment(deployed: Settings) -> dict[str, str]:
    """The variables every function gets, for ``deployed`` (values may be CDK tokens: at synth
    time they are strings). The knobs no stack sets are left out: unset, their defaults hold."""
    environment = {
        spec.metadata["env"]: _text(getattr(deployed, spec.name))
        for spec in _FIELDS
        if spec.metadata["deployed"]
    }
    return {**environment, GUARD_TABLE_NAME: deployed.table_name, **POWERTOOLS_ENVIRONMENT}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 300.0 → "300", as deployed
    return str(value)
