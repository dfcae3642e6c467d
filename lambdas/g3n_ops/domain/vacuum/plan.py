"""What a run may touch: its plan, built once from the registry when it starts, stored on the
record with a digest, and checked by every step (a step event names a unit id, nothing more).

vacuum-org: org-scoped services only, each table by its declared org lookup, each bucket under
``<orgcode>/``, no log groups. vacuum-all: every table (split into parallel scan segments by
size), whole buckets, log groups. OPS's own table is never in the registry, so never in a plan.
"""

from __future__ import annotations

import hashlib
import json

from g3n_ops.contract.errors import VacuumPlanViolation
from g3n_ops.contract.registry import Registry
from g3n_ops.domain import purge
from g3n_ops.domain.vacuum.audit import audit
from g3n_ops.domain.vacuum.records import Scope, VacuumRecord
from g3n_ops.records.vacuum import BoundPlan, PlanEntry, UnitProgress
from g3n_ops.registry import load_registry

COUNTERS = ("items", "objects", "bytes", "uploads")  # uploads: aborted S3 multipart uploads
LOG_COUNTERS = ("logStreams",)
SEGMENT_FIELDS = ("segment", "totalSegments")


def build_plan(registry: Registry, scope: Scope, orgcode: str | None, limits: purge.Limits) -> dict:
    """The run's units of work by kind (each a unit document, see ``purge``)."""
    tables: list[dict] = []
    buckets: list[dict] = []
    log_groups: list[dict] = []
    org = orgcode if scope == "org" else None
    for service in registry.services:
        if scope == "org" and not service.org_scoped:
            continue
        for tbl in service.tables:
            base = {"service": service.code, "table": tbl.name, "keyNames": list(tbl.key_names)}
            if scope == "org":
                if tbl.org_lookup == "none":  # a cross-org table: it has no org's items to find
                    continue
                hash_key = next(k.attribute_name for k in tbl.key_schema if k.key_type == "HASH")
                unit = {**base, "orgcode": org, "lookup": tbl.org_lookup, "orgIndex": tbl.org_index}
                tables.append(purge.TableUnit.model_validate({**unit, "hashKey": hash_key}).dump())
                continue
            segments = purge.segment_count(purge.table_item_count(tbl.name), limits)
            for segment in range(segments):
                unit = {**base, "lookup": "all", "segment": segment, "totalSegments": segments}
                tables.append(purge.TableUnit.model_validate(unit).dump())
        for bucket in service.buckets:
            buckets.append(purge.BucketUnit(service=service.code, orgcode=org, bucket=bucket).dump())
        if scope == "all":
            for group in service.log_groups:
                log_groups.append(purge.LogGroupUnit(service=service.code, log_group=group).dump())
    return {"tables": tables, "buckets": buckets, "logGroups": log_groups}


def bound_plan(plan: dict, *, scope: Scope, orgcode: str | None, dry_run: bool) -> BoundPlan:
    """The plan as stored on the record: every unit with an id (tables, buckets and log groups in
    one list, purged together) and a digest over units, scope, orgcode and dryRun."""
    units = [*plan["tables"], *plan["buckets"], *plan["logGroups"]]
    listed = [{"id": f"u{index:04d}", "unit": unit} for index, unit in enumerate(units)]
    return BoundPlan.model_validate(
        {"units": listed, "digest": digest(listed, scope=scope, orgcode=orgcode, dry_run=dry_run)}
    )


def digest(units: list[dict], *, scope: str, orgcode: str | None, dry_run: bool) -> str:
    document = {"units": units, "scope": scope, "orgcode": orgcode, "dryRun": bool(dry_run)}
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def touched_digest(units: list[PlanEntry]) -> str:
    """What a plan touches, however it is cut: the units' resources and lookups, without their ids
    or scan segments (a table's item count, and so its segments, may change between a dry-run and
    its real run; what the run may touch may not)."""
    touched = sorted(
        {
            json.dumps({k: v for k, v in entry.unit.items() if k not in SEGMENT_FIELDS}, sort_keys=True)
            for entry in units
        }
    )
    return hashlib.sha256(json.dumps(touched).encode()).hexdigest()


