"""LocalProcessSpawner against a real jupyter_server process on loopback."""

from __future__ import annotations

import os
import signal
import subprocess

import anyio
import httpx
import psutil
import pytest

from bindery.hub.spawners.base import SPAWNERS, Spawner, SpawnRequest
from bindery.hub.spawners.errors import SpawnerError, SpawnTimeout
from bindery.hub.spawners.local import LocalProcessSpawner
from bindery.plugins import PluginError
from bindery.readiness import status_url, wait_until_ready

from .conftest import changed, local_spawner

pytestmark = pytest.mark.anyio


def _request(token: str, user: str = "alice", server: str = "") -> SpawnRequest:
    base = f"/user/{user}/" + (f"{server}/" if server else "")
    return SpawnRequest(user=user, server_name=server, base_url=base, api_token=token)


async def _ready(spawner: Spawner, url: str, base_url: str, token: str, timeout: float = 60) -> None:
    """The hub's readiness wait, ending early if the server dies."""
    async def alive() -> bool:
        return await spawner.poll() is None

    await wait_until_ready(status_url(url, base_url), token, timeout, alive)


async def _get(url: str, token: str | None = None) -> httpx.Response:
    """One request from a fresh client: no login cookie carried over from earlier ones."""
    headers = {"Authorization": f"token {token}"} if token else {}
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.get(url, headers=headers)


async def test_local_server_answers_with_token_only(local_settings, token) -> None:
    spawner = local_spawner(local_settings, _request(token))
    url = await spawner.start()
    try:
        assert url.startswith("http://127.0.0.1:")
        await _ready(spawner, url, "/user/alice/", token)
        ok = await _get(f"{url}/user/alice/api/status", token)
        anonymous = await _get(f"{url}/user/alice/api/status")
        wrong = await _get(f"{url}/user/alice/api/status", "not-the-token")
        assert ok.status_code == 200 and "started" in ok.json()
        assert anonymous.status_code == 403
        assert wrong.status_code == 403
        # The user's directory is where the server works.
        assert (local_settings.options.local_root_dir / "alice").is_dir()
        # The token is not visible to other local users through the process list.
        cmdline = " ".join(psutil.Process(spawner.pid).cmdline())
        assert token not in cmdline
        assert "--ServerApp.base_url=/user/alice/" in cmdline
    finally:
        await spawner.stop()
    assert await spawner.poll() == 0
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/user/alice/api/status")


async def test_poll_reports_a_killed_server(local_settings, token) -> None:
    spawner = local_spawner(local_settings, _request(token, "bob"))
    await spawner.start()
    try:
        assert await spawner.poll() is None
        os.kill(spawner.pid, signal.SIGKILL)
        spawner._process.wait(timeout=10)  # let the kernel deliver the signal
        assert await spawner.poll() == -signal.SIGKILL
    finally:
        await spawner.stop()  # must succeed although the server is already gone


async def test_state_round_trip_finds_the_process_after_hub_restart(local_settings, token) -> None:
    first = local_spawner(local_settings, _request(token, "carol", "proj"))
    url = await first.start()
    state = first.get_state()
    pid = first.pid
    # A "restarted hub": a new instance knows only the saved state.
    second = local_spawner(local_settings, _request(token, "carol", "proj"))
    assert await second.poll() == 0  # knows nothing yet
    second.load_state(state)
    assert await second.poll() is None
    assert second.url == url
    await wait_until_ready(status_url(second.url, "/user/carol/proj/"), token, 60)
    await second.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    first._process.wait(timeout=5)  # reap: the first instance is the OS parent
    # The old instance's state now points at a dead process.
    third = local_spawner(local_settings, _request(token, "carol", "proj"))
    third.load_state(state)
    assert await third.poll() == 1


async def test_recycled_pid_is_not_mistaken_for_the_server(local_settings, token) -> None:
    """A state whose pid now belongs to another process (different start time) is 'gone'."""
    other = subprocess.Popen(["sleep", "30"])  # noqa: ASYNC220 - a bystander process, started once
    try:
        spawner = local_spawner(local_settings, _request(token, "dave"))
        spawner.load_state({"pid": other.pid, "port": 1, "create_time": 1.0})
        assert await spawner.poll() == 1
        await spawner.stop()
        assert other.poll() is None, "stop must not kill a process that is not the server"
    finally:
        other.kill()
        other.wait()


async def test_progress_events_describe_the_start(local_settings, token) -> None:
    spawner = local_spawner(local_settings, _request(token, "erin"))
    await spawner.start()
    try:
        events = [event async for event in spawner.progress()]
    finally:
        await spawner.stop()
    messages = [e.message for e in events]
    assert any("Starting" in m for m in messages)
    assert any("running" in m for m in messages)
    assert [e.progress for e in events] == sorted(e.progress for e in events)


async def test_broken_command_gives_a_clear_error(local_settings, token) -> None:
    settings = changed(local_settings, local_command=["/nonexistent/jupyter"])
    spawner = local_spawner(settings, _request(token, "frank"))
    with pytest.raises(SpawnerError, match="Could not run the Jupyter command"):
        await spawner.start()


async def test_server_exiting_at_once_reports_its_log(local_settings, token) -> None:
    settings = changed(
        local_settings, local_command=["python3", "-c", "import sys; print('boom'); sys.exit(3)"]
    )
    spawner = local_spawner(settings, _request(token, "gina"))
    with pytest.raises(SpawnerError, match=r"(?s)status 3.*boom"):
        await spawner.start()
    assert await spawner.poll() == 0


async def test_hub_secrets_do_not_reach_the_server(local_settings, token, monkeypatch) -> None:
    monkeypatch.setenv("BINDERY_HUB__COOKIE_SECRET", "hub-secret-value")
    spawner = local_spawner(local_settings, _request(token, "hank"))
    env = spawner._environment()
    assert "BINDERY_HUB__COOKIE_SECRET" not in env
    assert env["JUPYTER_TOKEN"] == token


def test_registry_finds_the_local_spawner_and_rejects_unknown_names() -> None:
    assert SPAWNERS.load("local") is LocalProcessSpawner
    with pytest.raises(PluginError, match="No spawner named 'kubernetes'"):
        SPAWNERS.load("kubernetes")


def test_user_names_cannot_escape_the_root(local_settings, token) -> None:
    spawner = local_spawner(local_settings, _request(token, "../../etc"))
    assert spawner.root_dir.parent == local_settings.options.local_root_dir
    assert ".." not in spawner.root_dir.name.split("/")


async def test_a_server_that_never_listens_times_out_and_is_stopped(local_settings, token) -> None:
    settings = changed(local_settings, local_command=["sh", "-c", "sleep 60", "--"], start_timeout=1.0)
    spawner = local_spawner(settings, _request(token, "ivan"))
    with pytest.raises(SpawnTimeout, match="did not start listening within 1 s"):
        await spawner.start()
    assert await spawner.poll() == 0


async def test_a_cancelled_start_leaves_no_process_behind(local_settings, token) -> None:
    marker = f"bindery-test-cancel-{token[:8]}"
    settings = changed(
        local_settings, local_command=["python3", "-c", "import time; time.sleep(60)", marker]
    )
    spawner = local_spawner(settings, _request(token, "judy"))
    with anyio.move_on_after(1.0):  # e.g. the hub's own timeout, or the user pressing stop
        await spawner.start()

    def survivors() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]

    assert survivors() == []
    assert await spawner.poll() == 0
