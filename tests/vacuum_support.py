"""Helpers for the vacuum tests: what is in the stack right now (item by item), expected stats
from the seed manifest, and a tidy-up so no vacuum execution outlives its test."""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from g3n_ops.contract import discovery
from g3n_ops.contract.registry import Registry
from g3n_ops.domain import purge
from g3n_ops.domain.vacuum import plan as plans
from g3n_ops.records.vacuum import VacuumMutex, VacuumRecord
from g3n_ops.registry import forget_cached_registry, load_registry
from g3n_ops.settings import settings
from g3n_ops.store import table as ops_table
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops.store import vacuum_audit, vacuum_mutex
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local.iam import context as iam_context
from g3n_ops_client.local.iam.principals import grant_registry_purge
from tests.support import SECRET, aws, wait_until

PHRASE = "VACUUM ALL DATA PERMANENTLY"


def registry() -> Registry:
    value = aws("ssm").get_parameter(Name=discovery.REGISTRY)["Parameter"]["Value"]
    return Registry.model_validate_json(value)


def put_registry(document: dict) -> None:
    """Publish a registry and drop the functions' 5-minute cache of it (they run in this process).
    Its resources get the purge grants a deploy of it would give the steps function (IAM is
    enforced: a bucket the deployed registry does not name would be AccessDenied, not NoSuchBucket)."""
    aws("ssm").put_parameter(
        Name=discovery.REGISTRY, Value=json.dumps(document), Type="String", Overwrite=True
    )
    forget_cached_registry()
    enforcer = iam_context.active()
    if enforcer is not None and enforcer.mode != "off":
        grant_registry_purge(enforcer, document, stage="local")


# -- what is stored now --------------------------------------------------------------------------
def table_keys(table) -> dict[str, set[tuple]]:
    """Every item's key of a registry table, grouped by the item's orgcode."""
    found: dict[str, set[tuple]] = defaultdict(set)
    pages = aws("dynamodb").get_paginator("scan").paginate(TableName=table.name)
    for page in pages:
        for item in page["Items"]:
            key = tuple(item[name]["S"] for name in table.key_names)
            found[item["orgcode"]["S"]].add(key)
    return dict(found)


def bucket_versions(bucket: str) -> dict[str, set[tuple]]:
    """Every object version and delete marker, grouped by the first key segment (org or shared)."""
    found: dict[str, set[tuple]] = defaultdict(set)
    pages = aws("s3").get_paginator("list_object_versions").paginate(Bucket=bucket)
    for page in pages:
        for kind in ("Versions", "DeleteMarkers"):
            for entry in page.get(kind, []):
                found[entry["Key"].split("/", 1)[0]].add((kind, entry["Key"], entry["VersionId"]))
    return dict(found)


def log_events(group: str) -> int:
    pages = aws("logs").get_paginator("filter_log_events").paginate(logGroupName=group)
    return sum(len(page["events"]) for page in pages)


def log_streams(group: str) -> list[dict]:
    pages = aws("logs").get_paginator("describe_log_streams").paginate(logGroupName=group)
    return [stream for page in pages for stream in page["logStreams"]]


def snapshot(reg: Registry) -> dict:
    return {
        "tables": {t.name: table_keys(t) for s in reg.services for t in s.tables},
        "buckets": {b: bucket_versions(b) for s in reg.services for b in s.buckets},
    }


def deleted_by_org(reg, before: dict, after: dict, org: str) -> dict[str, dict[str, int]]:
    """Per service, what is really gone: table items and object versions of ``org``."""
    gone: dict[str, dict[str, int]] = {}
    for service in reg.services:
        if not service.org_scoped:
            continue
        items = sum(
            len(before["tables"][t.name].get(org, ())) - len(after["tables"][t.name].get(org, ()))
            for t in service.tables
        )
        objects = sum(
            len(before["buckets"][b].get(org, ())) - len(after["buckets"][b].get(org, ()))
            for b in service.buckets
        )
        gone[service.code] = {"items": items, "objects": objects}
    return gone


