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

import pytest

from g3n_ops import observability
from g3n_ops import settings as settings_module
from g3n_ops.contract.errors import OpsError, SecretCodeLocked, SecretCodeMismatch
from g3n_ops.domain import secret
from g3n_ops.store import secret as secret_store
from g3n_ops.store import table
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from tests.maintenance_support import soon, stop_running_executions
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


@pytest.mark.slow
def test_five_wrong_codes_from_two_callers_lock_every_gated_operation_but_cancelling_even_for_the_right_code(
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

        # Locked now, for both callers and every gated function, even with the right code
        # (cancelling is not: test_the_right_code_still_cancels_during_a_lockout).
        for call in (
            lambda: cli.maintenance.update(SECRET, "x"),
            lambda: mcp.vacuum.resume(SECRET, UNKNOWN_VACUUM),
            lambda: mcp.rotate_secret(SECRET, "a-new-code-000001"),
        ):
            error = refused(call)
            assert error.code == "secret-code-locked"
            assert 1 <= seconds_to_wait(error) <= 60
        raw = local_stack.provisioner.dispatcher.functions["g3n-local-ops-vacuum"].call(
            {"operation": "vacuum-resume", "secretCode": SECRET, "vacuumId": UNKNOWN_VACUUM}
        )
        assert raw["error"]["code"] == "secret-code-locked" and 1 <= raw["error"]["retryAfterSeconds"] <= 60

        entries = security_audit()[audit_before:]
        assert [entry["action"] for entry in entries] == ["secret-code-mismatch"] * 5 + ["secret-lockout"]
        assert {entry["source"] for entry in entries[:5]} == {"cli", "mcp"}
        assert [entry["failuresInWindow"] for entry in entries[:5]] == [1, 2, 3, 4, 5]
        assert metrics_spy["SecretCodeMismatch"] == 5 and metrics_spy["SecretLockout"] == 1
        assert SECRET not in str(entries) and WRONG not in str(entries)
        assert table.get(secret.SECRET_PK)["n"] == 2**10  # a locked call verified nothing


@pytest.mark.usefixtures("ops")  # a stack without an open window, whatever ran before: update is refused
def test_after_the_lockout_window_the_right_code_works_again(local_stack, secret_restored, monkeypatch):
    cli, mcp = clients(local_stack)
    with local_stack.secret_lockout(threshold=1, window_seconds=5):
        store_secret(weak_hash(SECRET))
        assert refused(lambda: cli.vacuum.cancel(WRONG, UNKNOWN_VACUUM)).code == "secret-code-mismatch"
        assert refused(lambda: mcp.vacuum.resume(SECRET, UNKNOWN_VACUUM)).code == "secret-code-locked"
        locked_until = float(secret_store.get_lockout()["lockedUntil"])
        # The functions run in this process: their clock jumps past the lockout instead of waiting it out.
        ahead = max(0.0, locked_until - time.time()) + 0.1
        monkeypatch.setattr(secret, "clock", lambda: time.time() + ahead)
        # The window has passed: the operation's own answer comes back, for both callers.
        assert refused(lambda: mcp.vacuum.resume(SECRET, UNKNOWN_VACUUM)).code == "vacuum-not-found"
        assert refused(lambda: cli.maintenance.update(SECRET, "x")).code == "invalid-transition"


def test_an_attempt_budget_holds_in_flight_and_wrong_codes_per_window_and_locks_at_the_threshold(local_stack):
    budget = secret_store.MAIN

    def take(now: float) -> float | None:
        return secret_store.take_attempt(budget, now=now, threshold=3, window=60)

    def fail(window_ends: float) -> int | None:
        return secret_store.record_failure(budget, window_ends=window_ends)

    with local_stack.secret_lockout(threshold=3, window_seconds=60):  # the item cleared before and after
        assert take(100.0) == 160.0  # the first attempt opens the window
        assert [take(110.0), take(120.0), take(130.0)] == [160.0, 160.0, None]  # a 4th never runs scrypt
        secret_store.give_back(budget, window_ends=160.0)  # a right code gives its attempt back
        assert [take(131.0), take(132.0)] == [160.0, None]
        assert [fail(160.0), fail(160.0)] == [1, 2]
        assert take(161.0) == 221.0  # the window ended: a new one, counted afresh
        state = secret_store.get_lockout()
        assert (state["attempts"], state["failures"]) == (1, 0)
        secret_store.give_back(budget, window_ends=160.0)  # an old window's attempt: nothing to give
        assert fail(160.0) is None and secret_store.get_lockout()["attempts"] == 1

        assert [take(162.0), take(163.0)] == [221.0, 221.0]
        assert [fail(221.0), fail(221.0), fail(221.0)] == [1, 2, 3]
        assert secret_store.start_lockout(budget, now=170.0, until=230.0, threshold=3)
        assert not secret_store.start_lockout(budget, now=171.0, until=231.0, threshold=3)  # only once
        assert take(225.0) is None  # the window has ended, the lockout has not
        state = secret_store.get_lockout()
        assert secret.seconds_locked(state, 225.0) == 5 and secret.seconds_locked(state, 230.0) == 0
        assert secret.seconds_locked(state, 225.0, secret_store.CANCEL) == 0  # the other budget
        assert take(230.0) == 290.0  # over: a fresh window
        assert not any(name.startswith("cancel") for name in secret_store.get_lockout())


def test_a_budget_is_unavailable_while_locked_or_full_of_attempts_in_flight():
    main, cancel = secret_store.MAIN, secret_store.CANCEL
    in_flight = {"attempts": 3, "failures": 1, "windowEnds": 160.0, "cancelLockedUntil": 150.5}
    assert secret.seconds_unavailable(in_flight, 100.0, main, threshold=3) == secret.IN_FLIGHT_RETRY_SECONDS
    assert secret.seconds_unavailable(in_flight, 100.0, main, threshold=4) == 0  # room for one more
    assert secret.seconds_unavailable(in_flight, 160.0, main, threshold=3) == 0  # its window ended
    assert secret.seconds_unavailable(in_flight, 100.0, cancel, threshold=3) == 51
    assert secret.seconds_unavailable({}, 100.0, cancel, threshold=3) == 0


def test_the_lockout_exempt_operations_are_the_secret_gated_safety_valves():
    from g3n_ops.handlers import admin, maintenance_ops, vacuum_ops
    from g3n_ops.models import SecretRequest

    gated = {
        name
        for handler in (admin, maintenance_ops, vacuum_ops)
        for name, (model, _) in handler.operations._routes.items()
        if issubclass(model, SecretRequest)
    }
    exempt = set(secret.LOCKOUT_EXEMPT_OPERATIONS)
    assert exempt == {"vacuum-cancel", "maintenance-cancel", "maintenance-end"}
    assert exempt.issubset(gated) and exempt != gated  # real routes, each gated by the code


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
        state = secret_store.get_lockout()
        assert (state["failures"], state["attempts"]) == (8, 8)


@pytest.fixture
def scrypt_runs(monkeypatch) -> list[float]:
    """Every scrypt the secret module runs, each made to last 0.3 s as a real one does (~0.5 s),
    so concurrent guesses overlap as they would on AWS."""
    runs: list[float] = []
    original = secret._scrypt

    def counted(*args, **kwargs):
        runs.append(time.monotonic())
        time.sleep(0.3)
        return original(*args, **kwargs)

    monkeypatch.setattr(secret, "_scrypt", counted)
    return runs


@pytest.mark.parametrize("lockout_exempt", [False, True], ids=["gated", "cancelling"])
def test_fifty_concurrent_wrong_codes_reach_scrypt_at_most_threshold_times(
    local_stack, secret_restored, scrypt_runs, lockout_exempt
):
    """The attempt is taken (a conditional increment) before scrypt, so however many guesses run
    at once, in however many containers, at most ``threshold`` per window are verified; the
    cancelling operations add their own budget of as many, no more."""
    budgets = 2 if lockout_exempt else 1
    with local_stack.secret_lockout(threshold=5, window_seconds=60):
        store_secret(weak_hash(SECRET))
        audit_before = len(security_audit())
        answers: list[str] = []
        together = threading.Barrier(50)

        def guess() -> None:
            together.wait()
            try:
                by = {"operation": "vacuum-cancel" if lockout_exempt else "vacuum-org", "source": "cli"}
                secret.verify(WRONG, by=by, lockout_exempt=lockout_exempt)
            except OpsError as error:
                answers.append(error.code)

        threads = [threading.Thread(target=guess) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert len(scrypt_runs) == 5 * budgets
        assert Counter(answers) == {
            "secret-code-mismatch": 5 * budgets,
            "secret-code-locked": 50 - 5 * budgets,
        }
        state, now = secret_store.get_lockout(), time.time()
        assert state["failures"] == 5 and secret.seconds_locked(state, now) > 0
        entries = security_audit()[audit_before:]
        assert Counter((entry["action"], entry.get("lockoutBudget")) for entry in entries) == {
            ("secret-code-mismatch", None): 5,
            ("secret-lockout", None): 1,
            **(
                {("secret-code-mismatch", "cancel"): 5, ("secret-lockout", "cancel"): 1}
                if lockout_exempt
                else {}
            ),
        }
        if lockout_exempt:
            # Both budgets spent: cancelling is locked too, the right code included, until the
            # cancel budget's own lockout ends (the residual denial of service, IAM-gated).
            assert state["cancelFailures"] == 5
            with pytest.raises(SecretCodeLocked) as locked:
                secret.verify(SECRET, lockout_exempt=True)
            assert "locked them too" in str(locked.value) and locked.value.retry_after_seconds > 0
        else:
            assert "cancelAttempts" not in state
        assert len(scrypt_runs) == 5 * budgets


def test_the_right_code_still_cancels_during_a_lockout(seeded, local_stack, secret_restored, client):
    """Five wrong vacuum-cancel codes (anyone who may invoke the function can send them) lock the
    gated operations but not the safety valves: the right code still cancels a scheduled window
    and reaches vacuum-cancel and maintenance-end, everything else stays locked, and a wrong code
    on a valve still counts (in cancelling's own budget) and is audited."""
    window = client.maintenance.schedule(SECRET, "Lockout check", 600, soon(600))
    window_id = window["maintenanceId"]
    try:
        with local_stack.secret_lockout(threshold=5, window_seconds=60):
            store_secret(weak_hash(SECRET))
            for _ in range(5):
                assert (
                    refused(lambda: client.vacuum.cancel(WRONG, UNKNOWN_VACUUM)).code
                    == "secret-code-mismatch"
                )

            for call in (
                lambda: client.maintenance.schedule(SECRET, "Another", 600, soon(900)),
                lambda: client.maintenance.start(SECRET, window_id),
                lambda: client.vacuum.org(SECRET, "TESTORG", "reason", dry_run=True),
                lambda: client.rotate_secret(SECRET, "a-new-code-000001"),
            ):
                assert refused(call).code == "secret-code-locked"

            assert refused(lambda: client.vacuum.cancel(SECRET, UNKNOWN_VACUUM)).code == "vacuum-not-found"
            assert refused(lambda: client.maintenance.end(SECRET, "none active")).code == "invalid-transition"
            assert client.maintenance.cancel(SECRET, window_id)["status"] == "cancelled"
            assert client.maintenance.get(window_id)["status"] == "cancelled"

            audit_before = len(security_audit())
            assert refused(lambda: client.maintenance.cancel(WRONG, window_id)).code == "secret-code-mismatch"
            (entry,) = security_audit()[audit_before:]
            assert entry["action"] == "secret-code-mismatch" and entry["operation"] == "maintenance-cancel"
            assert (entry["lockoutBudget"], entry["failuresInWindow"]) == ("cancel", 1)
            assert secret_store.get_lockout()["failures"] == 5  # the gated lockout is unchanged
            assert refused(lambda: client.maintenance.update(SECRET, "x")).code == "secret-code-locked"
    finally:
        stop_running_executions()


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
    for name in ("VACUUM_ALLOWED", "OPS_STAGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert settings_module.settings().vacuum_allowed is allowed
