"""Errors as the client surfaces them: the same stable ``code`` + ``message`` as the server's,
plus the few that only a client can meet (unreachable endpoint, no credentials, not deployed)."""

from __future__ import annotations


class OpsClientError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


# Codes raised by the client itself (the server's are in g3n_ops.contract.errors.ERROR_CODES).
CLIENT_ERROR_CODES = frozenset(
    {
        "endpoint-unreachable",
        "no-credentials",
        "ops-not-deployed",
        "stage-mismatch",
        "http-error",
        "lambda-error",
        "aws-error",
        "secret-code-required",
        "timeout",
        # MCP: a destructive tool runs only after a human confirms it (elicitation).
        "confirmation-declined",
        "confirmation-mismatch",
        "confirmation-unavailable",
    }
)
