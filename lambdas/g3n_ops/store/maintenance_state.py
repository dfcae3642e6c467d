"""The maintenance state item: the one small item the guard reads on every (uncached) request.

``{"pk": "maintenance#state", "value": "<json>"}`` where the JSON is ``{"active": false}`` or
``{"active": true, "maintenanceId", "description", "latestUpdate", "startedAt", "expectedEnd",
"overrunning"}``. It is a JSON string so Powertools' DynamoDBProvider can read it as-is.
"""

from __future__ import annotations

import json

from g3n_ops.store import table

STATE_PK = "maintenance#state"
VALUE_ATTRIBUTE = "value"
INACTIVE: dict = {"active": False}


def read() -> dict:
    item = table.get(STATE_PK)
    if not item:
        return dict(INACTIVE)
    return json.loads(item[VALUE_ATTRIBUTE])


def item(state: dict) -> dict:
    """The full item for ``state`` (used in puts and transactions)."""
    return {"pk": STATE_PK, VALUE_ATTRIBUTE: json.dumps(state, sort_keys=True)}
