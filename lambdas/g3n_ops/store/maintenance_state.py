"""The maintenance state item: the one small item the guard reads on every (uncached) request.

``{"pk": "maintenance#state", "value": "<json>"}`` where the JSON is ``{"active": false}`` or
``{"active": true, "maintenanceId", "description", "latestUpdate", "startedAt", "expectedEnd",
"overrunning"}``. It is a JSON string so Powertools' DynamoDBProvider can read it as-is.

While a window is active the item also carries ``activeMaintenanceId`` as a plain attribute:
DynamoDB conditions cannot look inside the JSON string, and "at most one active window" is a
condition on exactly that attribute (absent = nothing active).
"""

from __future__ import annotations

import json

from g3n_ops.contract.keys import MAINTENANCE_STATE_PK as STATE_PK
from g3n_ops.contract.maintenance import ACTIVE_ID_ATTRIBUTE, state_item
from g3n_ops.contract.maintenance import INACTIVE_STATE as INACTIVE
from g3n_ops.contract.maintenance import STATE_VALUE_ATTRIBUTE as VALUE_ATTRIBUTE
from g3n_ops.store import table


def read() -> dict:
    item = table.get(STATE_PK)
    if not item:
        return dict(INACTIVE)
    return json.loads(item[VALUE_ATTRIBUTE])


def active_id() -> str | None:
    """The id of the active window, or None (read consistently: callers act on it)."""
    item = table.get(STATE_PK)
    return item.get(ACTIVE_ID_ATTRIBUTE) if item else None


def item(state: dict) -> dict:
    return state_item(state)
