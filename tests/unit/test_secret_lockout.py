"""The secret's defences on the local stack: lockout across callers and functions, the upgrade of
a weak hash, init-secret, and the new-code rules. The stored hash is made cheap (N=2^10) where a
test sends many wrong codes, so the lockout window can be short; nothing here waits long."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections import Counter
from types import SimpleNamespace

import pytest

from g3n_ops import observability
from g3n_ops import settings as settings_module
from g3n_ops.domain import secret
from g3n_ops.errors import OpsError, SecretCodeMismatch
from g3n_ops.store import secret as secret_store
from g3n_ops.store import table
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from tests.support import SECRET, run_cli, run_cli_json
from tests.vacuum_support import PHRASE, ops_items

WRONG = "not-the-secret-code-42"
UNKNOWN_VACUUM = "20261129-000000-abcdef"
UNKNOWN_WINDOW = "mw-20261129-abcdef01"


def weak_hash(code: str, *, n: int = 2**10) -> dict:
    salt = os.urandom(16)
    digest = hashlib.scrypt(code.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    return {
        "algorithm": "scrypt",
        "hash": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "n": n,
        "r": 8,
        "p": 1,
    }


def store_secret(attributes: dict) -> None:
    table.dynamodb().put_item(
        TableName=table.table_name(), Item=table.serialize({"pk": secret.SECRET_PK, **attributes})
    )


def refused(call) -> OpsClientError:
    with pytest.raises(OpsClientError) as raised:
        call()
    return raised.value


@pytest.fixture
def secret_restored(local_stack):
    """Whatever a test does to the secret item, the session's stack gets SECRET back (at full cost)."""
    saved = table.get(secret.SECRET_PK)
    yield
    store_secret({key: value for key, value in saved.items() if key != "pk"})


@pytest.fixture
def metrics_spy(monkeypatch) -> Counter:
    counted: Counter = Counter()
    original = observability.metrics.add_metric

    def spy(*, name, unit, value, **kwargs):
        counted[name] += value
        return original(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(observability.metrics, "add_metric", spy)
    return counted


def clients(local_stack) -> tuple[OpsClient, OpsClient]:
    """Two callers: the CLI and the MCP server's client."""
    return (
        OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url, source="cli")),
        OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url, source="mcp")),
    )


def security_audit() -> list[dict]:
    return list(reversed(secret_store.audit_entries(limit=500)))


def seconds_to_wait(error: OpsClientError) -> int:
    return int(error.message.split(" more seconds")[0].rsplit(" ", 1)[1])


def test_five_wrong_codes_from_two_callers_lock_every_gated_operation_even_for_the_right_code(
    local_stack, secret_restored, metrics_spy
):
    cli, mcp = clients(local_stack)
    # A 60 s window: the five wrong codes count together however slow the machine is.
    with local_stack.secret_lockout(threshold=5, window_seconds=60):
        store_secret(weak_hash(SECRET))  # wrong codes cost ~1 ms each instead of ~0.5 s
        audit_before = len(security_audit())
        wrong_calls = [
            lambda: cli.maintenance.cancel(WRONG, UNKNOWN_WINDOW),
            lambda: mcp.vacuum.cancel(WRONG, UNKNOWN_VACUUM),
            lambda: cli.rotate_secret(WRONG, "a-new-code-000001"),
            lambda: mcp.maintenance.update(WRONG, "x"),
            lambda: cli.vacuum.org(WRONG, "TESTORG", "reason", dry_run=True),
        ]
        answers = [refused(call) for call in wrong_calls]
        assert [answer.code for answer in answers] == ["secret-code-mismatch"] * 5
        assert "locked" in answers[-1].message  # the fifth says the lockout began

        # Locked now, for both callers and every gated function, even with the right code.
        for call in (
            lambda: cli.maintenance.cancel(SECRET, UNKNOWN_WINDOW),
            lambda: mcp.vacuum.cancel(SECRET, UNKNOWN_VACUUM),
            lambda: mcp.rotate_secret(SECRET, "a-new-code-000001"),
        ):
            error = refused(call)
            assert error.code == "secret-code-locked"
            assert 1 <= seconds_to_wait(error) <= 60
        raw = local_stack.provisioner.dispatcher.functions["g3n-local-ops-vacuum"].call(
            {"operation": "vacuum-cancel", "secretCode": SECRET, "vacuumId": UNKNOWN_VACUUM}
        )
        assert raw["error"]["code"] == "secret-code-locked" and 1 <= raw["error"]["retryAfterSeconds"] <= 60

        entries = security_audit()[audit_before:]
        assert [entry["action"] for entry in entries] == ["secret-code-mismatch"] * 5 + ["secret-lockout"]
        assert {entry["source"] for entry in entries[:5]} == {"cli", "mcp"}
        assert [entry["failuresInWindow"] for entry in entries[:5]] == [1, 2, 3, 4, 5]
        assert metrics_spy["SecretCodeMismatch"] == 5 and metrics_spy["SecretLockout"] == 1
        assert SECRET not in str(entries) and WRONG not in str(entries)
        assert table.get(secret.SECRET_PK)["n"] == 2**10  # a locked call verified nothing