def ops_items() -> dict[str, dict]:
    pages = aws("dynamodb").get_paginator("scan").paginate(TableName=settings().table_name)
    items = [ops_table.deserialize(item) for page in pages for item in page["Items"]]
    return {item["pk"]: item for item in items}


# -- what the seed says a vacuum should find -----------------------------------------------------
def expected_org_stats(manifest: dict, reg: Registry, org: str) -> dict[str, dict[str, int]]:
    """Per org-scoped service: the org's seeded items, object versions + delete markers, bytes."""
    expected = {}
    for service in reg.services:
        if not service.org_scoped:
            continue
        entry = {"items": sum(manifest["tables"][t.name][org] for t in service.tables)}
        entry |= _bucket_counts(manifest, service.buckets, owners=(org,))
        expected[service.code] = entry
    return expected


def expected_all_stats(manifest: dict, reg: Registry) -> dict[str, dict[str, int]]:
    expected = {}
    for service in reg.services:
        entry = {"items": sum(sum(manifest["tables"][t.name].values()) for t in service.tables)}
        entry |= _bucket_counts(manifest, service.buckets, owners=None)
        entry["logStreams"] = sum(manifest["logGroups"][g]["streams"] for g in service.log_groups)
        expected[service.code] = entry
    return expected


def _bucket_counts(manifest: dict, buckets, *, owners) -> dict[str, int]:
    objects = size = 0
    for bucket in buckets:
        for owner, counts in manifest["buckets"][bucket].items():
            if owners is None or owner in owners:
                objects += counts["versions"] + counts["deleteMarkers"]
                size += counts["bytes"]
    return {"objects": objects, "bytes": size}


def service_counters(record: dict, fields=("items", "objects", "bytes")) -> dict[str, dict[str, int]]:
    services = record["stats"]["services"]
    return {
        code: {field: entry[field] for field in fields if field in entry} for code, entry in services.items()
    }


def batches(count: int, size: int) -> int:
    return math.ceil(count / size)


# -- runs ----------------------------------------------------------------------------------------
def execution(record: dict) -> dict:
    return aws("stepfunctions").describe_execution(executionArn=record["executionArn"])


def mutex() -> dict | None:
    """The mutex as stored, read with the test's own client: faults never touch the check."""
    response = aws("dynamodb").get_item(
        TableName=settings().table_name, Key={"pk": {"S": vacuum_mutex.MUTEX_PK}}, ConsistentRead=True
    )
    if "Item" not in response:
        return None
    item = ops_table.deserialize(response["Item"])
    return VacuumMutex.model_validate({k: v for k, v in item.items() if k != "pk"}).document()


def stop_vacuum_executions() -> None:
    """No vacuum of one test may wake up (and delete) inside the next."""
    sfn = aws("stepfunctions")
    for machine in sfn.list_state_machines()["stateMachines"]:
        if not machine["name"].endswith("-vacuum"):
            continue
        running = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")
        for found in running["executions"]:
            sfn.stop_execution(executionArn=found["executionArn"], cause="test teardown")


def wait_done(client, record: dict, timeout: float = 60) -> dict:
    """The run's final record; fails the test (never hangs) if it does not end in time."""
    try:
        return client.vacuum.wait(record["vacuumId"], timeout=timeout, poll=0.2)
    except OpsClientError as error:
        pytest.fail(f"vacuum {record['vacuumId']} did not end: {error}")


def wait_status(client, record: dict, statuses: set[str], timeout: float = 30) -> dict:
    seen: list[str] = []

    def reached() -> dict | None:
        current = client.vacuum.status(record["vacuumId"])
        seen.append(current["status"])
        return current if current["status"] in statuses else None

    return wait_until(
        reached,
        timeout=timeout,
        interval=0.1,
        message=lambda: f"vacuum {record['vacuumId']} (still {seen[-1]}) reaches {statuses}",
    )


