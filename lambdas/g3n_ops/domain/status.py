"""What ping and stat report: health, the maintenance state, counts at a glance."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from g3n_ops.contract.timestamps import iso_seconds, utc_now
from g3n_ops.domain import maintenance, maintenance_effect
from g3n_ops.gateways import tables as table_descriptions
from g3n_ops.registry import load_registry
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as maintenance_store
from g3n_ops.store import maintenance_state, table
from g3n_ops.store import vacuum as vacuum_store


def now_iso() -> str:
    return iso_seconds(utc_now())


def ping() -> dict:
    return {
        "status": "ok",
        "service": "ops",
        "stage": settings().stage,
        "time": now_iso(),
        "maintenance": _maintenance_with_effect(maintenance.shown(maintenance_state.read())),
    }


def _maintenance_with_effect(state: dict) -> dict:
    """While a window is active, what the probes have proven so far (``effect``: effectiveAt,
    allBlockedAt, notEffective; for a scoped window othersUnaffected or collateral), so a service
    the window does not reach (or one it should not) shows at a glance. ``state`` is as shown:
    its ``services``, ``mode`` and ``bypass`` (never the digest)."""
    if not state.get("active"):
        return state
    record = maintenance_store.get(state["maintenanceId"])
    return {**state, "effect": maintenance_effect.summary(record)}


def _count_by_status(kind: str) -> dict[str, int]:
    counts: Counter[str] = Counter()
    start_key = None
    while True:
        items, start_key = table.query_kind(kind, limit=500, start_key=start_key)
        counts.update(item.get("status", "unknown") for item in items)
        if not start_key:
            return dict(sorted(counts.items()))


def _last_vacuum() -> dict | None:
    newest = vacuum_store.newest_records(1)
    if not newest:
        return None
    stored = newest[0].document()
    fields = ("vacuumId", "status", "scope", "orgcode", "dryRun", "createdAt", "finishedAt")
    return {field: stored.get(field) for field in fields} | {"totals": newest[0].totals}


def stat() -> dict:
    """Counts at a glance. Table item counts come from DescribeTable (AWS refreshes them ~6-hourly)."""
    registry = load_registry()
    tables = [(service.code, tbl.name) for service in registry.services for tbl in service.tables]
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda pair: table_descriptions.item_count(pair[1]), tables))
    services: dict[str, dict] = {}
    for (code, name), count in zip(tables, counts, strict=True):
        services.setdefault(code, {"tables": {}})["tables"][name] = count
    return {
        "stage": settings().stage,
        "time": now_iso(),
        "maintenance": {
            "current": maintenance.shown(maintenance_state.read()),
            "byStatus": _count_by_status("maintenance"),
        },
        "vacuum": {"last": _last_vacuum(), "byStatus": _count_by_status("vacuum")},
        "services": services,
    }
