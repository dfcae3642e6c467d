"""The secret code: scrypt at rest, constant-time compare, rotation with the current code."""

import pytest

from g3n_ops.domain import secret
from g3n_ops.errors import InvalidInput, SecretCodeMismatch
from g3n_ops.store import table
from tests.support import SECRET


def test_the_hash_holds_no_trace_of_the_code():
    stored = secret.hash_secret("correct horse battery staple")
    assert "correct" not in str(stored)
    assert stored["algorithm"] == "scrypt" and stored["n"] >= 2**14


def test_matches_only_the_right_code_and_salts_differ():
    first, second = secret.hash_secret("code-number-one"), secret.hash_secret("code-number-one")
    assert first["salt"] != second["salt"] and first["hash"] != second["hash"]
    assert secret.matches("code-number-one", first) and secret.matches("code-number-one", second)
    assert not secret.matches("code-number-two", first)


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