__all__ = ["PHRASE", "SECRET"]


def dry_run_first(client, orgcode: str | None = None, *, timeout: float = 60) -> dict:
    """A completed dry-run of vacuum-org ``orgcode`` (or vacuum-all when None): what a real run
    binds to, as the playbooks order it. Returns the finished dry-run record."""
    if orgcode is None:
        requested = client.vacuum.all(SECRET, "dry-run first", PHRASE, dry_run=True)
    else:
        requested = client.vacuum.org(SECRET, orgcode, "dry-run first", dry_run=True)
    done = wait_done(client, requested, timeout=timeout)
    assert done["status"] == "completed", done.get("error")
    return done


def plant_dry_run(orgcode: str | None = None) -> str:
    """A completed dry-run record of vacuum-org ``orgcode`` (vacuum-all when None), as a finished
    dry-run leaves it, for tests whose subject is the real run after it: it saves a whole dry-run
    execution. (The binding itself is tested with real dry-runs: test_dry_run_binding.py.)"""
    moment = datetime.now(UTC)
    at = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    vacuum_id = f"{moment:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    record = {
        "vacuumId": vacuum_id,
        "status": "completed",
        "scope": "org" if orgcode else "all",
        "orgcode": orgcode,
        "dryRun": True,
        "reason": "planted dry-run",
        "source": "cli",
        "actor": "test",
        "createdAt": at,
        "startedAt": at,
        "finishedAt": at,
        "stats": {"services": {}, "totals": {}},
    }
    # The plan it counted: the real run's must touch the same (dry-run binding).
    scope = "org" if orgcode else "all"
    plan = plans.build_plan(load_registry(), scope, orgcode, purge.Limits.from_environment())
    record["plan"] = plans.plan_attribute(plans.bound_plan(plan, scope=scope, orgcode=orgcode, dry_run=True))
    assert vacuum_store.create_record(VacuumRecord.from_item(record))
    return vacuum_id


def force_fields(vacuum_id: str, fields: dict, *, from_status: str | None = None) -> dict | None:
    """Write ``fields`` (camelCase) on a record behind the domain's back (only if it is
    ``from_status``, when given): a test's meddling, under no transition of the record. Returns
    the record as stored then, or None if the condition did not hold."""
    names = {f"#f{index}": name for index, name in enumerate(fields)}
    values = {f":v{index}": ops_table.serialize_value(value) for index, value in enumerate(fields.values())}
    condition = "attribute_exists(pk)"
    if from_status is not None:
        names["#status"] = "status"
        values[":from"] = {"S": from_status}
        condition += " AND #status = :from"
    response = ops_table.conditional(
        ops_table.dynamodb().update_item,
        Key={"pk": {"S": vacuum_store.record_pk(vacuum_id)}},
        UpdateExpression="SET " + ", ".join(f"#f{index} = :v{index}" for index in range(len(fields))),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return ops_table.deserialize(response["Attributes"]) if response else None


@contextlib.contextmanager
def pending_window(seconds: int) -> Iterator[None]:
    """A longer pending window for a while (the execution's Wait and the domain's check both read
    it), so a test can meddle inside it without a race; the local stack's own comes back after."""
    previous = os.environ.get("VACUUM_PENDING_SECONDS")
    os.environ["VACUUM_PENDING_SECONDS"] = str(seconds)
    settings.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            del os.environ["VACUUM_PENDING_SECONDS"]
        else:
            os.environ["VACUUM_PENDING_SECONDS"] = previous
        settings.cache_clear()


# The run's lifecycle in its trail (vacuum-events): without the per-unit, per-verify and
# per-continuation entries between them.
MILESTONES = frozenset(
    {"requested", "resumed", "started", "cancel-requested", "failing", "completed", "cancelled", "failed"}
)


def milestones(vacuum_id: str) -> list[str]:
    return [
        entry["action"] for entry in vacuum_audit.audit_entries(vacuum_id) if entry["action"] in MILESTONES
    ]
