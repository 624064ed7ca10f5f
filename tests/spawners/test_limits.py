"""Limit settings of spawners are checked at start-up, with a message that says what to write.

How the hub enforces the capacity limits is tested through its server manager in
``tests/hub/test_capacity.py``.
"""

from __future__ import annotations

import pytest

from bindery.hub.spawners.settings import SpawnerSettings


def test_bad_limit_settings_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="cpu_limit must be greater than 0"):
        SpawnerSettings(cpu_limit=0)
    with pytest.raises(ValueError, match="not a size such as '512m'"):
        SpawnerSettings(mem_limit="lots")
    with pytest.raises(ValueError, match="minimum of 6m"):
        SpawnerSettings(mem_limit="100")
    with pytest.raises(ValueError, match="at least 1"):
        SpawnerSettings(max_concurrent_spawns=0)
