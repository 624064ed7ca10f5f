"""Capacity and start policy of the server manager: a burst of launches gets 429 + Retry-After.

These drive the hub's real ``ServerManager`` (real SQLite database, real readiness
probe against a loopback HTTP server); only the spawner is a stand-in whose start
the test holds open, so "starting right now" can be counted exactly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from bindery.hub.db.engine import open_database
from bindery.hub.db.models import User
from bindery.hub.metrics import HubMetrics
from bindery.hub.server_state import ServerStatus
from bindery.hub.servers import AlreadyRunning, ServerManager, StartRefused
from bindery.hub.spawners.base import Spawner, SpawnerContext, SpawnRequest
from bindery.hub.spawners.errors import SpawnerError, TooManyServers
from bindery.plugins import PluginOptions

from .conftest import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def jupyter_stand_in() -> Iterator[str]:
    """A loopback HTTP server that answers ``/api/status`` like a ready Jupyter server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path.endswith("/api/status") else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class Stage:
    """What the stand-in spawners do: wait for ``go``, fail for users in ``failing``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.go = asyncio.Event()
        self.failing: set[str] = set()
        self.running: set[str] = set()


def _spawner_class(stage: Stage) -> type[Spawner]:
    class HeldOpen(Spawner):
        name = "held-open"

        async def start(self) -> str:
            await stage.go.wait()
            if self.request.user in stage.failing:
                raise SpawnerError("The image is missing.")
            stage.running.add(self.request.user)
            return stage.url

        async def stop(self) -> None:
            stage.running.discard(self.request.user)

        async def poll(self) -> int | None:
            return None if self.request.user in stage.running else 0

    return HeldOpen


def _manager(tmp_path: Path, stage: Stage, **limits: int) -> ServerManager:
    """A server manager as the hub makes one, on the database in ``tmp_path`` (users a–e)."""
    settings = make_settings(tmp_path)
    for key, value in limits.items():
        setattr(settings.spawner, key, value)
    settings.spawner.http_timeout = 10
    cls = _spawner_class(stage)
    _, db = open_database(settings.db_url)
    with db() as s:
        known = set(s.scalars(select(User.name)))
        s.add_all(User(name=name) for name in "abcde" if name not in known)
        s.commit()

    def factory(request: SpawnRequest) -> Spawner:
        return cls(request, PluginOptions(), SpawnerContext(hub_id="test", start_timeout=10))

    return ServerManager(settings, db, None, factory, HubMetrics())


async def test_concurrent_starts_are_capped_and_released(
    tmp_path: Path, jupyter_stand_in: str
) -> None:
    stage = Stage(jupyter_stand_in)
    manager = _manager(tmp_path, stage, max_concurrent_spawns=2, retry_after=7)
    first = await manager.start("a", "", {})
    second = await manager.start("b", "", {})
    with pytest.raises(TooManyServers, match="starting right now") as info:
        await manager.start("c", "", {})
    assert info.value.retry_after == 7
    assert manager.state("c", "").status is ServerStatus.STOPPED
    stage.go.set()
    assert await first.finished(10) and await second.finished(10)
    assert first.failure is None and manager.state("a", "").status is ServerStatus.RUNNING
    third = await manager.start("c", "", {})  # slots are free again
    assert await third.finished(10) and third.failure is None


async def test_active_server_limit_counts_starts_under_way(
    tmp_path: Path, jupyter_stand_in: str
) -> None:
    stage = Stage(jupyter_stand_in)
    stage.go.set()
    manager = _manager(
        tmp_path, stage, max_concurrent_spawns=10, max_active_servers=2, retry_after=30
    )
    assert await (await manager.start("a", "", {})).finished(10)
    stage.go.clear()
    starting = await manager.start("b", "", {})
    with pytest.raises(TooManyServers, match="maximum of 2 servers") as info:
        await manager.start("c", "", {})
    assert info.value.retry_after == 30
    assert await manager.stop("a", "")
    stage.go.set()
    assert await starting.finished(10)
    assert await (await manager.start("c", "", {})).finished(10)
    assert manager.count_running() == 2


async def test_failed_start_releases_its_slot_and_says_why(
    tmp_path: Path, jupyter_stand_in: str
) -> None:
    stage = Stage(jupyter_stand_in)
    stage.go.set()
    stage.failing.add("a")
    manager = _manager(tmp_path, stage, max_concurrent_spawns=1, max_active_servers=1)
    failed = await manager.start("a", "", {})
    assert await failed.finished(10)
    assert failed.failure == "The image is missing."
    state = manager.state("a", "")
    assert state.status is ServerStatus.STOPPED and state.failure == "The image is missing."
    events = [event async for event in manager.progress("a", "")]
    assert (
        events[0].progress == 0 and events[-1].failed and "image is missing" in events[-1].message
    )
    assert await (await manager.start("b", "", {})).finished(10)
    assert manager.count_running() == 1


async def test_the_same_server_joins_its_start_under_way(
    tmp_path: Path, jupyter_stand_in: str
) -> None:
    stage = Stage(jupyter_stand_in)
    manager = _manager(tmp_path, stage, max_concurrent_spawns=1)
    first = await manager.start("a", "", {})
    assert await manager.start("a", "", {}) is first  # not new load, not a second start
    stage.go.set()
    assert await first.finished(10)
    with pytest.raises(AlreadyRunning, match="already running"):
        await manager.start("a", "", {})
    late = [event.as_json() for event in [e async for e in first.events.follow()]]
    assert late[0] == {"progress": 0, "message": "Server requested"}
    assert late[-1]["ready"] is True and late[-1]["url"] == "/user/a/"


async def test_zero_means_no_active_limit_and_a_restarted_hub_counts_what_it_found(
    tmp_path: Path, jupyter_stand_in: str
) -> None:
    stage = Stage(jupyter_stand_in)
    stage.go.set()
    manager = _manager(tmp_path, stage, max_concurrent_spawns=10, max_active_servers=0)
    for name in ("a", "b", "c"):
        assert await (await manager.start(name, "", {})).finished(10)
    assert manager.count_running() == 3
    # A new hub on the same database finds the running servers and counts them.
    again = _manager(tmp_path, stage, max_concurrent_spawns=10, max_active_servers=3)
    assert await again.reconcile() == {"running": 3, "stopped": 0, "leftovers_removed": 0}
    with pytest.raises(TooManyServers, match="maximum of 3 servers"):
        await again.start("d", "", {})


async def test_start_policy_refuses_with_reasons(tmp_path: Path, jupyter_stand_in: str) -> None:
    stage = Stage(jupyter_stand_in)
    manager = _manager(tmp_path, stage)
    with pytest.raises(StartRefused, match="not allowed here"):
        await manager.start("a", "", {"image": "evil/miner:latest"})
    manager.settings.named_server_limit_per_user = 1
    stage.go.set()
    assert await (await manager.start("a", "one", {})).finished(10)
    with pytest.raises(StartRefused, match="maximum of 1 named servers"):
        await manager.start("a", "two", {})
    manager.settings.allow_named_servers = False
    with pytest.raises(StartRefused, match="Named servers are not enabled"):
        await manager.start("b", "one", {})
