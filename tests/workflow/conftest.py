"""What the workflow tests share: each runs real state machines with waits on the local stack, so
all of them are ``slow`` (``pytest -m "not slow"`` leaves them out). Their common fixtures
(``stack``, ``ops``, ``client``, ...) are tests/conftest.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:  # a conftest hook sees every item of the session, not only this folder's
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)
