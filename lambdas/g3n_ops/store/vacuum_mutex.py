"""Data access for the vacuum mutex in the OPS table: one run at a time.

Item:
  vacuum#mutex                      owner (a vacuum id) + leaseExpiresAt (epoch seconds)

Every change is a conditional write: ``False`` when the condition did not hold.
"""

from __future__ import annotations

from g3n_ops.contract.keys import VACUUM_MUTEX_PK
from g3n_ops.records.vacuum import VacuumMutex
from g3n_ops.store import table

MUTEX_PK = VACUUM_MUTEX_PK


def read_mutex() -> VacuumMutex | None:
    item = table.get(MUTEX_PK)
    return VacuumMutex.model_validate({k: v for k, v in item.items() if k != "pk"}) if item else None


def take_mutex(owner: str, *, now: int, lease_expires_at: int) -> bool:
    """Take the mutex if it is free or its lease ran out (a crashed run does not lock forever)."""
    item = {
        "pk": MUTEX_PK,
        **VacuumMutex(owner=owner, lease_expires_at=lease_expires_at, taken_at=now).document(),
    }
    written = table.conditional(
        table.dynamodb().put_item,
        Item=table.serialize(item),
        ConditionExpression="attribute_not_exists(pk) OR leaseExpiresAt < :now",
        ExpressionAttributeValues={":now": {"N": str(now)}},
    )
    return written is not None


def renew_mutex(owner: str, *, lease_expires_at: int) -> bool:
    """Extend the lease; False if ``owner`` no longer holds the mutex."""
    renewed = table.conditional(
        table.dynamodb().update_item,
        Key={"pk": {"S": MUTEX_PK}},
        UpdateExpression="SET leaseExpiresAt = :expires",
        ConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":owner": {"S": owner}, ":expires": {"N": str(lease_expires_at)}},
    )
    return renewed is not None


def release_mutex(owner: str) -> bool:
    """Free the mutex if ``owner`` holds it (never someone else's)."""
    released = table.conditional(
        table.dynamodb().delete_item,
        Key={"pk": {"S": MUTEX_PK}},
        ConditionExpression="#owner = :owner",
        ExpressionAttributeNames={"#owner": "owner"},
        ExpressionAttributeValues={":owner": {"S": owner}},
    )
    return released is not None
