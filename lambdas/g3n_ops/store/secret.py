"""The OPS-table items of the secret code: its hash, the lockout counter and the security audit.

Items:
  secret                        scrypt hash + salt + parameters (never the code)
  lockout#secret                the verify attempt budgets (below), each a set of attributes
  audit#secret#<at>#<token>     one security audit entry (kind=audit#secret), never the code

An attempt budget counts, per window, the verifies that may run scrypt: ``attempts`` (taken and
not given back: in flight or wrong), ``failures`` (wrong), ``windowEnds`` (the window opened by its
first attempt) and ``lockedUntil``. Two budgets share the one item (one IAM key, one delete to
clear both): ``MAIN`` for every operation, ``CANCEL`` for the lockout-exempt operations while
``MAIN`` is used up (``domain/secret.py`` says why).

Every write is conditional and applied atomically by DynamoDB: an attempt is taken only while
fewer than the threshold are taken, so concurrent callers in any container never get more, and
a rotation or hash upgrade never overwrites a secret it did not verify.
"""

from __future__ import annotations

import secrets as token_source
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.contract import keys
from g3n_ops.store import table

SECRET_PK = keys.SECRET_PK
LOCKOUT_PK = keys.SECRET_LOCKOUT_PK
AUDIT_KIND = keys.Kind.SECRET_AUDIT
# Taking an attempt: an increment, and when the window has ended a restart; each can lose a race
# to another caller, and after this many tries the attempt is refused (fail closed).
TAKE_TRIES = 3


@dataclass(frozen=True)
class Budget:
    """The attribute names of one attempt budget on the lockout item."""

    name: str
    attempts: str
    failures: str
    window_ends: str
    locked_until: str


MAIN = Budget("main", "attempts", "failures", "windowEnds", "lockedUntil")
CANCEL = Budget("cancel", "cancelAttempts", "cancelFailures", "cancelWindowEnds", "cancelLockedUntil")


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
    """The lockout item's attributes (empty before the first attempt)."""
    return table.get(LOCKOUT_PK) or {}


def take_attempt(budget: Budget, *, now: float, threshold: int, window: float) -> float | None:
    """Take one attempt from ``budget``: the end of the window it counts in, or None when the
    budget is locked or ``threshold`` attempts are already taken in the window (or it kept
    losing races). Nothing is taken when None."""
    names = _names(budget)
    not_locked = "(attribute_not_exists(#lockedUntil) OR #lockedUntil <= :now)"
    for _ in range(TAKE_TRIES):
        taken = _update(
            "SET #attempts = if_not_exists(#attempts, :zero) + :one, "
            "#failures = if_not_exists(#failures, :zero), "
            "#windowEnds = if_not_exists(#windowEnds, :windowEnds)",
            "(attribute_not_exists(#windowEnds) OR #windowEnds > :now) "
            f"AND (attribute_not_exists(#attempts) OR #attempts < :threshold) AND {not_locked}",
            names,
            {":zero": 0, ":one": 1, ":now": now, ":threshold": threshold, ":windowEnds": now + window},
            returned="ALL_NEW",
        )
        if taken is not None:
            return float(taken[budget.window_ends])
        # Refused: the window may have ended (start a new one with this attempt), or it is
        # locked or full (then this fails too, and so does the next increment).
        if (
            _update(
                "SET #attempts = :one, #failures = :zero, #windowEnds = :windowEnds",
                f"#windowEnds <= :now AND {not_locked}",
                names,
                {":zero": 0, ":one": 1, ":now": now, ":windowEnds": now + window},
            )
            is not None
        ):
            return now + window
        state = get_lockout()
        locked = float(state.get(budget.locked_until, 0)) > now
        window_open = float(state.get(budget.window_ends, 0)) > now
        full = window_open and int(state.get(budget.attempts, 0)) >= threshold
        if locked or full:
            return None  # not a lost race: retrying cannot help
    return None


def give_back(budget: Budget, *, window_ends: float) -> None:
    """Return an attempt that verified the right code (only to the window it was taken in)."""
    _update(
        "SET #attempts = #attempts - :one",
        "#windowEnds = :windowEnds AND #attempts > :zero",
        _names(budget, "attempts", "window_ends"),
        {":one": 1, ":zero": 0, ":windowEnds": window_ends},
    )


def record_failure(budget: Budget, *, window_ends: float) -> int | None:
    """Count a wrong code in the window its attempt was taken in: the failures in that window
    now, or None when that window has already ended (its attempt counted there)."""
    updated = _update(
        "SET #failures = if_not_exists(#failures, :zero) + :one",
        "#windowEnds = :windowEnds",
        _names(budget, "failures", "window_ends"),
        {":one": 1, ":zero": 0, ":windowEnds": window_ends},
        returned="UPDATED_NEW",
    )
    return None if updated is None else int(updated[budget.failures])


def start_lockout(budget: Budget, *, now: float, until: float, threshold: int) -> bool:
    """Lock ``budget`` until ``until`` if its failures reached ``threshold`` and it is not locked
    already. True for the one caller that started the lockout."""
    return (
        _update(
            "SET #lockedUntil = :until",
            "#failures >= :threshold AND (attribute_not_exists(#lockedUntil) OR #lockedUntil <= :now)",
            _names(budget, "failures", "locked_until"),
            {":until": until, ":threshold": threshold, ":now": now},
        )
        is not None
    )


def put_audit(entry: dict[str, Any]) -> None:
    pk = f"{AUDIT_KIND}#{entry['at']}#{token_source.token_hex(4)}"
    _put({"pk": pk, "kind": AUDIT_KIND, "sortKey": entry["at"], **entry}, "attribute_not_exists(pk)", {})


def audit_entries(*, limit: int = 100) -> list[dict[str, Any]]:
    """The newest security audit entries, newest first."""
    items, _ = table.query_kind(AUDIT_KIND, limit=limit)
    return items


def _names(budget: Budget, *fields: str) -> dict[str, str]:
    fields = fields or ("attempts", "failures", "window_ends", "locked_until")
    placeholders = {
        "attempts": "#attempts",
        "failures": "#failures",
        "window_ends": "#windowEnds",
        "locked_until": "#lockedUntil",
    }
    return {placeholders[field]: getattr(budget, field) for field in fields}


def _update(
    expression: str, condition: str, names: dict[str, str], values: dict[str, Any], *, returned: str = "NONE"
) -> dict[str, Any] | None:
    """One conditional UpdateItem of the lockout item: the attributes asked for (``{}`` with
    NONE), or None when the condition failed."""
    try:
        response = table.dynamodb().update_item(
            TableName=table.table_name(),
            Key={"pk": {"S": LOCKOUT_PK}},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={key: table.serialize_value(value) for key, value in values.items()},
            ReturnValues=returned,
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            return None
        raise
    return table.deserialize(response.get("Attributes", {}))


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
