"""SpawnLimiter: the hub's answer to a burst of launches is 429 + Retry-After."""

from __future__ import annotations

import pytest

from bindery.hub.spawners import SpawnLimiter, TooManyServers
from bindery.hub.spawners.settings import SpawnerSettings


def test_concurrent_spawns_are_capped_and_released() -> None:
    limiter = SpawnLimiter(max_concurrent_spawns=2, retry_after=7)
    with limiter.spawning("a/"), limiter.spawning("b/"):
        assert limiter.pending_count == 2
        with pytest.raises(TooManyServers) as info, limiter.spawning("c/"):
            pass
        assert info.value.retry_after == 7
        assert "starting right now" in str(info.value)
    assert limiter.pending_count == 0 and limiter.active_count == 2
    with limiter.spawning("c/"):  # slots are free again
        pass


def test_active_server_limit_counts_pending_spawns() -> None:
    limiter = SpawnLimiter(max_concurrent_spawns=10, max_active_servers=2, retry_after=30)
    with limiter.spawning("a/"):
        pass
    with limiter.spawning("b/"):
        with pytest.raises(TooManyServers, match="hub is full") as info:
            limiter.check("c/")
        assert info.value.retry_after == 30
    limiter.stopped("a/")
    with limiter.spawning("c/"):
        pass
    assert limiter.active_count == 2


def test_failed_start_releases_its_slot_without_counting_as_active() -> None:
    limiter = SpawnLimiter(max_concurrent_spawns=1, max_active_servers=1)
    with pytest.raises(RuntimeError), limiter.spawning("a/"):
        raise RuntimeError("image missing")
    assert limiter.pending_count == 0 and limiter.active_count == 0
    with limiter.spawning("b/"):
        pass


def test_restarting_a_running_server_is_not_new_load() -> None:
    limiter = SpawnLimiter(max_active_servers=1)
    with limiter.spawning("a/"):
        pass
    limiter.check("a/")  # the same server again: allowed
    with pytest.raises(TooManyServers):
        limiter.check("b/")


def test_the_same_server_cannot_start_twice_at_once() -> None:
    limiter = SpawnLimiter(max_concurrent_spawns=5)
    with (
        limiter.spawning("a/"),
        pytest.raises(TooManyServers, match="already starting"),
        limiter.spawning("a/"),
    ):
        pass
    assert limiter.active_count == 1


def test_zero_means_no_active_limit_and_reconciliation_replaces_the_set() -> None:
    limiter = SpawnLimiter.from_settings(SpawnerSettings(max_active_servers=0))
    for index in range(50):
        with limiter.spawning(f"u{index}/"):
            pass
    limiter.set_active(["x/", "y/"])  # what a restarted hub found running
    assert limiter.active_count == 2


def test_bad_limit_settings_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="cpu_limit must be greater than 0"):
        SpawnerSettings(cpu_limit=0)
    with pytest.raises(ValueError, match="not a size such as '512m'"):
        SpawnerSettings(mem_limit="lots")
    with pytest.raises(ValueError, match="minimum of 6m"):
        SpawnerSettings(mem_limit="100")
    with pytest.raises(ValueError, match="at least 1"):
        SpawnerSettings(max_concurrent_spawns=0)
