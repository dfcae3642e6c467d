"""DynamoDB table descriptions (the OPS table's items go through ``g3n_ops.store``)."""

from __future__ import annotations

from g3n_ops.aws import client


def item_count(name: str) -> int | None:
    """The table's approximate item count (AWS refreshes it about every six hours); None if there
    is no such table."""
    try:
        return client("dynamodb").describe_table(TableName=name)["Table"].get("ItemCount")
    except client("dynamodb").exceptions.ResourceNotFoundException:
        return None
