"""boto3 clients, one per service per process (created on first use, reused across invokes)."""

from __future__ import annotations

import threading

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32)
_clients: dict[str, object] = {}
# Client creation is not thread-safe; the local stack runs Map iterations on parallel threads.
_lock = threading.Lock()


def client(service: str):
    found = _clients.get(service)
    if found is None:
        with _lock:
            found = _clients.get(service)
            if found is None:
                found = _clients[service] = boto3.session.Session().client(service, config=_CONFIG)
    return found


def reset_clients() -> None:
    """Forget cached clients (the local stack calls this when its endpoint changes)."""
    with _lock:
        _clients.clear()
