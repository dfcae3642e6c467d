"""Thin helpers over the DynamoDB client for the OPS table: (de)serialisation, key names, conditional
writes and the kind index."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from g3n_ops.aws import client
from g3n_ops.contract.keys import KIND_INDEX
from g3n_ops.settings import settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_python(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _to_python(inner) for key, inner in value.items()}
    if isinstance(value, list | set):
        return [_to_python(inner) for inner in value]
    return value


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(inner) for inner in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(_to_dynamo(value)) for key, value in item.items()}


def serialize_value(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_to_dynamo(value))


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _to_python(_deserializer.deserialize(value)) for key, value in item.items()}


def table_name() -> str:
    return settings().table_name


def dynamodb():
    return client("dynamodb")


def get(pk: str, *, consistent: bool = True) -> dict[str, Any] | None:
    response = dynamodb().get_item(TableName=table_name(), Key={"pk": {"S": pk}}, ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None


def is_conditional_failure(error: Exception) -> bool:
    """True for a failed ConditionExpression, alone or inside a transaction."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])  # type: ignore[attr-defined]
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons)
    return False


def conditional(call, **kwargs) -> dict | None:
    """Run a conditional write (``call``: a DynamoDB client method) on the OPS table; ``None`` when
    the condition did not hold."""
    try:
        return call(TableName=table_name(), **kwargs)
    except ClientError as error:
        if is_conditional_failure(error):
            return None
        raise


def query_kind(
    kind: str, *, limit: int, newest_first: bool = True, start_key: dict | None = None
) -> tuple[list[dict[str, Any]], dict | None]:
    """One page of items of a kind, ordered by sortKey, with the key to continue from."""
    kwargs: dict[str, Any] = {
        "TableName": table_name(),
        "IndexName": KIND_INDEX,
        "KeyConditionExpression": "kind = :kind",
        "ExpressionAttributeValues": {":kind": {"S": kind}},
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    response = dynamodb().query(**kwargs)
    return [deserialize(item) for item in response.get("Items", [])], response.get("LastEvaluatedKey")


def newest_of_kind(
    kind: str, *, limit: int, status: str | None = None, start_key: dict | None = None, max_pages: int = 10
) -> tuple[list[dict[str, Any]], dict | None]:
    """Up to ``limit`` items of a kind, newest first (optionally only those in ``status``), and the
    key to go on from. A status filter may leave a DynamoDB page short, so this reads on (at most
    ``max_pages`` pages, bounding the latency)."""
    found: list[dict[str, Any]] = []
    key = start_key
    for _ in range(max_pages):
        kwargs: dict[str, Any] = {
            "TableName": table_name(),
            "IndexName": KIND_INDEX,
            "KeyConditionExpression": "#kind = :kind",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {":kind": {"S": kind}},
            "ScanIndexForward": False,
            "Limit": limit - len(found),
        }
        if status:
            kwargs["FilterExpression"] = "#status = :status"
            kwargs["ExpressionAttributeNames"]["#status"] = "status"
            kwargs["ExpressionAttributeValues"][":status"] = {"S": status}
        if key:
            kwargs["ExclusiveStartKey"] = key
        response = dynamodb().query(**kwargs)
        found += [deserialize(item) for item in response.get("Items", [])]
        key = response.get("LastEvaluatedKey")
        if not key or len(found) >= limit:
            # Limit = what was still missing, so every item read matched: the key continues
            # right after the last item returned.
            break
    return found, key
