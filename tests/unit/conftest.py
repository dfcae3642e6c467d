"""Fixtures the unit tests share."""

from __future__ import annotations

import pytest

from g3n_ops.contract.registry import Registry
from g3n_ops_client.local.provision import registry_template
from tests.unit.test_guard import put_state


@pytest.fixture
def registry() -> Registry:
    """The catalogue the local stack provisions, for stage dev (no AWS call)."""
    return Registry.from_template(registry_template(), stage="dev", account="111122223333")


@pytest.fixture
def state_item(local_stack):
    """The guard's state item on the running stack, without a reset: each test writes the state it
    needs, and the item is put back to "no maintenance" afterwards."""
    yield
    put_state({"active": False})
