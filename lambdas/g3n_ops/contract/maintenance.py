"""What a maintenance window may be: the limits every surface checks before the domain does
(the CLI, MCP's tool schemas, ``recurringMaintenance`` in cdk.json)."""

from __future__ import annotations

import json

from g3n_ops.contract.keys import MAINTENANCE_STATE_PK

# 5 s is the shortest window the state machine's whole-second timers can time meaningfully (and it
# keeps tests fast); a "maintenance window" longer than a week is an outage to plan differently,
# and the bound keeps every execution far inside Step Functions' one-year limit.
MIN_DURATION_SECONDS = 5
MAX_DURATION_SECONDS = 7 * 24 * 3600
MAX_DESCRIPTION_LENGTH = 500
MAX_TEXT_LENGTH = 1000  # an update's text and an end message
# What a window may let through: a subset of the HTTP methods (never all of them: that blocks nothing).
HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
READ_ONLY_METHODS = ("GET", "HEAD")

# The state item the guard reads (``store/maintenance_state.py``): the state as a JSON string, so
# Powertools' DynamoDBProvider reads it as-is, and the active window's id as a plain attribute, so
# "at most one active window" can be a DynamoDB condition.
STATE_VALUE_ATTRIBUTE = "value"
ACTIVE_ID_ATTRIBUTE = "activeMaintenanceId"
INACTIVE_STATE: dict = {"active": False}


def state_item(state: dict) -> dict:
    """The full state item for ``state`` (puts, transactions and the stack's initial item)."""
    item = {"pk": MAINTENANCE_STATE_PK, STATE_VALUE_ATTRIBUTE: json.dumps(state, sort_keys=True)}
    if state.get("active"):
        item[ACTIVE_ID_ATTRIBUTE] = state["maintenanceId"]
    return item
