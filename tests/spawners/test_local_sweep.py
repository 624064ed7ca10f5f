"""Servers a killed hub started but never recorded (the local spawner's processes).

A hub killed in the middle of a start leaves a server process no database row names
(``benchmarks/chaos.py`` counted them). At its next start the hub asks the spawner to sweep
them: processes of this user that lead their own session and carry this hub's mark,
for servers the database does not know. Real processes, real signals.
"""

from __future__ import annotations

import os
import subprocess
import time

from bindery.hub.spawners.base import SpawnerContext
from bindery.hub.spawners.local import LocalProcessSpawner, LocalSpawnerOptions


def _server_like(hub_id: str, user: str, instance: str = "db-1") -> subprocess.Popen[bytes]:
    env = {**os.environ, "BINDERY_HUB_ID": hub_id, "BINDERY_USER": user,
           "BINDERY_SERVER_NAME": "", "BINDERY_HUB_INSTANCE": instance}
    return subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)


def test_unrecorded_servers_of_this_hub_are_stopped_and_nothing_else() -> None:
    hub_id = f"sweep-test-{os.getpid()}"
    orphan = _server_like(hub_id, "ghost")
    known = _server_like(hub_id, "alice")
    other_hub = _server_like(hub_id + "-other", "ghost")
    neighbour = _server_like(hub_id, "ghost", instance="db-2")  # same hub_id, other instance
    try:
        time.sleep(0.2)  # the environment is readable once exec'd
        removed = LocalProcessSpawner.sweep_leftovers(
            {("alice", "")}, LocalSpawnerOptions(stop_grace=1.0),
            SpawnerContext(hub_id=hub_id, start_timeout=10, instance="db-1"))
        assert removed == ["ghost/"]
        assert orphan.wait(5) is not None
        assert known.poll() is None and other_hub.poll() is None and neighbour.poll() is None
        # Without an instance identity nothing is swept at all.
        assert LocalProcessSpawner.sweep_leftovers(
            set(), LocalSpawnerOptions(), SpawnerContext(hub_id=hub_id, start_timeout=10)) == []
        assert known.poll() is None
    finally:
        for proc in (orphan, known, other_hub, neighbour):
            proc.kill()
            proc.wait()
