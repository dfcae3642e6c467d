"""Text output for people (``--output text``); JSON output is the documents themselves."""

from __future__ import annotations

from rich.table import Table

from g3n_ops_client.cli.common import stdout


def _maintenance_line(state: dict) -> str:
    if not state.get("active"):
        return "no maintenance window is active"
    kind = "READ-ONLY MAINTENANCE" if state.get("mode") == "read-only" else "MAINTENANCE"
    line = f"{kind} ACTIVE: {state.get('maintenanceId')} — {state.get('description')}"
    if state.get("expectedEnd"):
        line += f" (expected end {state['expectedEnd']})"
    if state.get("overrunning"):
        line += " [OVERRUNNING]"
    services = state.get("services")
    line += "\n  affects " + (", ".join(services) if services else "all API services")
    if state.get("allowMethods"):
        line += f"; read-only maintenance: {', '.join(state['allowMethods'])} still answer"
    if state.get("bypass"):
        line += "; operator bypass on"
    latest = state.get("latestUpdate")
    if latest:
        line += f"\n  latest update ({latest.get('at')}): {latest.get('text')}"
    effect = state.get("effect") or {}
    if effect.get("notEffective"):
        services = ", ".join(effect["notEffective"])
        line += f"\n  NOT EFFECTIVE on {services}: still serving requests (see the playbook)"
    elif effect.get("allBlockedAt"):
        which = "affected" if services else "API"
        line += f"\n  in effect on every {which} service since {effect['allBlockedAt']}"
    elif state.get("active"):
        line += f"\n  taking effect: {len(effect.get('effectiveAt') or {})} API services answer 503 so far"
    if effect.get("collateral"):
        line += f"\n  COLLATERAL: {', '.join(effect['collateral'])} outside the window, yet not answering"
    elif effect.get("othersUnaffected"):
        line += f"\n  the other services kept answering (proven {effect['othersUnaffected']})"
    return line


def ping(document: dict) -> None:
    stdout.print(f"OPS {document['status']} · stage {document['stage']} · {document['time']}", markup=False)
    stdout.print(_maintenance_line(document.get("maintenance", {})), markup=False)


def stat(document: dict) -> None:
    stdout.print(f"stage {document['stage']} · {document['time']}", markup=False)
    stdout.print(_maintenance_line(document["maintenance"]["current"]), markup=False)
    by_status = document["maintenance"]["byStatus"]
    stdout.print("maintenance windows: " + (", ".join(f"{k} {v}" for k, v in by_status.items()) or "none"))
    last = document["vacuum"]["last"]
    if last:
        scope = last["scope"] + (f" {last['orgcode']}" if last.get("orgcode") else "")
        dry = " (dry-run)" if last.get("dryRun") else ""
        stdout.print(f"last vacuum: {last['vacuumId']} {scope}{dry} — {last['status']}", markup=False)
    else:
        stdout.print("last vacuum: none")
    table = Table("service", "table", "items", title="service tables")
    for code, service in document["services"].items():
        for name, count in service["tables"].items():
            table.add_row(code, name, "missing" if count is None else str(count))
    stdout.print(table)


def services(document: dict) -> None:
    table = Table("code", "name", "api", "org-scoped", "tables (org lookup)", "buckets", "log groups")
    for service in document["services"]:
        tables = "\n".join(
            f"{t['name']} ({t['orgLookup']}{': ' + t['orgIndex'] if t.get('orgIndex') else ''})"
            for t in service["tables"]
        )
        table.add_row(
            service["code"],
            service["name"],
            "yes" if service["api"] else "no",
            "yes" if service["orgScoped"] else "no (vacuum-org skips it)",
            tables,
            "\n".join(service["buckets"]),
            "\n".join(service["logGroups"]),
        )
    stdout.print(table)
    count = sum(len(s["tables"]) for s in document["services"])
    api = sum(1 for s in document["services"] if s["api"])
    stdout.print(f"{len(document['services'])} services · {api} behind the API · {count} tables")
