"""One end-to-end run with the Docker spawner: start through the API, reach Jupyter by the proxy."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from spawners.conftest import docker_engine, spawner_image  # noqa: F401 - pytest fixtures

pytestmark = [pytest.mark.engine, pytest.mark.slow]

HUB_ID = f"bindery-test-hub-{secrets.token_hex(4)}"


@pytest.fixture
def hub_env(docker_engine, spawner_image: str) -> Iterator[dict[str, str]]:  # noqa: F811
    """The spawner tests' small JupyterLab image, built here too when this file runs alone."""
    client = docker_engine
    yield {
        "BINDERY_HUB__SPAWNER__KIND": "docker",
        "BINDERY_HUB__SPAWNER__IMAGE": spawner_image,
        "BINDERY_HUB__SPAWNER__MEM_LIMIT": "1g",
        "BINDERY_HUB__HUB_ID": HUB_ID,
    }
    for container in client.containers.list(all=True, filters={"label": f"bindery.hub={HUB_ID}"}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": f"bindery.hub={HUB_ID}"}):
        volume.remove(force=True)  # the persistent home (on by default for `bindery hub`)


def test_docker_server_starts_is_reachable_and_stops(hub_process):
    hub = hub_process
    httpx.post(f"{hub.api}/users/dock", headers=hub.headers(), timeout=10)
    started = httpx.post(f"{hub.api}/users/dock/server", headers=hub.headers(), timeout=180)
    assert started.status_code == 201, started.text + hub.log_tail()
    token = httpx.post(
        f"{hub.api}/users/dock/tokens", json={}, headers=hub.headers(), timeout=10
    ).json()["token"]
    status = httpx.get(f"{hub.url}/user/dock/api/status", headers=hub.headers(token), timeout=20)
    assert status.status_code == 200 and "kernels" in status.json()
    assert (
        httpx.delete(f"{hub.api}/users/dock/server", headers=hub.headers(), timeout=60).status_code
        == 204
    )
    import docker

    assert not docker.from_env().containers.list(filters={"label": f"bindery.hub={HUB_ID}"})
