"""Stand-ins for the platform's 14 API services: each answers like a healthy service would, behind
the same maintenance guard the real services import.

Each stand-in has its own guard (its own 20 s cache), as each real service's containers do. The
local stack calls them with the API Gateway HTTP API event only; there is no Lambda context.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from g3n_maintenance_guard import MaintenanceGuard, maintenance_guard


def standin_handler(code: str) -> Callable[[dict], dict]:
    # The table name comes from G3N_OPS_TABLE_NAME, read at the first request (after provisioning).
    guard = MaintenanceGuard(service=code)

    @maintenance_guard(guard=guard)
    def handler(event: dict, context: object) -> dict:
        body = {"service": code, "status": "ok", "path": event.get("rawPath", "/")}
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}

    return lambda event: handler(event, None)
