"""The ``Spawner`` contract (bindery/hub/spawners/base.py), checked on every registered spawner.

Parametrised over ``SPAWNERS.names()``. Spawners are made by the composition root's
factory (:func:`bindery.composition.make_spawner_factory`), exactly as the hub makes
them; ``SETTINGS`` holds what each needs in ``[hub.spawner]`` to run here. The life
cycle runs a real server: a jupyter_server process for ``local``, a container of the
builder's default environment image on the real engine for ``docker``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from pydantic import ValidationError

from bindery.composition import Settings, make_spawner_factory
from bindery.hub.spawners.base import SPAWNERS, ProgressEvent, Spawner, SpawnRequest
from bindery.hub.spawners.settings import SpawnerSettings
from bindery.plugins import PluginOptions
from bindery.readiness import status_url, wait_until_ready

NAMES = SPAWNERS.names()
HUB_ID = f"bindery-contract-{secrets.token_hex(4)}"


def _local(tmp: Path) -> dict[str, Any]:
    return {"local_root_dir": str(tmp / "users"), "stop_grace": 3.0}


def _docker(tmp: Path) -> dict[str, Any]:
    return {"mem_limit": "512m", "cpu_limit": 1.0, "stop_grace": 2.0}


#: ``[hub.spawner]`` keys (beside ``kind``) each spawner needs to run on this machine.
SETTINGS: dict[str, Callable[[Path], dict[str, Any]]] = {"local": _local, "docker": _docker}
#: Spawners whose servers run on the real container engine.
ON_ENGINE = {"docker"}


def _params() -> list[Any]:
    return [pytest.param(name, marks=[pytest.mark.engine, pytest.mark.slow] if name in ON_ENGINE
                         else [pytest.mark.slow]) for name in NAMES]


@pytest.fixture(scope="module", autouse=True)
def _remove_what_this_run_left() -> Iterator[None]:
    """Containers of this run's hub id, should a test fail half-way."""
    yield
    if "docker" not in NAMES:
        return
    try:
        import docker

        client = docker.from_env()
        for container in client.containers.list(all=True, filters={"label": f"bindery.hub={HUB_ID}"}):
            container.remove(force=True)
    except Exception:  # noqa: BLE001 - cleanup must not hide the test's own result
        pass


def _factory(name: str, tmp_path: Path) -> Callable[[SpawnRequest], Spawner]:
    if name not in SETTINGS:
        pytest.fail(f"The spawner {name!r} is registered but SETTINGS in {__file__} does not say "
                    "how it runs here: add an entry.", pytrace=False)
    settings = Settings()
    settings.hub.hub_id = HUB_ID
    settings.hub.spawner = SpawnerSettings.model_validate(
        {"kind": name, "start_timeout": 120, **SETTINGS[name](tmp_path)})
    return make_spawner_factory(settings)


def _request(user: str) -> SpawnRequest:
    return SpawnRequest(user=user, server_name="", base_url=f"/user/{user}/",
                        api_token=secrets.token_hex(16))


@pytest.mark.parametrize("name", NAMES)
def test_hub_spawner_refuses_a_key_the_spawner_does_not_know(name: str) -> None:
    """(Name, contract and options basics: tests/contracts/test_registry.py.)"""
    with pytest.raises(ValidationError, match="surely_not_an_option"):
        SpawnerSettings.model_validate({"kind": name, "surely_not_an_option": 1})


@pytest.mark.parametrize("name", NAMES)
def test_refuses_options_of_another_type(name: str, tmp_path: Path) -> None:
    cls = SPAWNERS.load(name)
    if cls.options_model is PluginOptions:
        return
    context = SpawnerSettings(kind=name).context(HUB_ID)
    with pytest.raises(TypeError):
        cls(_request("contract-x"), PluginOptions(), context)


@pytest.mark.anyio
@pytest.mark.parametrize("name", NAMES)
async def test_a_spawner_that_never_started(name: str, tmp_path: Path) -> None:
    spawner = _factory(name, tmp_path)(_request(f"contract-{secrets.token_hex(3)}"))
    assert await spawner.poll() == 0, "0: not running, never started"
    assert spawner.get_state() == {} or json.loads(json.dumps(spawner.get_state()))
    await spawner.stop()  # stopping what never ran is fine
    assert await spawner.poll() is not None
    assert isinstance(await spawner.log_tail(), str)


@pytest.mark.anyio
@pytest.mark.parametrize("name", _params())
async def test_start_poll_state_round_trip_stop(name: str, tmp_path: Path) -> None:
    make = _factory(name, tmp_path)
    request = _request(f"contract-{secrets.token_hex(3)}")
    spawner = make(request)
    events: list[ProgressEvent] = []

    async def follow() -> None:
        async for event in spawner.progress():
            events.append(event)

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(follow)
            url = await spawner.start()
        assert url.startswith("http://127.0.0.1:"), "reachable from this machine, on loopback"
        assert all(0 <= e.progress <= 100 and e.message for e in events)
        assert await spawner.poll() is None

        # It serves Jupyter under base_url and requires the token.
        probe = status_url(url, request.base_url)
        await wait_until_ready(probe, request.api_token, timeout=120,
                               is_alive=lambda: _alive(spawner))
        async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
            assert (await http.get(probe)).status_code in (401, 403)

        # A restarted hub: a new spawner given the saved state finds the same server.
        state = json.loads(json.dumps(spawner.get_state()))
        assert state, "a running server has state to find it again"
        found = make(request)
        found.load_state(state)
        assert await found.poll() is None
        assert found.get_state() == state
        await wait_until_ready(probe, request.api_token, timeout=10)

        await found.stop()
        assert await found.poll() is not None
        assert await spawner.poll() is not None, "the original sees it gone too"
        await found.stop()  # twice is fine
        await spawner.stop()
    finally:
        with anyio.CancelScope(shield=True):
            await spawner.stop()


async def _alive(spawner: Spawner) -> bool:
    return await spawner.poll() is None