def stored_plan(record: VacuumRecord | None) -> BoundPlan | None:
    """The plan bound to the record (kept as JSON text: one attribute, cheap to read)."""
    text = record.plan if record else None
    return BoundPlan.model_validate_json(text) if isinstance(text, str) and text else None


def stored_units(record: VacuumRecord | None) -> list[PlanEntry]:
    """The units of the plan bound to the record (none before it started)."""
    stored = stored_plan(record)
    return stored.units if stored else []


def plan_attribute(bound: BoundPlan) -> str:
    return json.dumps(bound.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def initial_progress(stored: BoundPlan) -> dict[str, UnitProgress]:
    """Each unit: where to go on from (``cursor``, JSON), whether it is ``done``, and ``seq``, the
    number of checkpoints committed (the condition that makes each commit happen once)."""
    return {entry.id: UnitProgress(seq=0, cursor=None, done=False) for entry in stored.units}


def zero_stats(plan: dict, scope: Scope) -> dict:
    """Per-service counters (ADDed to as chunks checkpoint) and the units each service has."""
    counters = COUNTERS + (LOG_COUNTERS if scope == "all" else ())
    services: dict[str, dict] = {}
    for unit in (*plan["tables"], *plan["buckets"], *plan["logGroups"]):
        entry = services.setdefault(unit["service"], {name: 0 for name in counters} | {"units": 0})
        entry["units"] += 1
        entry["unitsDone"] = 0
    return {"services": services, "totals": totals(services)}


def totals(services: dict[str, dict]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for entry in services.values():
        for name, value in entry.items():
            summed[name] = summed.get(name, 0) + int(value)
    return summed


def units_of(record: VacuumRecord) -> list[tuple[str, purge.WorkUnit]]:
    """Every unit of the record's plan, checked (see ``planned_unit``)."""
    return [(entry.id, planned_unit(record, entry.id)) for entry in stored_units(record)]


def planned_unit(record: VacuumRecord, unit_id: str) -> purge.WorkUnit:
    """The unit ``unit_id`` of the record's stored plan, after checking that the plan is intact
    (digest over the record's own scope, orgcode and dryRun), that the unit fits the run's scope
    and that it names the registry's resources. Anything else is a plan violation."""
    try:
        stored = stored_plan(record)
    except ValueError:
        stored = None
    if not stored:
        raise violation(record, unit_id, "the run has no stored plan")
    listed = [entry.model_dump(mode="json") for entry in stored.units]
    expected = digest(listed, scope=str(record.scope), orgcode=record.orgcode, dry_run=record.dry_run)
    if stored.digest != expected:
        raise violation(record, unit_id, "the stored plan does not match its digest")
    raw = next((entry.unit for entry in stored.units if entry.id == unit_id), None)
    if raw is None:
        raise violation(record, unit_id, f"unit {unit_id!r:.40} is not in the run's plan")
    unit = purge.UNIT.validate_python(raw)
    _check_scope(record, unit_id, unit)
    return unit


def _check_scope(record: VacuumRecord, unit_id: str, unit: purge.WorkUnit) -> None:
    org = record.orgcode if record.scope == "org" else None
    if unit.orgcode != org:
        raise violation(record, unit_id, "the unit's orgcode is not the run's")
    if isinstance(unit, purge.LogGroupUnit) and record.scope != "all":
        raise violation(record, unit_id, "log groups are purged by vacuum-all only")
    service = next((s for s in load_registry().services if s.code == unit.service), None)
    if service is None or (record.scope == "org" and not service.org_scoped):
        raise violation(record, unit_id, f"service {unit.service!r:.40} is not in the run's scope")
    names = {
        purge.TableUnit: [t.name for t in service.tables],
        purge.BucketUnit: list(service.buckets),
        purge.LogGroupUnit: list(service.log_groups),
    }[type(unit)]
    name = getattr(unit, "table", None) or getattr(unit, "bucket", None) or getattr(unit, "log_group", None)
    if name not in names:
        raise violation(record, unit_id, f"{name!r:.80} is not a registry resource of {unit.service}")


def violation(record: VacuumRecord, unit_id: str, why: str) -> VacuumPlanViolation:
    message = f"refused: {why}; nothing was deleted"
    audit(record, "plan-violation", unitId=str(unit_id)[:80], message=message)
    return VacuumPlanViolation(f"vacuum {record.vacuum_id}: {message}")
