"""Deploy-time configuration, handed to every function as environment variables.

``Settings`` (pydantic-settings) is the only reader of the environment in ``g3n_ops``
(``settings()``), and ``function_environment`` the only producer of it: the CDK stack and the
local stack both call the latter, so the two cannot drift apart and code never asks where it
runs. Each variable's name is spelled once, as its field's alias below. No Powertools here:
``cdk synth`` imports this module.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


def _between(low: int, high: int) -> Callable[[Any], int]:
    """An integer clamped to ``[low, high]`` (a typo cannot switch the lockout off)."""
    return lambda value: min(high, max(low, int(value)))


def _true(value: Any) -> Any:
    """Only "true" (any case) is true: "1", "yes" or a typo leave vacuum off."""
    return value.lower() == "true" if isinstance(value, str) else value


AtLeastOne = Annotated[int, BeforeValidator(lambda value: max(1, int(value)))]
LockoutThreshold = Annotated[int, BeforeValidator(_between(1, 100))]
LockoutWindow = Annotated[int, BeforeValidator(_between(1, 86_400))]
WindowSeconds = Annotated[int, BeforeValidator(_between(60, 7 * 24 * 3600))]
OnlyTrue = Annotated[bool, BeforeValidator(_true)]


def variable(name: str, default: Any, *, deployed: bool = True) -> Any:
    """A field carried by the environment variable ``name``; unset, the default holds.
    ``deployed=False``: a knob no stack sets (a test or bench turns it)."""
    return Field(default, alias=name, json_schema_extra={"deployed": deployed})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, case_sensitive=True, extra="ignore")

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
    vacuum_pending_seconds: int = variable("VACUUM_PENDING_SECONDS", 300)
    # Deny by default: only a stack (or the local stack) that turns vacuum on says "true"; prod
    # never, whatever its environment says (the validator below; no vacuum is deployed there).
    vacuum_allowed: OnlyTrue = variable("VACUUM_ALLOWED", False)
    # Vacuum's data plane (cdk.json "vacuumTuning"): units purged at once (the Map's concurrency),
    # how long one AWS call may retry transient errors, and the items one chunk may take.
    vacuum_concurrency: AtLeastOne = variable("VACUUM_CONCURRENCY", 8)
    vacuum_retry_seconds: float = variable("VACUUM_RETRY_SECONDS", 300.0)
    vacuum_chunk_items: int = variable("VACUUM_CHUNK_ITEMS", 10_000_000)
    # Lockout: this many wrong secret codes within the window lock every secret-gated operation
    # for the window. Defaults are the deployed values; the local stack lets a test shorten them.
    secret_lockout_threshold: LockoutThreshold = variable("SECRET_LOCKOUT_THRESHOLD", 5)
    secret_lockout_window_seconds: LockoutWindow = variable("SECRET_LOCKOUT_WINDOW_SECONDS", 900)
    # The guard's cache TTL (the variable the guard itself reads) and the slack on top of it within
    # which every API service must answer 503 after a window starts (or recover after it ends).
    guard_ttl_seconds: int = variable("G3N_MAINTENANCE_GUARD_TTL_SECONDS", 20)
    maintenance_probe_margin_seconds: int = variable("MAINTENANCE_PROBE_MARGIN_SECONDS", 10)
    # The SNS topic every lifecycle event goes to ("" = notifications off, e.g. in unit tests).
    events_topic_arn: str = variable("OPS_EVENTS_TOPIC_ARN", "")
    # A real vacuum binds to a completed dry-run of its scope at most this old (unless named).
    dry_run_max_age_seconds: int = variable("VACUUM_DRY_RUN_MAX_AGE_SECONDS", 24 * 3600)
    # The public status page reloads itself this often while a window is active or imminent.
    status_refresh_seconds: int = variable("STATUS_REFRESH_SECONDS", 60)
    # The window vacuum-all --with-maintenance opens lasts this long (it is ended by the run; past
    # it the window is flagged overrunning, which alarms).
    vacuum_maintenance_seconds: WindowSeconds = variable("VACUUM_MAINTENANCE_SECONDS", 4 * 3600)

    # -- knobs no stack sets: the defaults are the deployed behaviour ------------------------------
    # A chunk's time (purge.Limits.from_environment): the function's timeout less the headroom,
    # capped by chunk_seconds when set.
    vacuum_chunk_seconds: float | None = variable("VACUUM_CHUNK_SECONDS", None, deployed=False)
    vacuum_chunk_headroom_seconds: float = variable("VACUUM_CHUNK_HEADROOM_SECONDS", 120.0, deployed=False)
    vacuum_segment_items: int = variable("VACUUM_SEGMENT_ITEMS", 250_000, deployed=False)
    vacuum_max_segments: int = variable("VACUUM_MAX_SEGMENTS", 64, deployed=False)
    vacuum_writes_in_flight: int = variable("VACUUM_WRITES_IN_FLIGHT", 16, deployed=False)
    vacuum_settle_seconds: float = variable("VACUUM_SETTLE_SECONDS", 2.0, deployed=False)
    # Events per execution; the local stack's tests lower it to see continue-as-new in seconds
    # (rounds.history_budget never lets it pass rounds.HISTORY_BUDGET, Step Functions' bound).
    vacuum_history_events: int = variable("VACUUM_HISTORY_EVENTS", 10_000, deployed=False)

    @field_validator("vacuum_allowed")
    @classmethod
    def _never_in_prod(cls, allowed: bool, info: ValidationInfo) -> bool:
        return allowed and info.data.get("stage") != "prod"

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        # Given values, then the process environment: no .env file or secrets directory.
        return (init_settings, env_settings)

    @classmethod
    def given(cls, **values: Any) -> Settings:
        """These values over the defaults, and nothing from the environment: what a stack deploys
        must not depend on the shell that synthesises it."""
        return _Given(**values)


class _Given(Settings):
    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return (init_settings,)


_FIELDS = Settings.model_fields
ENVIRONMENT_NAMES = tuple(spec.alias for spec in _FIELDS.values())
_DEPLOYED_FIELDS = tuple(name for name, spec in _FIELDS.items() if spec.json_schema_extra["deployed"])
# What the stacks set (every function the same): the deployed fields, the guard's table variable
# and Powertools' names.
DEPLOYED_NAMES = (
    *(_FIELDS[name].alias for name in _DEPLOYED_FIELDS),
    GUARD_TABLE_NAME,
    *POWERTOOLS_ENVIRONMENT,
)


def env_name(field_name: str) -> str:
    """The environment variable that carries the field ``field_name``."""
    return _FIELDS[field_name].alias


def default_of(field_name: str) -> Any:
    """The field's value when its variable is unset."""
    return _FIELDS[field_name].default


_cache: dict[tuple[str | None, ...], Settings] = {}


def _variables() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in ENVIRONMENT_NAMES)


def settings() -> Settings:
    """This process's settings: read again as soon as one of their variables changes (a test's
    monkeypatch, the local stack's reset), else the cached ones."""
    variables = _variables()
    found = _cache.get(variables)
    if found is None:
        found = Settings()
        # Kept only if the environment did not change while it was read (a reset in another
        # thread): else it would be cached under variables it was not read from.
        if _variables() == variables:
            if len(_cache) >= 8:
                _cache.clear()
            _cache[variables] = found
    return found


# functools.cache's interface, which tests use to drop the cache.
settings.cache_clear = _cache.clear  # type: ignore[attr-defined]


def function_environment(deployed: Settings) -> dict[str, str]:
    """The variables every function gets, for ``deployed`` (values may be CDK tokens: at synth
    time they are strings). The knobs no stack sets are left out: unset, their defaults hold."""
    environment = {env_name(name): _text(getattr(deployed, name)) for name in _DEPLOYED_FIELDS}
    return {**environment, GUARD_TABLE_NAME: deployed.table_name, **POWERTOOLS_ENVIRONMENT}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 300.0 → "300", as deployed
    return str(value)
