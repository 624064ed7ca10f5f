"""Fixtures of the spawner tests: settings pointing at a temporary root, a token."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from bindery.hub.spawners.settings import SpawnerSettings


@pytest.fixture
def token() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def local_settings(tmp_path: Path) -> SpawnerSettings:
    """Local spawner settings: servers under a per-test root, short grace."""
    return SpawnerSettings(kind="local", local_root_dir=tmp_path / "users", stop_grace=3.0,
                           start_timeout=60.0)
