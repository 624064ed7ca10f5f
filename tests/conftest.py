"""Shared test configuration. Area-specific fixtures live in tests/<area>/conftest.py."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, like the product."""
    return "asyncio"
