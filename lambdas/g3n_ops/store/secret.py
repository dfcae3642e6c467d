"""The OPS-table items of the secret code: its hash, the lockout counter and the security audit.

Items:
  secret                        scrypt hash + salt + parameters (never the code)
  lockout#secret                recent wrong-code times, lockedUntil, version (optimistic locking)
  audit#secret#<at>#<token>     one security audit entry (kind=audit#secret), never the code

Every write is conditional, so concurrent callers in any container count every failure once
and a rotation or hash upgrade never overwrites a secret it did not verify.
"""

from __future__ import annotations

import secrets as token_source
import time
from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.store import table

SECRET_PK = "secret"
LOCKOUT_PK = "lockout#secret"
AUDIT_KIND = "audit#secret"


def get_secret() -> dict[str, Any] | None:
    return table.get(SECRET_PK)


def put_secret_if_absent(attributes: dict[str, Any]) -> bool:
    """Write the first secret; an existing one is never overwritten. True if written."""
    return _put({"pk": SECRET_PK, **attributes}, "attribute_not_exists(pk)", {})


def replace_secret(attributes: dict[str, Any], *, verified_hash: str) -> bool:
    """Replace the secret only if it is still the one verified. True if replaced."""
    return _put(
        {"pk": SECRET_PK, **attributes},
        "#hash = :verified",
        {":verified": table.serialize_value(verified_hash)},
        names={"#hash": "hash"},
    )


def get_lockout() -> dict[str, Any]:
    """The lockout counter (an empty one before the first wrong code)."""
    return table.get(LOCKOUT_PK) or {"failures": [], "lockedUntil": 0, "version": 0}


def put_lockout(state: dict[str, Any], *, expected_version: int) -> bool:
    """Write the counter if nobody else did since it was read at ``expected_version``."""
    item = {
        "pk": LOCKOUT_PK,
        "failures": list(state["failures"]),
        "lockedUntil": state["lockedUntil"],
        "version": expected_version + 1,
    }
    return _put(
        item,
        "attribute_not_exists(pk) OR #version = :expected",
        {":expected": table.serialize_value(expected_version)},
        names={"#version": "version"},
    )


def force_lockout(locked_until: float) -> None:
    """Lock unconditionally (when the counter changes too fast to count conditionally)."""
    table.dynamodb().put_item(
        TableName=table.table_name(),
        Item=table.serialize(
            {
                "pk": LOCKOUT_PK,
                "failures": [],
                "lockedUntil": locked_until,
                # a version no reader holds, so every in-flight conditional write fails and re-reads
                "version": time.time_ns(),
            }
        ),
    )


def put_audit(entry: dict[str, Any]) -> None:
    pk = f"{AUDIT_KIND}#{entry['at']}#{token_source.token_hex(4)}"
    _put({"pk": pk, "kind": AUDIT_KIND, "sortKey": entry["at"], **entry}, "attribute_not_exists(pk)", {})


def audit_entries(*, limit: int = 100) -> list[dict[str, Any]]:
    """The newest security audit entries, newest first."""
    items, _ = table.query_kind(AUDIT_KIND, limit=limit)
    return items


def _put(item: dict, condition: str, values: dict, *, names: dict | None = None) -> bool:
    kwargs: dict[str, Any] = {
        "TableName": table.table_name(),
        "Item": table.serialize(item),
        "ConditionExpression": condition,
    }
    if values:
        kwargs["ExpressionAttributeValues"] = values
    if names:
        kwargs["ExpressionAttributeNames"] = names
    try:
        table.dynamodb().put_item(**kwargs)
    except ClientError as error:
        if table.is_conditional_failure(error):
            return False
        raise
    return True
