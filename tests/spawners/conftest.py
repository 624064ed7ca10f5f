"""Fixtures of the spawner tests: settings pointing at a temporary root, a token, the engine."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bindery.engine.docker import DockerEngine
from bindery.hub.spawners.base import SpawnRequest
from bindery.hub.spawners.docker import DockerSpawner
from bindery.hub.spawners.local import LocalProcessSpawner
from bindery.hub.spawners.settings import SpawnerSettings


def changed(settings: SpawnerSettings, **changes: Any) -> SpawnerSettings:
    """A copy of ``settings`` with some keys changed, validated like the original."""
    return SpawnerSettings.model_validate({**settings.model_dump(), **changes})


def local_spawner(settings: SpawnerSettings, request: SpawnRequest) -> LocalProcessSpawner:
    """What the hub's factory makes: the section's own options and its context."""
    return LocalProcessSpawner(request, settings.options, settings.context("bindery-test"))


@pytest.fixture
def token() -> str:
    return secrets.token_hex(16)


@pytest.fixture
def local_settings(tmp_path: Path) -> SpawnerSettings:
    """Local spawner settings: servers under a per-test root, short grace."""
    return SpawnerSettings(kind="local", local_root_dir=tmp_path / "users", stop_grace=3.0,
                           start_timeout=60.0)


# -- Docker engine fixtures ----------------------------------------------------------

TEST_IMAGE = "bindery-test-spawner:1"
IMAGE_DIR = Path(__file__).parent / "image"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="session")
def docker_engine():
    """The real engine's SDK client (to look at containers); tests are skipped (not faked) without one."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as err:  # noqa: BLE001 - any failure means "no engine here"
        pytest.skip(f"no Docker engine: {err}")
    return client


@pytest.fixture(scope="session")
def spawner_image(docker_engine, tmp_path_factory) -> str:
    """A small JupyterLab image shaped like the builder's (uid 1000, tini); built once, kept."""
    import shutil
    import subprocess

    import docker.errors

    try:
        docker_engine.images.get(TEST_IMAGE)
        return TEST_IMAGE
    except docker.errors.ImageNotFound:
        pass
    context = tmp_path_factory.mktemp("spawner-image")
    shutil.copy(IMAGE_DIR / "Dockerfile", context / "Dockerfile")
    shutil.copy(HOST_CA, context / "host-ca.crt")
    result = subprocess.run(
        ["/usr/bin/docker", "build", "--label", "bindery.test=spawners", "-t", TEST_IMAGE, str(context)],
        capture_output=True, text=True, env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"},
        timeout=900, check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"building {TEST_IMAGE} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return TEST_IMAGE


@pytest.fixture(scope="session")
def hub_id(docker_engine):
    """A hub id unique to this test session; everything labelled with it is removed at the end."""
    import docker.errors

    value = f"bindery-test-spawners-{secrets.token_hex(4)}"
    yield value
    label = {"label": f"bindery.hub={value}"}
    for container in docker_engine.containers.list(all=True, filters=label):
        container.remove(force=True)
    for volume in docker_engine.volumes.list(filters=label):
        try:
            volume.remove(force=True)
        except docker.errors.APIError:
            pass


@pytest.fixture
def docker_settings(spawner_image) -> SpawnerSettings:
    """Small limits so the test can tell they were applied, not left at defaults; no
    persistent home (on by default) unless a test asks for one."""
    return SpawnerSettings(
        image=spawner_image, allowed_images=["bindery-r/*"], mem_limit="512m", cpu_limit=0.5,
        pids_limit=128, start_timeout=60, http_timeout=60, stop_grace=2, persistent_home=False,
    )


@pytest.fixture
def user_name() -> str:
    """A fresh user per test, so container and volume names never collide."""
    return f"spt{secrets.token_hex(3)}"


@pytest.fixture(scope="session")
def engine(docker_engine) -> DockerEngine:
    """The Engine the spawner is given by the composition root."""
    return DockerEngine()


@pytest.fixture
def docker_spawner(engine, hub_id) -> Callable[..., DockerSpawner]:
    """``docker_spawner(settings, request, hub=..., default_image=...)``, as the hub's factory makes it."""

    def make(settings: SpawnerSettings, request: SpawnRequest, *, hub: str | None = None,
             default_image: Callable[[], str] | None = None) -> DockerSpawner:
        context = settings.context(hub or hub_id, engine=engine, default_image=default_image)
        return DockerSpawner(request, settings.options, context)

    return make
