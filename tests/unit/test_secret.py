"""The secret code: scrypt at rest, constant-time compare, rotation with the current code."""

import threading

import pytest

from g3n_ops.contract.errors import InvalidInput, OpsError, SecretCodeMismatch
from g3n_ops.domain import secret
from g3n_ops.store import table
from tests.support import SECRET
from tests.unit.test_secret_lockout import (
    secret_restored,  # noqa: F401 (a fixture)
    security_audit,
    store_secret,
    weak_hash,
)


def test_the_hash_holds_no_trace_of_the_code_and_uses_the_hardened_cost():
    stored = secret.hash_secret("correct horse battery staple")
    assert "correct" not in str(stored)
    assert (stored["algorithm"], stored["n"], stored["r"], stored["p"]) == ("scrypt", 2**17, 8, 1)
    assert not secret.is_weaker_than_current(stored)


def test_matches_only_the_right_code_and_salts_differ():
    # Cheap hashes (N=2^10): what is tested is the salt and the compare, not the cost.
    first, second = weak_hash("code-number-one"), weak_hash("code-number-one")
    assert first["salt"] != second["salt"] and first["hash"] != second["hash"]
    assert secret.matches("code-number-one", first) and secret.matches("code-number-one", second)
    assert not secret.matches("code-number-two", first)
    assert secret.is_weaker_than_current(first)


def test_stored_parameters_out_of_bounds_are_refused_not_run():
    with pytest.raises(ValueError):  # 2^24 would ask for 16 GiB
        secret.matches("code-number-one", {**weak_hash("code-number-one"), "n": 2**24})


def test_initial_item_refuses_a_weak_code():
    with pytest.raises(InvalidInput):
        secret.initial_item("short")


def test_put_if_absent_never_overwrites(local_stack):
    local_stack.reset(seed=False)
    before = table.get(secret.SECRET_PK)
    assert secret.put_if_absent("another-code-entirely") is False
    assert table.get(secret.SECRET_PK) == before


@pytest.mark.slow
def test_rotation_needs_the_current_code_and_replaces_it(local_stack):
    local_stack.reset(seed=False)
    before = table.get(secret.SECRET_PK)
    with pytest.raises(SecretCodeMismatch):
        secret.rotate("not-the-code-at-all", "brand-new-code-0002")
    assert table.get(secret.SECRET_PK) == before  # nothing changed
    with pytest.raises(InvalidInput):
        secret.rotate(SECRET, "short")
    secret.rotate(SECRET, "brand-new-code-0002")
    secret.verify("brand-new-code-0002")
    with pytest.raises(SecretCodeMismatch):
        secret.verify(SECRET)
    secret.rotate("brand-new-code-0002", SECRET)  # leave the session's stack as it was


@pytest.fixture
def cheap_rotation(local_stack, secret_restored, monkeypatch):  # noqa: F811 (the fixture)
    """The current secret is SECRET at a cheap cost, and rotations hash at that cost too (what is
    tested is which write wins, not scrypt); the session's secret comes back afterwards."""
    monkeypatch.setattr(secret, "SCRYPT_N", 2**10)
    with local_stack.secret_lockout(threshold=5, window_seconds=60):
        store_secret(weak_hash(SECRET))
        yield


def after_verifying(monkeypatch, action) -> None:
    """Run ``action(code)`` right after the secret module's scrypt compare accepts ``code`` (once
    per thread), before the caller goes on."""
    original = secret.matches
    inside = threading.local()

    def matches(code: str, stored: dict) -> bool:
        right = original(code, stored)
        if right and not getattr(inside, "done", False):
            inside.done = True
            action(code)
        return right

    monkeypatch.setattr(secret, "matches", matches)


def test_concurrent_rotations_with_the_right_code_have_exactly_one_winner(cheap_rotation, monkeypatch):
    """Both verify the same current secret; then one writes, and the other's write, conditional
    on the secret it verified, fails: it never replaces the winner's secret with its own."""
    matches = secret.matches  # the compare itself, for the checks at the end
    both_verified = threading.Barrier(2, timeout=30)
    first_done = threading.Event()

    def wait_turn(_code: str) -> None:
        if both_verified.wait() == 1:  # the second to go waits until the first has written
            assert first_done.wait(timeout=30)

    after_verifying(monkeypatch, wait_turn)
    audit_before = len(security_audit())
    new_codes = ["new-code-of-rotation-0", "new-code-of-rotation-1"]
    outcomes: dict[str, str] = {}

    def rotation(new_code: str) -> None:
        try:
            secret.rotate(SECRET, new_code, by={"operation": "rotate-secret", "source": "cli"})
            outcomes[new_code] = "rotated"
        except OpsError as error:
            outcomes[new_code] = error.code
        finally:
            first_done.set()

    threads = [threading.Thread(target=rotation, args=(code,)) for code in new_codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == ["rotated", "secret-code-mismatch"]
    (winner,) = [code for code, outcome in outcomes.items() if outcome == "rotated"]
    (loser,) = set(new_codes) - {winner}
    stored = table.get(secret.SECRET_PK)
    assert matches(winner, stored)
    assert not matches(loser, stored) and not matches(SECRET, stored)
    actions = [entry["action"] for entry in security_audit()[audit_before:]]
    assert actions == ["secret-rotated"]  # the loser's code was right: no mismatch counted


def test_a_rotation_that_lands_between_verify_and_write_is_never_overwritten(cheap_rotation, monkeypatch):
    """Rotation A verifies the current code; rotation B (same current code) lands before A writes.
    A fails, saying the secret changed, and B's new secret stays."""
    b_code = "new-code-of-rotation-b"

    def rotation_b(_code: str) -> None:
        secret.rotate(SECRET, b_code, by={"operation": "rotate-secret", "source": "mcp"})

    after_verifying(monkeypatch, rotation_b)  # in A's thread; B's own compare runs undisturbed
    with pytest.raises(SecretCodeMismatch) as raised:
        secret.rotate(SECRET, "new-code-of-rotation-a", by={"operation": "rotate-secret", "source": "cli"})
    assert "changed while rotating" in str(raised.value)
    stored = table.get(secret.SECRET_PK)
    assert secret.matches(b_code, stored)
    assert not secret.matches("new-code-of-rotation-a", stored)
    secret.verify(b_code)
