"""What every test folder shares: the embedded local stack (``local_stack``, started once per test
process on a free port) and the fixtures that prepare it for one test: ``seeded``, ``stack`` and
``ops``; ``client`` talks to it. A folder's own shared fixtures are in its conftest.py."""

from __future__ import annotations

import gc
import os
import random
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import botocore.retryhandler
import pytest
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from g3n_ops.observability import logger
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.local import LocalStack
from tests.maintenance_support import stop_running_executions
from tests.support import SECRET
from tests.vacuum_support import stop_vacuum_executions

# The longest files first: with ``--dist loadfile`` each file goes whole to the next free worker,
# so a long file started last leaves one worker running alone at the end. Files holding a ``slow``
# test go first (in this folder order: unit holds the longest, the 65 s fuzz), then the quick ones
# fill the gaps. xdist would reorder the files by their number of tests, which sent the fuzz file
# (2 tests) last: the Makefile turns that off (``--no-loadscope-reorder``; the workers then ended
# 6 s apart rather than 22 s).
FOLDER_ORDER = {"unit": 0, "workflow": 1, "e2e": 2, "infra": 3}


# A test process holds millions of objects (moto's backends, botocore's models, ASL parse trees)
# and allocates fast: at Python's default thresholds each worker ran ~20 full collections, 4-6 s
# of CPU, to free little. Collections every 50,000 allocations, rarely of the older generations:
# the fast loop takes 14% less CPU (118 s against 138 s, interleaved runs), and a worker of the
# whole suite peaks at ~700 MB.
GC_THRESHOLDS = (50_000, 50, 100)


def pytest_configure(config):
    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_modifyitems(items):
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(
        key=lambda item: (
            item.path not in slow_files,
            FOLDER_ORDER.get(item.path.parent.name, len(FOLDER_ORDER)),
        )
    )


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


def _reset(local_stack, monkeypatch, *, seed: bool) -> dict | None:
    manifest = local_stack.reset(seed=seed)
    monkeypatch.setenv("G3N_OPS_ENDPOINT_URL", local_stack.endpoint_url)
    monkeypatch.delenv("G3N_OPS_SECRET_CODE", raising=False)
    return manifest


@pytest.fixture
def seeded(local_stack, monkeypatch) -> dict:
    """A freshly reset and seeded local stack; returns the seed manifest. The CLI points at it."""
    return _reset(local_stack, monkeypatch, seed=True)


@pytest.fixture
def stack(request, local_stack, monkeypatch) -> Iterator[dict | None]:
    """The stack a test runs OPS end to end on: ``seeded``, then tidied up afterwards (no vacuum or
    maintenance execution of this test may wake up inside the next). Returns the seed manifest.

    Variants, by marker on the test or module (``pytestmark``):
    ``@pytest.mark.stack(seed=False)``: reset empty instead (returns None);
    ``@pytest.mark.stack(env={"VACUUM_CHUNK_ITEMS": "50"})``: set variables for the test, e.g. the
    tuning the functions read on each call (they run in this process)."""
    marker = request.node.get_closest_marker("stack")
    options = marker.kwargs if marker else {}
    manifest = _reset(local_stack, monkeypatch, seed=options.get("seed", True))
    for variable, value in options.get("env", {}).items():
        monkeypatch.setenv(variable, value)
    yield manifest
    stop_vacuum_executions()
    stop_running_executions()


@pytest.fixture
def ops(local_stack, monkeypatch) -> Iterator[OpsClient]:
    """A client on a freshly reset (unseeded) local stack, the CLI pointed at it too; afterwards no
    maintenance execution is left running."""
    _reset(local_stack, monkeypatch, seed=False)
    yield OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))
    stop_running_executions()


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


@pytest.fixture
def ops_log_level() -> Iterator[Callable[[str], None]]:
    """``ops_log_level("ERROR")``: OPS's log level for this test only. Powertools' ``setLevel``
    sets the process's logger, which a monkeypatched ``logger.level`` does not restore: a fuzz
    test once left every later test of its worker without OPS's warnings."""
    previous = logger.log_level
    yield logger.setLevel
    logger.setLevel(previous)
