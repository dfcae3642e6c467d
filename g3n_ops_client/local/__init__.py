"""The embedded local stack: moto serving the AWS APIs on 127.0.0.1 with the real state machines,
OPS's own handlers for every Lambda invoke, and OPS's HTTP API on the same port."""

from __future__ import annotations

__all__ = ["LocalStack"]


def __getattr__(name: str):
    # The stack loads moto and the functions' code: only what asks for it pays for it (the CLI's
    # other commands, the client and the MCP server import this package's light modules).
    if name == "LocalStack":
        from g3n_ops_client.local.stack import LocalStack

        return LocalStack
    raise AttributeError(name)
