"""Who bounds a server's start: the hub, unless the spawner says it does so itself."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bindery.hub.app import Hub, build_app
from bindery.hub.spawners.base import SpawnRequest
from bindery.hub.spawners.local import LocalProcessSpawner
from bindery.hub.tokens import create_token

from .conftest import make_settings

#: The start timeout; long enough for a real local server to start listening.
TIMEOUT = 8


class SlowToPrepare(LocalProcessSpawner):
    """A real local server that first prepares for longer than the start timeout
    (as the Docker spawner does while it builds the default image)."""

    async def start(self) -> str:
        await asyncio.sleep(TIMEOUT + 2)
        return await super().start()


class SlowToPrepareEnforcing(SlowToPrepare):
    enforces_start_timeout = True


def _spawn(tmp_path: Path, cls: type[LocalProcessSpawner]) -> list[dict]:
    settings = make_settings(tmp_path)
    settings.spawner.start_timeout = TIMEOUT
    settings.slow_spawn_timeout = 0

    def factory(request: SpawnRequest) -> LocalProcessSpawner:
        return cls(request, settings.spawner.options, settings.spawner.context(settings.hub_id))

    hub = Hub(settings, proxy=False, spawner_factory=factory)
    with TestClient(build_app(hub), base_url="http://127.0.0.1") as client:
        with hub.db() as s:
            token, _ = create_token(s, service="test-admin", scopes=["admin"])
            s.commit()
        headers = {"Authorization": f"token {token}"}
        name = "u" + secrets.token_hex(3)
        client.post(f"/hub/api/users/{name}", headers=headers)
        client.post(f"/hub/api/users/{name}/server", headers=headers)
        with client.stream(
            "GET", f"/hub/api/users/{name}/server/progress", headers=headers
        ) as stream:
            events = [
                json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")
            ]
        client.delete(f"/hub/api/users/{name}/server", headers=headers)
    return events


@pytest.mark.slow
def test_hub_bounds_the_start_of_an_ordinary_spawner(tmp_path: Path) -> None:
    events = _spawn(tmp_path, SlowToPrepare)
    assert events[-1].get("failed") is True
    assert f"did not start within {TIMEOUT} s" in events[-1]["message"]


@pytest.mark.slow
def test_spawner_that_enforces_its_own_timeout_may_prepare_longer(tmp_path: Path) -> None:
    events = _spawn(tmp_path, SlowToPrepareEnforcing)
    assert events[-1].get("ready") is True, events[-1]
