"""SSM parameter names the stack writes under ``/g3nretailstack/ops/`` so clients find OPS.

Stages share an account: each stage writes its own set. The default stage (``dev``, cdk.json's
``stage``) and the embedded local stack's stage (``local``, alone in its own account) write the
unscoped names below (``/g3nretailstack/ops/stage``, ``/g3nretailstack/ops/maintenance-audit``, …);
every other stage writes the same names under ``/g3nretailstack/ops/stages/<stage>/``
(:func:`prefix`). The module-level constants are the unscoped names; a client reading a scoped
stage maps its names back onto them (:func:`unscoped`).
"""

from __future__ import annotations

PREFIX = "/g3nretailstack/ops"
DEFAULT_STAGE = "dev"
LOCAL_STAGE = "local"
UNSCOPED_STAGES = frozenset({DEFAULT_STAGE, LOCAL_STAGE})
STAGES_PREFIX = f"{PREFIX}/stages"

STAGE = f"{PREFIX}/stage"
API_URL = f"{PREFIX}/api-url"
TABLE_NAME = f"{PREFIX}/table-name"
REGISTRY = f"{PREFIX}/registry"
LOCAL_SERVICES_URL = f"{PREFIX}/local/services-url"
EVENTS_TOPIC_ARN = f"{PREFIX}/events-topic-arn"  # subscribe here for every lifecycle event
GUARD_LAYER_ARN = f"{PREFIX}/guard/layer-arn"  # the maintenance guard layer's current version
GUARD_READ_POLICY_ARN = f"{PREFIX}/guard/read-policy-arn"
# Not a parameter: the maintenance audit log group, named like the parameters.
MAINTENANCE_AUDIT_LOG_GROUP = f"{PREFIX}/maintenance-audit"


def prefix(stage: str | None = None) -> str:
    """Where ``stage`` writes its names: ``PREFIX`` for the default and local stages (and for no
    stage at all), ``PREFIX/stages/<stage>`` for every other one."""
    return PREFIX if stage is None or stage in UNSCOPED_STAGES else f"{STAGES_PREFIX}/{stage}"


def scoped(name: str, stage: str | None) -> str:
    """The unscoped ``name`` (one of this module's names) as ``stage`` writes it."""
    if not (name == PREFIX or name.startswith(PREFIX + "/")):
        raise ValueError(f"{name!r} is not under {PREFIX}")
    return prefix(stage) + name[len(PREFIX) :]


def unscoped(name: str, stage: str | None) -> str:
    """The inverse of :func:`scoped`."""
    stage_prefix = prefix(stage)
    if not (name == stage_prefix or name.startswith(stage_prefix + "/")):
        raise ValueError(f"{name!r} is not under {stage_prefix}")
    return PREFIX + name[len(stage_prefix) :]


def audit_log_group(stage: str | None = None) -> str:
    return scoped(MAINTENANCE_AUDIT_LOG_GROUP, stage)


def function_parameter(key: str, stage: str | None = None) -> str:
    return f"{prefix(stage)}/functions/{key}"


def state_machine_parameter(key: str, stage: str | None = None) -> str:
    return f"{prefix(stage)}/state-machines/{key}"
