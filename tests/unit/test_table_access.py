"""The functions stay inside the OPS-table keys ``infra/table_access.py`` grants them.

moto does not enforce IAM, so a key a function needs but was not granted would only show up in
AWS as AccessDenied. Here every DynamoDB call a handler makes on the local stack is recorded with
the function that made it (the local Lambda runtime runs each invoke on one thread) and checked
against that function's ``dynamodb:LeadingKeys`` patterns, over one pass through the
operations: reads, a maintenance window, a wrong code, a vacuum dry-run and a real org vacuum.
"""

from __future__ import annotations

import fnmatch
import threading
from collections import defaultdict

import pytest

from g3n_ops import aws
from g3n_ops.settings import settings
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local.lambda_runtime import LocalFunction
from infra import catalogue
from infra.table_access import FUNCTION_TABLE_ACCESS
from tests.maintenance_support import soon, stop_running_executions
from tests.support import SECRET
from tests.vacuum_support import stop_vacuum_executions, wait_done

READS = {"GetItem"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_current = threading.local()


def _keys(operation: str, params: dict) -> list[tuple[str, str]]:
    """(action class, leading key) pairs of one call, as IAM sees them."""
    if operation in READS | WRITES:
        item = params.get("Key") or params.get("Item")
        return [("read" if operation in READS else "write", item["pk"]["S"])]
    if operation == "Query":
        assert params.get("IndexName") == "kind-index", params  # no base-table query is granted
        values = [
            value["S"] for name, value in params["ExpressionAttributeValues"].items() if name == ":kind"
        ]
        return [("kind", values[0])]
    if operation == "TransactWriteItems":
        found = []
        for entry in params["TransactItems"]:
            ((_, body),) = entry.items()
            found.append(("write", (body.get("Key") or body["Item"])["pk"]["S"]))
        return found
    return [("other", operation)]


@pytest.fixture
def recorded(seeded, monkeypatch):
    calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
    original = LocalFunction.call

    def call(self, event, *args, **kwargs):
        previous, _current.function = getattr(_current, "function", None), self.name
        try:
            return original(self, event, *args, **kwargs)
        finally:
            _current.function = previous

    def hook(service: str, client) -> None:
        if service != "dynamodb":
            return

        def record(params, model, **_):
            if params.get("TableName") == settings().table_name or model.name == "TransactWriteItems":
                for entry in _keys(model.name, params):
                    calls[getattr(_current, "function", None) or "?"].add(entry)

        client.meta.events.register("before-parameter-build.dynamodb.*", record)

    monkeypatch.setattr(LocalFunction, "call", call)
    aws.add_client_hook(hook)
    yield calls
    aws.remove_client_hook(hook)
    stop_running_executions()
    stop_vacuum_executions()


def _allowed(patterns: tuple[str, ...], key: str) -> bool:
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in patterns)


def test_every_ops_table_key_a_function_touches_is_granted_to_it(recorded, client, local_stack):
    client.ping(), client.stat()
    window = client.maintenance.schedule(SECRET, "Access check", 600, soon(600))
    client.maintenance.get(window["maintenanceId"]), client.maintenance.list()
    client.maintenance.start(SECRET, window["maintenanceId"])
    client.maintenance.update(SECRET, "halfway")
    client.maintenance.end(SECRET, "done")
    with pytest.raises(OpsClientError):
        client.vacuum.cancel("not-the-secret-code-1", "20261129-000000-abcdef")
    with pytest.raises(OpsClientError):
        client.rotate_secret("not-the-secret-code-2", "another-secret-code-3")
    dry = wait_done(client, client.vacuum.org(SECRET, "TESTORG", "access check", dry_run=True))
    assert dry["status"] == "completed"
    real = wait_done(client, client.vacuum.org(SECRET, "TESTORG", "access check"))
    assert real["status"] == "completed", real.get("error")
    client.vacuum.status(real["vacuumId"]), client.stat()
    local_stack.provisioner.clear_secret_lockout()

    by_key = {catalogue.function_name("local", spec.key): spec.key for spec in catalogue.FUNCTIONS}
    assert "?" not in recorded, f"OPS-table calls outside any function: {recorded['?']}"
    assert set(recorded) == set(by_key), "every function should have been exercised"
    outside = {}
    for name, entries in recorded.items():
        access = FUNCTION_TABLE_ACCESS[by_key[name]]
        granted = {"read": access.read, "write": access.write, "kind": access.kinds}
        denied = sorted(entry for entry in entries if not _allowed(granted.get(entry[0], ()), entry[1]))
        if denied:
            outside[by_key[name]] = denied
    assert outside == {}, "keys used but not granted in infra/table_access.py"
