"""The embedded local stack, started once per test process on a free port."""

from __future__ import annotations

import os
import random
import time
from types import SimpleNamespace

import botocore.retryhandler
import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.local import LocalStack
from tests.support import SECRET

# The slowest folders first: with ``--dist loadfile`` each file goes whole to the next free worker,
# so long files started last leave one worker running alone at the end.
FOLDER_ORDER = {"workflow": 0, "e2e": 1, "unit": 2, "infra": 3}


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: FOLDER_ORDER.get(item.path.parent.name, len(FOLDER_ORDER)))


@pytest.fixture(scope="session")
def local_stack():
    # A short guard TTL and probe margin: windows take effect (and are proven to) in seconds.
    # IAM enforced as deployed (a missing grant fails the test that needs it, as AWS would);
    # G3N_OPS_LOCAL_IAM=soft lists every refusal of a run without failing it.
    stack = LocalStack(
        port=0,
        pending_seconds=2,
        secret_code=SECRET,
        guard_ttl_seconds=3,
        probe_margin_seconds=5,
        iam=os.environ.get("G3N_OPS_LOCAL_IAM", "enforce"),
    )
    stack.start(seed=False)
    yield stack
    stack.stop()


@pytest.fixture
def seeded(local_stack, monkeypatch) -> dict:
    """A freshly reset and seeded local stack; returns the seed manifest. The CLI points at it."""
    manifest = local_stack.reset(seed=True)
    monkeypatch.setenv("G3N_OPS_ENDPOINT_URL", local_stack.endpoint_url)
    monkeypatch.delenv("G3N_OPS_SECRET_CODE", raising=False)
    return manifest


@pytest.fixture
def client(local_stack) -> OpsClient:
    return OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))


@pytest.fixture
def compressed_retry_waits(monkeypatch):
    """Every retry wait 50 times shorter, nothing else changed: the state machine's Retry
    (1 s doubling to 60 s, on the local interpreter) and botocore's own retries (legacy mode, the
    handlers' clients). Fault tests then spend seconds where a real account would spend minutes."""
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=lambda seconds: time.sleep(seconds / 50)))
    monkeypatch.setattr(botocore.retryhandler, "random", SimpleNamespace(random=lambda: random.random() / 50))
