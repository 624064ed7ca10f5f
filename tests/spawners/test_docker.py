"""DockerSpawner on the real engine with a real JupyterLab image."""

from __future__ import annotations

import anyio
import docker.errors
import httpx
import pytest

from bindery.hub.spawners.base import SPAWNERS, Spawner, SpawnRequest
from bindery.hub.spawners.docker import DockerSpawner
from bindery.hub.spawners.errors import ImageNotAllowed, SpawnerError
from bindery.hub.spawners.naming import container_name, home_volume_name
from bindery.hub.spawners.settings import SpawnerSettings
from bindery.readiness import NotReady, status_url, wait_until_ready

from .conftest import changed

pytestmark = pytest.mark.anyio


def _request(user: str, token: str, server: str = "", image: str | None = None) -> SpawnRequest:
    base = f"/user/{user}/" + (f"{server}/" if server else "")
    return SpawnRequest(user=user, server_name=server, base_url=base, api_token=token, image=image)


async def _ready(spawner: Spawner, url: str, base_url: str, token: str, timeout: float = 60) -> None:
    """The hub's readiness wait, ending early if the server dies."""
    async def alive() -> bool:
        return await spawner.poll() is None

    await wait_until_ready(status_url(url, base_url), token, timeout, alive)


def _containers(docker_engine, *labels: str) -> list:
    """Containers (running or not) carrying all ``labels`` ("key=value")."""
    return docker_engine.containers.list(all=True, filters={"label": list(labels)})


async def _get(url: str, token: str | None = None) -> httpx.Response:
    """A fresh client each time: no login cookie carried over from earlier requests."""
    headers = {"Authorization": f"token {token}"} if token else {}
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.get(url, headers=headers)


