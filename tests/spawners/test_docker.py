"""DockerSpawner on the real engine with a real JupyterLab image."""

from __future__ import annotations

import docker.errors
import httpx
import pytest

from bindery.hub.spawners import ImageNotAllowed, SpawnerError, SpawnRequest, load_spawner_class
from bindery.hub.spawners.docker import DockerSpawner
from bindery.hub.spawners.naming import container_name, home_volume_name
from bindery.hub.spawners.readiness import status_url, wait_for_http
from bindery.hub.spawners.settings import SpawnerSettings

pytestmark = pytest.mark.anyio


def _request(user: str, token: str, server: str = "", image: str | None = None) -> SpawnRequest:
    base = f"/user/{user}/" + (f"{server}/" if server else "")
    return SpawnRequest(user=user, server_name=server, base_url=base, api_token=token, image=image)


async def _get(url: str, token: str | None = None) -> httpx.Response:
    """A fresh client each time: no login cookie carried over from earlier requests."""
    headers = {"Authorization": f"token {token}"} if token else {}
    async with httpx.AsyncClient(trust_env=False) as client:
        return await client.get(url, headers=headers)


@pytest.mark.engine
async def test_server_runs_limited_labelled_and_on_loopback_only(
    docker_engine, docker_settings, hub_id, user_name, token
) -> None:
    spawner = DockerSpawner(_request(user_name, token, "proj"), settings=docker_settings, hub_id=hub_id)
    url = await spawner.start()
    try:
        base = f"/user/{user_name}/proj/"
        await wait_for_http(status_url(url, base), token, 60, poll=spawner.poll)
        assert (await _get(f"{url}{base}api/status", token)).status_code == 200
        assert (await _get(f"{url}{base}api/status")).status_code == 403

        container = docker_engine.containers.get(spawner.container_id)
        assert container.name == f"bindery-{user_name}-proj"
        bindings = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
        assert url == f"http://127.0.0.1:{bindings[0]['HostPort']}"

        host = container.attrs["HostConfig"]
        assert host["Memory"] == 512 * 1024**2
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
    docker_engine, docker_settings, hub_id, user_name, token
) -> None:
    first = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
    url = await first.start()
    try:
        # "Hub restart": nothing but the engine and the hub id survive.
        found = await DockerSpawner.find_running(hub_id)
        mine = [f for f in found if f.user == user_name]
        assert len(mine) == 1 and mine[0].server_name == "" and mine[0].url == url
        assert all(f.container_name.startswith("bindery-") for f in found)
        assert await DockerSpawner.find_running("some-other-hub") == [] or all(
            f.user != user_name for f in await DockerSpawner.find_running("some-other-hub")
        )

        second = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
        second.load_state(mine[0].state)
        assert await second.poll() is None
        assert second.url == url
        await wait_for_http(status_url(url, f"/user/{user_name}/"), token, 60)
        await second.stop()
        assert await second.poll() == 0
        assert [f for f in await DockerSpawner.find_running(hub_id) if f.user == user_name] == []
        assert await first.poll() == 0  # the old instance sees it gone as well
    finally:
        await first.stop()


@pytest.mark.engine
async def test_persistent_home_keeps_files_across_restarts(
    docker_engine, docker_settings, hub_id, user_name, token
) -> None:
    settings = docker_settings.model_copy(update={"persistent_home": True})
    spawner = DockerSpawner(_request(user_name, token), settings=settings, hub_id=hub_id)
    await spawner.start()
    try:
        container = docker_engine.containers.get(spawner.container_id)
        wrote = container.exec_run(["sh", "-c", "echo kept > /home/jovyan/notes.txt"])
        assert wrote.exit_code == 0, wrote.output
        await spawner.stop()

        again = DockerSpawner(_request(user_name, token), settings=settings, hub_id=hub_id)
        url = await again.start()
        try:
            await wait_for_http(status_url(url, f"/user/{user_name}/"), token, 60)
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
async def test_without_persistent_home_files_are_gone_after_restart(
    docker_engine, docker_settings, hub_id, user_name, token
) -> None:
    spawner = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
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


async def test_disallowed_image_is_refused_before_anything_runs(docker_settings, token) -> None:
    spawner = DockerSpawner(
        _request("mallory", token, image="alpine:latest"), settings=docker_settings, hub_id="x"
    )
    with pytest.raises(ImageNotAllowed, match=r"'alpine:latest' is not allowed.*bindery-r/\*"):
        await spawner.start()
    assert spawner.get_state() == {}
    events = [e.message async for e in spawner.progress()]
    assert events == ["Choosing the image"]


@pytest.mark.engine
async def test_allowed_pattern_admits_an_image(
    docker_engine, docker_settings, hub_id, user_name, token, spawner_image
) -> None:
    """An image matching ``allowed_images`` runs; one missing from the machine gives a clear error."""
    settings = docker_settings.model_copy(update={"image": None, "allowed_images": ["bindery-test-*"]})
    spawner = DockerSpawner(_request(user_name, token, image="bindery-test-missing:9"),
                            settings=settings, hub_id=hub_id)
    with pytest.raises(SpawnerError, match="not on this machine"):
        await spawner.start()
    ok = DockerSpawner(_request(user_name, token, image=spawner_image), settings=settings, hub_id=hub_id)
    await ok.start()
    try:
        assert docker_engine.containers.get(ok.container_id).image.tags == [spawner_image]
    finally:
        await ok.stop()


