"""Request models shared by the direct-invoke operations (parsed at the edge with pydantic)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Source = Literal["cli", "mcp", "console", "schedule", "api"]

# Ids exactly as OPS mints them. A well-formed id that does not exist answers ``*-not-found``;
# anything else is ``invalid-input`` and never becomes a table key (``vacuum-status --vacuum-id
# mutex`` must not read the mutex item).
VACUUM_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"  # 20261201-020000-3f2a9c
MAINTENANCE_ID_PATTERN = r"^mw-[0-9]{8}-[0-9a-f]{8}$"  # mw-20261201-3f2a9c1d
VacuumId = Annotated[str, Field(alias="vacuumId", max_length=64, pattern=VACUUM_ID_PATTERN)]
MaintenanceId = Annotated[str, Field(alias="maintenanceId", max_length=64, pattern=MAINTENANCE_ID_PATTERN)]


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
