"""The opaque ``nextToken`` of a listing: the kind-index key DynamoDB returned, as URL-safe base64.

A token is checked before it reaches DynamoDB (kind, key prefix), so a crafted one can neither
list another kind of item nor start inside one the caller may not see."""

from __future__ import annotations

import base64
import binascii
import json

from g3n_ops.contract.errors import InvalidInput


def encode_token(key: dict) -> str:
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str, *, kind: str, pk_prefix: str, excluded: tuple[str, ...] = ()) -> dict:
    invalid = InvalidInput("the nextToken is not valid; pass the previous page's nextToken unchanged")
    try:
        plain = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if (
        not isinstance(plain, dict)
        or set(plain) != {"pk", "kind", "sortKey"}
        or not all(isinstance(value, str) for value in plain.values())
        or plain["kind"] != kind
        or not plain["pk"].startswith(pk_prefix)
        or plain["pk"] in excluded
    ):
        raise invalid
    return {name: {"S": value} for name, value in plain.items()}
