"""The operator secret code: scrypt hash in the OPS table, constant-time verify, rotation.

The code itself is never stored, logged, returned or put in an execution input.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from botocore.exceptions import ClientError

from g3n_ops.errors import InvalidInput, SecretCodeMismatch, SecretNotSet
from g3n_ops.observability import logger, metrics
from g3n_ops.store import table

SECRET_PK = "secret"
MIN_LENGTH = 12
# scrypt cost: ~16 MiB and ~50 ms per verify; slows guessing, cheap for an operator.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_secret(code: str, *, salt: bytes | None = None) -> dict:
    """The item attributes that describe ``code`` (never the code)."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(code.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return {
        "algorithm": "scrypt",
        "hash": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
    }


def matches(code: str, stored: dict) -> bool:
    digest = hashlib.scrypt(
        code.encode(),
        salt=base64.b64decode(stored["salt"]),
        n=int(stored["n"]),
        r=int(stored["r"]),
        p=int(stored["p"]),
        dklen=32,
    )
    return hmac.compare_digest(digest, base64.b64decode(stored["hash"]))


def validate_new_code(code: str) -> None:
    if len(code) < MIN_LENGTH or code.strip() != code:
        raise InvalidInput(
            f"the new secret code must be at least {MIN_LENGTH} characters with no surrounding spaces"
        )


def verify(code: str) -> None:
    """Raise ``SecretCodeMismatch`` unless ``code`` is the current secret code."""
    stored = table.get(SECRET_PK)
    if stored is None:
        raise SecretNotSet("no secret code is set for this stack; deploy with G3N_OPS_SECRET_CODE set")
    if not matches(code, stored):
        logger.warning("secret code mismatch")
        metrics.add_metric(name="SecretCodeMismatch", unit="Count", value=1)
        raise SecretCodeMismatch("the secret code is not correct")


def initial_item(code: str) -> dict:
    """The secret item a deploy writes when none exists yet."""
    validate_new_code(code)
    return {"pk": SECRET_PK, **hash_secret(code)}


def put_if_absent(code: str) -> bool:
    """Store the first secret; an existing secret is never overwritten. True if written."""
    try:
        table.dynamodb().put_item(
            TableName=table.table_name(),
            Item=table.serialize(initial_item(code)),
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            return False
        raise
    return True


def rotate(current_code: str, new_code: str) -> None:
    verify(current_code)
    validate_new_code(new_code)
    stored = table.get(SECRET_PK)
    assert stored is not None  # verify() just read it
    try:
        # Conditional on the hash we verified against: a concurrent rotation cannot be lost.
        table.dynamodb().put_item(
            TableName=table.table_name(),
            Item=table.serialize({"pk": SECRET_PK, **hash_secret(new_code)}),
            ConditionExpression="#hash = :verified",
            ExpressionAttributeNames={"#hash": "hash"},
            ExpressionAttributeValues={":verified": {"S": stored["hash"]}},
        )
    except ClientError as error:
        if table.is_conditional_failure(error):
            raise SecretCodeMismatch("the secret code changed while rotating; try again") from error
        raise
    logger.info("secret code rotated")
