"""The embedded local stack: moto serving the AWS APIs on 127.0.0.1 with the real state machines,
OPS's own handlers for every Lambda invoke, and OPS's HTTP API on the same port."""

from g3n_ops_client.local.stack import LocalStack

__all__ = ["LocalStack"]