@pytest.mark.engine
async def test_server_that_dies_is_noticed_with_its_log_and_stop_leaves_nothing(
    docker_engine, docker_settings, hub_id, user_name, token
) -> None:
    settings = docker_settings.model_copy(
        update={"server_command": ["sh", "-c", "sleep 1; echo cannot start jupyter >&2; exit 3", "--"]}
    )
    spawner = DockerSpawner(_request(user_name, token), settings=settings, hub_id=hub_id)
    url = await spawner.start()  # the container runs for a second...
    with pytest.raises(SpawnerError, match="exit status 3"):
        # ...and the hub's readiness wait notices at once that it died.
        await wait_for_http(status_url(url, f"/user/{user_name}/"), token, 30, poll=spawner.poll)
    assert "cannot start jupyter" in await spawner.log_tail()
    await spawner.stop()
    with pytest.raises(docker.errors.NotFound):
        docker_engine.containers.get(container_name(user_name))
    assert await spawner.poll() == 0


@pytest.mark.engine
async def test_a_strangers_container_with_our_name_is_not_touched(
    docker_engine, docker_settings, hub_id, user_name, token, spawner_image
) -> None:
    stranger = docker_engine.containers.create(
        spawner_image, ["sleep", "60"], name=container_name(user_name),
        labels={"bindery.test": "spawners"},
    )
    try:
        spawner = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
        with pytest.raises(SpawnerError, match="does not belong to this hub"):
            await spawner.start()
        stranger.reload()  # still there
    finally:
        stranger.remove(force=True)


@pytest.mark.engine
async def test_progress_tells_the_steps(docker_settings, hub_id, user_name, token) -> None:
    spawner = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
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
    assert load_spawner_class("docker") is DockerSpawner


def test_container_names_are_escaped_and_unambiguous() -> None:
    assert container_name("alice") == "bindery-alice"
    assert container_name("alice", "proj") == "bindery-alice-proj"
    # "a-b" + "" must not equal "a" + "b".
    assert container_name("a-b") != container_name("a", "b")
    assert container_name("../x y") == "bindery-_2e._2fx_20y"  # no "/" or leading "."
    assert home_volume_name("élise") == "bindery-home-_c3_a9lise"


def test_settings_may_be_the_whole_bindery_settings(token) -> None:
    from bindery.composition import Settings

    app = Settings()
    spawner = DockerSpawner(_request("zed", token), settings=app, hub_id="h")
    assert spawner.settings is app.hub.spawner
    assert isinstance(spawner.settings, SpawnerSettings)


@pytest.mark.engine
async def test_limits_bite_when_a_notebook_overreaches(
    docker_engine, docker_settings, hub_id, user_name, token
) -> None:
    """A process asking for more memory than the limit is killed; a thread bomb hits pids.max."""
    spawner = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
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


async def test_default_image_comes_from_the_builder_fake_builder(
    docker_settings, token, monkeypatch
) -> None:
    """Fake: the builder's ensure_default_image is replaced (building the real default
    environment takes minutes); checks the spawner asks the builder and uses its answer."""
    import bindery.builder

    asked: list[object] = []

    def fake_ensure_default_image(settings, on_event=None):
        asked.append(settings)
        return "bindery-test-missing-default:1"

    monkeypatch.setattr(bindery.builder, "ensure_default_image", fake_ensure_default_image)
    from bindery.composition import Settings

    app = Settings()
    settings = docker_settings.model_copy(update={"image": None})
    spawner = DockerSpawner(_request("dora", token), settings=settings, app_settings=app, hub_id="x")
    assert spawner._resolve_image() == "bindery-test-missing-default:1"
    assert asked == [app]


@pytest.mark.engine
async def test_a_container_that_was_never_started_is_not_a_running_server(
    docker_engine, docker_settings, hub_id, user_name, token, spawner_image
) -> None:
    """A hub that crashed between create and start left a 'created' container behind."""
    leftover = docker_engine.containers.create(
        spawner_image, ["sleep", "60"], name=container_name(user_name),
        labels={"bindery.hub": hub_id, "bindery.user": user_name, "bindery.server": ""},
    )
    spawner = DockerSpawner(_request(user_name, token), settings=docker_settings, hub_id=hub_id)
    spawner.load_state({"container_id": leftover.id, "port": None})
    assert await spawner.poll() == 0
    assert all(f.container_id != leftover.id for f in await DockerSpawner.find_running(hub_id))
    # Starting again replaces the leftover (it carries this hub's label).
    url = await spawner.start()
    try:
        await wait_for_http(status_url(url, f"/user/{user_name}/"), token, 60)
        with pytest.raises(docker.errors.NotFound):
            docker_engine.containers.get(leftover.id)
    finally:
        await spawner.stop()
