"""The vacuum request handler's refusals and failures, through the real Lambda invoke path."""

from __future__ import annotations

import pytest

from g3n_ops import settings as settings_module
from g3n_ops.store import vacuum as vacuum_store
from g3n_ops.store import vacuum_audit
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET
from tests.vacuum_support import PHRASE, mutex, plant_dry_run, stop_vacuum_executions


@pytest.fixture
def fresh(local_stack):
    local_stack.reset(seed=False)
    yield local_stack
    stop_vacuum_executions()


@pytest.fixture
def environment(monkeypatch):
    """Change a deploy-time setting for the in-process handlers (settings() is cached)."""

    def set_variable(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        settings_module.settings.cache_clear()

    yield set_variable
    monkeypatch.undo()
    settings_module.settings.cache_clear()


def _code(call) -> OpsClientError:
    with pytest.raises(OpsClientError) as refused:
        call()
    return refused.value


def test_refusals_carry_their_codes_and_write_nothing(fresh, client):
    wrong = "not-the-secret-code"
    assert _code(lambda: client.vacuum.all(wrong, "r", PHRASE)).code == "secret-code-mismatch"
    assert _code(lambda: client.vacuum.org(wrong, "TESTORG", "r")).code == "secret-code-mismatch"
    assert _code(lambda: client.vacuum.cancel(wrong, "20261129-000000-abcdef")).code == "secret-code-mismatch"
    # The secret is checked first: a bad phrase with a bad secret is still a secret mismatch.
    assert _code(lambda: client.vacuum.all(wrong, "r", "please")).code == "secret-code-mismatch"

    for phrase in ("vacuum all data permanently", f" {PHRASE}", f"{PHRASE}.", ""):
        refused = _code(lambda phrase=phrase: client.vacuum.all(SECRET, "r", phrase))
        assert refused.code == "confirmation-phrase-mismatch"
        assert PHRASE in refused.message

    for orgcode in ("TESTORG/testorg", "-TESTORG", "_TESTORG", "", "a" * 64, "ac me", "*", "TESTORG\n"):
        refused = _code(lambda orgcode=orgcode: client.vacuum.org(SECRET, orgcode, "r"))
        assert refused.code == "invalid-orgcode", orgcode
        assert "case-sensitive" in refused.message

    assert _code(lambda: client.vacuum.status("20261129-000000-abcdef")).code == "vacuum-not-found"
    assert _code(lambda: client.vacuum.cancel(SECRET, "20261129-000000-abcdef")).code == "vacuum-not-found"
    assert _code(lambda: client.invoke("vacuum", "vacuum-org", secretCode=SECRET)).code == "invalid-input"

    assert vacuum_store.newest_records(5) == [] and mutex() is None


def test_a_stage_that_forbids_vacuums_refuses_them(fresh, client, environment):
    environment("VACUUM_ALLOWED", "false")
    refused = _code(lambda: client.vacuum.org(SECRET, "TESTORG", "r", dry_run=True))
    assert refused.code == "vacuum-not-allowed"
    assert vacuum_store.newest_records(5) == [] and mutex() is None


def test_a_state_machine_that_cannot_start_fails_the_record_and_frees_the_mutex(fresh, client, environment):
    environment("VACUUM_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:missing")
    refused = _code(lambda: client.vacuum.org(SECRET, "TESTORG", "r", dry_run=True))
    assert refused.code == "vacuum-start-failed"
    [record] = [r.document() for r in vacuum_store.newest_records(5)]
    assert record["status"] == "failed" and record["error"]["code"] == "vacuum-start-failed"
    assert mutex() is None
    assert [e["action"] for e in vacuum_audit.audit_entries(record["vacuumId"])] == ["requested", "failed"]


def test_a_retried_request_gets_its_own_run_back(fresh, client):
    def request(request_id: str) -> dict:
        fields = {"secretCode": SECRET, "orgcode": "TESTORG", "reason": "r", "requestId": request_id}
        return client.invoke("vacuum", "vacuum-org", **fields)

    plant_dry_run("TESTORG")  # what a real run is bound to
    first = request("req-1")  # a real run: it holds the mutex through its pending window
    assert request("req-1")["vacuumId"] == first["vacuumId"]
    assert _code(lambda: request("req-2")).code == "vacuum-mutex-locked"
    assert [r.vacuum_id for r in vacuum_store.newest_records(5) if not r.dry_run] == [first["vacuumId"]]
    assert client.vacuum.cancel(SECRET, first["vacuumId"])["status"] == "cancelled"