def test_after_the_lockout_window_the_right_code_works_again(local_stack, secret_restored):
    cli, mcp = clients(local_stack)
    with local_stack.secret_lockout(threshold=1, window_seconds=5):
        store_secret(weak_hash(SECRET))
        assert refused(lambda: cli.vacuum.cancel(WRONG, UNKNOWN_VACUUM)).code == "secret-code-mismatch"
        assert refused(lambda: mcp.maintenance.cancel(SECRET, UNKNOWN_WINDOW)).code == "secret-code-locked"
        locked_until = float(secret_store.get_lockout()["lockedUntil"])
        time.sleep(max(0.0, locked_until - time.time()) + 0.1)
        # The window has passed: the operation's own answer comes back, for both callers.
        assert refused(lambda: mcp.vacuum.cancel(SECRET, UNKNOWN_VACUUM)).code == "vacuum-not-found"
        assert refused(lambda: cli.maintenance.cancel(SECRET, UNKNOWN_WINDOW)).code == "maintenance-not-found"


def test_failures_outside_the_window_are_forgotten_and_the_threshold_locks():
    state = {"failures": [100.0, 200.0, 290.0], "lockedUntil": 0}
    after, locked = secret.lockout_after_failure(state, 300.0, threshold=3, window=60)
    assert (after["failures"], locked) == ([290.0, 300.0], False)  # 100 and 200 fell out
    after, locked = secret.lockout_after_failure(after, 310.0, threshold=3, window=60)
    assert locked and after == {"failures": [], "lockedUntil": 370.0}
    assert secret.seconds_locked(after, 310.0) == 60 and secret.seconds_locked(after, 369.5) == 1
    assert secret.seconds_locked(after, 370.0) == 0


