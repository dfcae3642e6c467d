"""Request models shared by the direct-invoke operations (parsed at the edge with pydantic)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from g3n_ops.contract.ids import MAINTENANCE_ID_PATTERN, MAX_ID_LENGTH, VACUUM_ID_PATTERN

Source = Literal["cli", "mcp", "console", "schedule", "api"]

# Ids exactly as OPS mints them (contract/ids.py).
VacuumId = Annotated[str, Field(alias="vacuumId", max_length=MAX_ID_LENGTH, pattern=VACUUM_ID_PATTERN)]
MaintenanceId = Annotated[
    str, Field(alias="maintenanceId", max_length=MAX_ID_LENGTH, pattern=MAINTENANCE_ID_PATTERN)
]


class Request(BaseModel):
    """Every direct operation names itself and who asked (the caller's own words)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", str_strip_whitespace=True)

    operation: str
    source: Source = "cli"
    actor: str | None = Field(default=None, max_length=256)
    request_id: str | None = Field(default=None, alias="requestId", max_length=64)


class SecretRequest(Request):
    """An operation gated by the secret code; the dispatcher verifies it before anything else.

    SecretStr keeps the code out of reprs, logs and validation messages.
    """

    secret_code: SecretStr = Field(alias="secretCode", min_length=1, max_length=256)


# A new secret code is kept exactly as sent: the domain refuses surrounding spaces rather than
# silently storing a code the operator did not type.
_KEEP_WHITESPACE = ConfigDict(str_strip_whitespace=False)


class RotateSecretRequest(SecretRequest):
    model_config = _KEEP_WHITESPACE

    operation: Literal["rotate-secret"]
    new_secret_code: SecretStr = Field(alias="newSecretCode", min_length=1, max_length=256)


class InitSecretRequest(Request):
    """Sets the first secret code. Not a SecretRequest: there is no code to verify yet; IAM (invoke
    on the admin function) is the gate, and it works only while no secret exists."""

    model_config = _KEEP_WHITESPACE

    operation: Literal["init-secret"]
    secret_code: SecretStr = Field(alias="secretCode", min_length=1, max_length=256)
