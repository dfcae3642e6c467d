"""The secret code: scrypt at rest, constant-time compare, rotation with the current code."""

import pytest

from g3n_ops.domain import secret
from g3n_ops.errors import InvalidInput, SecretCodeMismatch
from g3n_ops.store import table
from tests.support import SECRET
from tests.unit.test_secret_lockout import weak_hash


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
