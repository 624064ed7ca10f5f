"""Findings 7 and 9 (containers): servers never run as root, hold no capabilities, and are isolated.

A repository Dockerfile may say ``USER root`` (or name no user): the server must
still run as a non-root uid unless the admin set ``allow_root``; every container
drops all capabilities and sets no-new-privileges; user containers sit on a
bridge without inter-container traffic. No traffic is sent to any container
address: the network's options and the container's membership are checked.
"""

from __future__ import annotations

import io

import pytest
from spawners.conftest import (  # noqa: F401 - pytest fixtures
    docker_engine,
    docker_spawner,
    engine,
    hub_id,
    spawner_image,
    token,
    user_name,
)

from bindery.engine.docker import USER_NETWORK
from bindery.hub.spawners.base import SpawnRequest
from bindery.hub.spawners.settings import SpawnerSettings
from bindery.readiness import status_url, wait_until_ready

pytestmark = [pytest.mark.anyio, pytest.mark.engine]

ROOT_IMAGE = "bindery-test-root-user:1"
ROOT_HOME_IMAGE = "bindery-test-root-home:1"


@pytest.fixture(scope="module")
def root_image(docker_engine, spawner_image) -> str:  # noqa: F811 - fixtures
    """A repository-Dockerfile-shaped image whose last word is ``USER root``."""
    dockerfile = f"FROM {spawner_image}\nUSER root\n".encode()
    docker_engine.images.build(fileobj=io.BytesIO(dockerfile), tag=ROOT_IMAGE,
                               labels={"bindery.test": "security"}, rm=True)
    return ROOT_IMAGE


@pytest.fixture(scope="module")
def root_home_image(docker_engine, spawner_image) -> str:  # noqa: F811 - fixtures
    """``USER root`` with root's own home, as ``FROM python`` Dockerfiles have."""
    dockerfile = f"FROM {spawner_image}\nUSER root\nENV HOME=/root\n".encode()
    docker_engine.images.build(fileobj=io.BytesIO(dockerfile), tag=ROOT_HOME_IMAGE,
                               labels={"bindery.test": "security"}, rm=True)
    return ROOT_HOME_IMAGE


def _settings(image: str, **extra: object) -> SpawnerSettings:
    return SpawnerSettings.model_validate({
        "image": image, "allowed_images": [], "mem_limit": "512m", "cpu_limit": 0.5,
        "start_timeout": 60, "stop_grace": 1, **extra,
    })


def _status(container, pid: str = "1") -> dict[str, str]:
    """``/proc/<pid>/status`` of a process in the container, as a dict."""
    text = container.exec_run(["cat", f"/proc/{pid}/status"]).output.decode()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in text.splitlines())}


async def _start(docker_spawner, settings: SpawnerSettings, user: str, token: str):  # noqa: F811
    spawner = docker_spawner(settings, SpawnRequest(user=user, server_name="", base_url=f"/user/{user}/",
                                                    api_token=token))
    await spawner.start()
    return spawner


async def test_root_image_runs_as_non_root_without_capabilities(
    docker_engine, docker_spawner, root_image, user_name, token  # noqa: F811
) -> None:
    spawner = await _start(docker_spawner, _settings(root_image), user_name, token)
    try:
        container = docker_engine.containers.get(spawner.container_id)
        assert container.exec_run(["id", "-u"]).output.decode().strip() == "1000"
        server = _status(container)  # pid 1: the server (under tini), started by the engine
        assert server["Uid"].split()[0] == "1000"
        assert server["CapEff"] == "0000000000000000"
        assert server["CapBnd"] == "0000000000000000"
        assert server["NoNewPrivs"] == "1"
    finally:
        await spawner.stop()


async def test_admin_setting_allows_root_but_keeps_capabilities_dropped(
    docker_engine, docker_spawner, root_image, user_name, token  # noqa: F811
) -> None:
    spawner = await _start(docker_spawner, _settings(root_image, allow_root=True), user_name, token)
    try:
        container = docker_engine.containers.get(spawner.container_id)
        assert container.exec_run(["id", "-u"]).output.decode().strip() == "0"
        server = _status(container)
        assert server["Uid"].split()[0] == "0"
        assert server["CapEff"] == "0000000000000000"  # root, yet powerless
        assert server["NoNewPrivs"] == "1"
    finally:
        await spawner.stop()


async def test_user_containers_share_no_traffic(
    docker_engine, docker_spawner, spawner_image, user_name, token  # noqa: F811
) -> None:
    spawner = await _start(docker_spawner, _settings(spawner_image), user_name, token)
    try:
        container = docker_engine.containers.get(spawner.container_id)
        assert list(container.attrs["NetworkSettings"]["Networks"]) == [USER_NETWORK]
        network = docker_engine.networks.get(USER_NETWORK)
        assert network.attrs["Options"]["com.docker.network.bridge.enable_icc"] == "false"
        bindings = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
        assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]
    finally:
        await spawner.stop()


async def test_root_image_with_roots_home_still_serves(
    docker_engine, docker_spawner, root_home_image, user_name, token  # noqa: F811
) -> None:
    spawner = docker_spawner(_settings(root_home_image), SpawnRequest(
        user=user_name, server_name="", base_url=f"/user/{user_name}/", api_token=token))
    url = await spawner.start()
    try:
        container = docker_engine.containers.get(spawner.container_id)
        assert container.exec_run(["printenv", "HOME"]).output.decode().strip() == "/tmp"

        async def alive() -> bool:
            return await spawner.poll() is None

        await wait_until_ready(status_url(url, f"/user/{user_name}/"), token, 60, alive)
        assert _status(container)["Uid"].split()[0] == "1000"
    finally:
        await spawner.stop()
