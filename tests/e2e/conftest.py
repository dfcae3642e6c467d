"""Fixtures the end-to-end tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend():
    """The MCP tests (``pytest.mark.anyio``) run on asyncio only."""
    return "asyncio"