@pytest.mark.engine
async def test_server_runs_limited_labelled_and_on_loopback_only(
    docker_engine, docker_settings, docker_spawner, hub_id, user_name, token
) -> None:
    spawner = docker_spawner(docker_settings, _request(user_name, token, "proj"))
    url = await spawner.start()
    try:
        base = f"/user/{user_name}/proj/"
        await _ready(spawner, url, base, token, 60)
        assert (await _get(f"{url}{base}api/status", token)).status_code == 200
        assert (await _get(f"{url}{base}api/status")).status_code == 403

        container = docker_engine.containers.get(spawner.container_id)
        assert container.name == f"bindery-{user_name}-proj"
        bindings = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
        assert url == f"http://127.0.0.1:{bindings[0]['HostPort']}"

        host = container.attrs["HostConfig"]
        assert host["Memory"] == 512 * 1024**2
        assert host["MemorySwap"] == 512 * 1024**2  # no swap on top of the limit
        assert host["NanoCpus"] == 500_000_000
        assert host["PidsLimit"] == 128
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        # The kernel really enforces them (cgroup v1 files as seen inside the container).
        mem = container.exec_run(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
        assert mem.output.decode().strip() == str(512 * 1024**2)
        pids = container.exec_run(["cat", "/sys/fs/cgroup/pids/pids.max"])
        assert pids.output.decode().strip() == "128"
        assert container.exec_run(["id", "-u"]).output.decode().strip() == "1000"

        assert container.labels["bindery.hub"] == hub_id
        assert container.labels["bindery.user"] == user_name
        assert container.labels["bindery.server"] == "proj"
        # The token is in the environment only, not in the command line (ps).
        assert token not in " ".join(container.attrs["Config"]["Cmd"])
    finally:
        await spawner.stop()
    with pytest.raises(docker.errors.NotFound):
        docker_engine.containers.get(container.id)
    assert await spawner.poll() == 0


@pytest.mark.engine
async def test_restarted_hub_finds_and_stops_its_server(
    docker_engine, docker_settings, docker_spawner, hub_id, user_name, token
) -> None:
    first = docker_spawner(docker_settings, _request(user_name, token))
    url = await first.start()
    try:
        # "Hub restart": nothing but the engine, the hub id and the saved state survive.
        state = first.get_state()
        second = docker_spawner(docker_settings, _request(user_name, token))
        assert await second.poll() == 0  # knows nothing yet
        second.load_state(state)
        assert await second.poll() is None
        assert second.url == url
        await wait_until_ready(status_url(url, f"/user/{user_name}/"), token, 60)
        # Exactly one container for this server: found again, not started twice.
        mine = _containers(docker_engine, f"bindery.hub={hub_id}", f"bindery.user={user_name}")
        assert [c.id for c in mine] == [state["container_id"]]
        assert mine[0].name.startswith("bindery-")

        # Another hub on the same engine leaves this hub's server alone.
        other = docker_spawner(docker_settings, _request(user_name, token), hub="some-other-hub")
        assert await other.poll() == 0
        with pytest.raises(SpawnerError, match="does not belong to this hub"):
            await other.start()
        assert await second.poll() is None
        assert _containers(docker_engine, "bindery.hub=some-other-hub", f"bindery.user={user_name}") == []

        await second.stop()
        assert await second.poll() == 0
        assert _containers(docker_engine, f"bindery.hub={hub_id}", f"bindery.user={user_name}") == []
        assert await first.poll() == 0  # the old instance sees it gone as well
    finally:
        await first.stop()


@pytest.mark.engine
async def test_persistent_home_keeps_files_across_restarts(
    docker_engine, docker_settings, docker_spawner, hub_id, user_name, token
) -> None:
    settings = changed(docker_settings, persistent_home=True)
    spawner = docker_spawner(settings, _request(user_name, token))
    await spawner.start()
    try:
        container = docker_engine.containers.get(spawner.container_id)
        wrote = container.exec_run(["sh", "-c", "echo kept > /home/jovyan/notes.txt"])
        assert wrote.exit_code == 0, wrote.output
        await spawner.stop()

        again = docker_spawner(settings, _request(user_name, token))
        url = await again.start()
        try:
            await wait_until_ready(status_url(url, f"/user/{user_name}/"), token, 60)
            # Seen through Jupyter's own contents API, as the user's file browser would.
            response = await _get(f"{url}/user/{user_name}/api/contents/notes.txt", token)
            assert response.status_code == 200
            assert response.json()["content"].strip() == "kept"
        finally:
            await again.stop()
    finally:
        await spawner.stop()
    assert docker_engine.volumes.get(home_volume_name(user_name)).attrs["Labels"]["bindery.hub"] == hub_id


@pytest.mark.engine
async def test_without_persistent_home_files_are_gone_after_restart(  # bindery serve's choice
    docker_engine, docker_settings, docker_spawner, user_name, token
) -> None:
    spawner = docker_spawner(docker_settings, _request(user_name, token))
    await spawner.start()
    try:
        container = docker_engine.containers.get(spawner.container_id)
        container.exec_run(["sh", "-c", "echo lost > /home/jovyan/notes.txt"])
        await spawner.stop()
        await spawner.start()
        container = docker_engine.containers.get(spawner.container_id)
        assert container.exec_run(["test", "-e", "/home/jovyan/notes.txt"]).exit_code == 1
    finally:
        await spawner.stop()


async def test_disallowed_image_is_refused_before_anything_runs(token) -> None:
    settings = SpawnerSettings(image="bindery-test-spawner:1", allowed_images=["bindery-r/*"])
    # No engine at all: the refusal needs none.
    spawner = DockerSpawner(_request("mallory", token, image="alpine:latest"), settings.options,
                            settings.context("x"))
    with pytest.raises(ImageNotAllowed, match=r"'alpine:latest' is not allowed.*bindery-r/\*"):
        await spawner.start()
    assert spawner.get_state() == {}
    events = [e.message async for e in spawner.progress()]
    assert events == ["Choosing the image"]


@pytest.mark.engine
async def test_allowed_pattern_admits_an_image(
    docker_engine, docker_settings, docker_spawner, user_name, token, spawner_image
) -> None:
    """An image matching ``allowed_images`` runs; one missing from the machine gives a clear error."""
    settings = changed(docker_settings, image=None, allowed_images=["bindery-test-*"])
    spawner = docker_spawner(settings, _request(user_name, token, image="bindery-test-missing:9"))
    with pytest.raises(SpawnerError, match="not on this machine"):
        await spawner.start()
    ok = docker_spawner(settings, _request(user_name, token, image=spawner_image))
    await ok.start()
    try:
        assert docker_engine.containers.get(ok.container_id).image.tags == [spawner_image]
    finally:
        await ok.stop()


@pytest.mark.engine
async def test_server_that_dies_is_noticed_with_its_log_and_stop_leaves_nothing(
    docker_engine, docker_settings, docker_spawner, user_name, token
) -> None:
    settings = changed(
        docker_settings, server_command=["sh", "-c", "sleep 1; echo cannot start jupyter >&2; exit 3", "--"]
    )
    spawner = docker_spawner(settings, _request(user_name, token))
    url = await spawner.start()  # the container runs for a second...
    with pytest.raises(NotReady, match="exited before it answered"):
        # ...and the hub's readiness wait notices at once that it died.
        await _ready(spawner, url, f"/user/{user_name}/", token, 30)
    assert await spawner.poll() == 3
    assert "cannot start jupyter" in await spawner.log_tail()
    await spawner.stop()
    with pytest.raises(docker.errors.NotFound):
        docker_engine.containers.get(container_name(user_name))
    assert await spawner.poll() == 0


@pytest.mark.engine
async def test_a_strangers_container_with_our_name_is_not_touched(
    docker_engine, docker_settings, docker_spawner, user_name, token, spawner_image
) -> None:
    stranger = docker_engine.containers.create(
        spawner_image, ["sleep", "60"], name=container_name(user_name),
        labels={"bindery.test": "spawners"},
    )
    try:
        spawner = docker_spawner(docker_settings, _request(user_name, token))
        with pytest.raises(SpawnerError, match="does not belong to this hub"):
            await spawner.start()
        stranger.reload()  # still there
    finally:
        stranger.remove(force=True)


@pytest.mark.engine
async def test_progress_tells_the_steps(docker_settings, docker_spawner, user_name, token) -> None:
    spawner = docker_spawner(docker_settings, _request(user_name, token))
    await spawner.start()
    try:
        events = [e async for e in spawner.progress()]
    finally:
        await spawner.stop()
    messages = " | ".join(e.message for e in events)
    for step in ("Creating", "Starting the container", "waiting for the server"):
        assert step in messages
    assert [e.progress for e in events] == sorted(e.progress for e in events)


def test_registry_loads_the_docker_spawner() -> None:
    assert SPAWNERS.load("docker") is DockerSpawner


def test_container_names_are_escaped_and_unambiguous() -> None:
    assert container_name("alice") == "bindery-alice"
    assert container_name("alice", "proj") == "bindery-alice-proj"
    # "a-b" + "" must not equal "a" + "b".
    assert container_name("a-b") != container_name("a", "b")
    assert container_name("../x y") == "bindery-_2e._2fx_20y"  # no "/" or leading "."
    assert home_volume_name("élise") == "bindery-home-_c3_a9lise"
    # One home per server, as unambiguous as container names.
    assert home_volume_name("alice", "proj") == "bindery-home-alice-proj"
    assert home_volume_name("a-b") != home_volume_name("a", "b")
    assert home_volume_name("ada.l_x-1") == "bindery-home-ada.l_5fx_2d1"


@pytest.mark.engine
async def test_limits_bite_when_a_notebook_overreaches(
    docker_engine, docker_settings, docker_spawner, user_name, token
) -> None:
    """A process asking for more memory than the limit is killed; a thread bomb hits pids.max."""
    spawner = docker_spawner(docker_settings, _request(user_name, token))
    await spawner.start()
    try:
        container = docker_engine.containers.get(spawner.container_id)
        hog = container.exec_run(
            ["python3", "-c", "b = bytearray(900 * 1024**2); b[::4096] = b'x' * len(b[::4096])"]
        )
        assert hog.exit_code == 137, hog.output  # SIGKILL from the cgroup's OOM killer
        bomb = container.exec_run(["python3", "-c", (
            "import threading, time\n"
            "n = 0\n"
            "try:\n"
            "    while n < 1000:\n"
            "        threading.Thread(target=time.sleep, args=(3,), daemon=True).start(); n += 1\n"
            "except RuntimeError:\n"
            "    pass\n"
            "print(n)\n"
        )])
        assert int(bomb.output.decode().split()[-1]) < 128
        assert await spawner.poll() is None, "the server itself survives both"
    finally:
        await spawner.stop()


@pytest.mark.engine
async def test_a_server_killed_for_memory_says_so(docker_settings, docker_spawner, user_name, token) -> None:
    """The kernel's OOM kill is told in words with the limit, not only as exit status 137."""
    hog = "b = bytearray(900 * 1024**2); b[::4096] = b'x' * len(b[::4096])"
    settings = changed(docker_settings, server_command=["sh", "-c", f'sleep 1; exec python3 -c "{hog}"', "--"])
    spawner = docker_spawner(settings, _request(user_name, token))
    try:
        try:
            await spawner.start()
        except SpawnerError as err:  # a fast machine: it died before it was seen running
            assert "ran out of memory (limit 512m)" in str(err)
            return
        with anyio.fail_after(30):
            while await spawner.poll() is None:
                await anyio.sleep(0.2)
        assert await spawner.poll() == 137
        assert "The server ran out of memory (limit 512m)" in await spawner.log_tail()
    finally:
        await spawner.stop()


async def test_default_image_comes_from_the_deployment_fake_builder(token) -> None:
    """Fake: the deployment's default-image build is a stub (building the real default
    environment takes minutes); checks the spawner asks for it and uses its answer."""
    asked: list[str] = []

    def build_default_image() -> str:
        asked.append("built")
        return "bindery-test-missing-default:1"

    settings = SpawnerSettings(image=None)
    spawner = DockerSpawner(_request("dora", token), settings.options,
                            settings.context("x", default_image=build_default_image))
    assert spawner._resolve_image() == "bindery-test-missing-default:1"
    assert asked == ["built"]
    events = [e.message for e in spawner._progress.events]
    assert events == ["Preparing the default environment (built on first use)"]


@pytest.mark.engine
async def test_a_container_that_was_never_started_is_not_a_running_server(
    docker_engine, engine, docker_settings, docker_spawner, hub_id, user_name, token, spawner_image
) -> None:
    """A hub that crashed between create and start left a 'created' container behind."""
    leftover = docker_engine.containers.create(
        spawner_image, ["sleep", "60"], name=container_name(user_name),
        labels={"bindery.hub": hub_id, "bindery.user": user_name, "bindery.server": ""},
    )
    spawner = docker_spawner(docker_settings, _request(user_name, token))
    spawner.load_state({"container_id": leftover.id, "port": None})
    assert await spawner.poll() == 0
    assert not engine.inspect(leftover.id).running
    # Starting again replaces the leftover (it carries this hub's label).
    url = await spawner.start()
    try:
        await wait_until_ready(status_url(url, f"/user/{user_name}/"), token, 60)
        with pytest.raises(docker.errors.NotFound):
            docker_engine.containers.get(leftover.id)
    finally:
        await spawner.stop()