def test_concurrent_wrong_codes_are_each_counted_once(local_stack, secret_restored):
    with local_stack.secret_lockout(threshold=50, window_seconds=60):
        store_secret(weak_hash(SECRET))
        errors: list[str] = []

        def guess() -> None:
            try:
                secret.verify(WRONG, by={"operation": "test", "source": "cli"})
            except OpsError as error:
                errors.append(error.code)

        threads = [threading.Thread(target=guess) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == ["secret-code-mismatch"] * 8
        assert len(secret_store.get_lockout()["failures"]) == 8


def test_a_weak_hash_is_upgraded_on_the_next_successful_verify(local_stack, secret_restored):
    store_secret(weak_hash(SECRET))
    with pytest.raises(SecretCodeMismatch):
        secret.verify(WRONG)
    assert table.get(secret.SECRET_PK)["n"] == 2**10  # a wrong code upgrades nothing
    secret.verify(SECRET)
    upgraded = table.get(secret.SECRET_PK)
    assert (upgraded["n"], upgraded["r"], upgraded["p"]) == (2**17, 8, 1)
    assert secret.matches(SECRET, upgraded) and not secret.matches(WRONG, upgraded)
    assert security_audit()[-1]["action"] == "secret-hash-upgraded"
    local_stack.provisioner.clear_secret_lockout()


def test_init_secret_works_once_and_never_shows_the_code(local_stack, capsys, monkeypatch, secret_restored):
    monkeypatch.setenv("G3N_OPS_ENDPOINT_URL", local_stack.endpoint_url)
    monkeypatch.delenv("G3N_OPS_SECRET_CODE", raising=False)
    table.dynamodb().delete_item(TableName=table.table_name(), Key={"pk": {"S": secret.SECRET_PK}})
    cli = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))
    assert refused(lambda: cli.maintenance.cancel(SECRET, UNKNOWN_WINDOW)).code == "secret-not-set"

    first = "first-secret-code-0001"
    for bad in ("short", " padded-secret-code ", "tab\tin-the-code-1234"):
        assert refused(lambda bad=bad: cli.init_secret(bad)).code == "invalid-input"
    assert table.get(secret.SECRET_PK) is None  # refused: nothing written

    code, out, err = run_cli(capsys, "ops", "init-secret", "--secret-code", first)
    assert (code, out.strip()) == (0, "secret code set")
    assert first not in out + err
    stored = table.get(secret.SECRET_PK)
    assert stored["n"] == 2**17 and first not in str(stored)
    assert refused(lambda: cli.maintenance.cancel(first, UNKNOWN_WINDOW)).code == "maintenance-not-found"

    code, document = run_cli_json(capsys, "ops", "init-secret", "--secret-code", "second-secret-code-02")
    assert code == 1 and document["error"]["code"] == "secret-already-set"
    assert table.get(secret.SECRET_PK) == stored  # the first one stands
    assert security_audit()[-1]["action"] == "secret-initialised"
    assert first not in str(security_audit())


def test_rotation_refuses_a_bad_new_code_and_changes_nothing(local_stack):
    cli = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))
    before = table.get(secret.SECRET_PK)
    for new in (SECRET, "short", "new-code-with\nnewline", " new-code-padded-1 "):
        assert refused(lambda new=new: cli.rotate_secret(SECRET, new)).code == "invalid-input"
    assert table.get(secret.SECRET_PK) == before


def test_vacuum_is_refused_at_run_time_unless_the_environment_turns_it_on(local_stack, client, monkeypatch):
    """The runtime default is deny: a function without VACUUM_ALLOWED=true refuses every vacuum
    with a clear code and writes nothing (the deployed stack sets it only where vacuum is on)."""
    monkeypatch.delenv("VACUUM_ALLOWED")
    settings_module.settings.cache_clear()
    try:
        assert settings_module.settings().vacuum_allowed is False
        before = ops_items()
        error = refused(lambda: client.vacuum.org(SECRET, "TESTORG", "reason", dry_run=True))
        assert error.code == "vacuum-not-allowed"
        assert refused(lambda: client.vacuum.all(SECRET, "reason", PHRASE)).code == "vacuum-not-allowed"
        assert ops_items() == before
    finally:
        monkeypatch.undo()
        settings_module.settings.cache_clear()
    assert settings_module.settings().vacuum_allowed is True  # the local stack turns it on explicitly


@pytest.mark.parametrize(
    ("environment", "allowed"),
    [
        ({}, False),
        ({"VACUUM_ALLOWED": "true"}, True),
        ({"VACUUM_ALLOWED": "true", "OPS_STAGE": "prod"}, False),
    ],
    ids=["unset", "on", "prod"],
)
def test_vacuum_allowed_setting_denies_by_default_and_on_prod(monkeypatch, environment, allowed):
    # The uncached function on a private environment: the session's cached settings stay as they are.
    fake_os = SimpleNamespace(environ={"OPS_TABLE_NAME": "g3n-dev-ops", **environment})
    monkeypatch.setattr(settings_module, "os", fake_os)
    assert settings_module.settings.__wrapped__().vacuum_allowed is allowed
