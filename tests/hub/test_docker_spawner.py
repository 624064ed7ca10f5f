"""One end-to-end run with the Docker spawner: start through the API, reach Jupyter by the proxy."""

from __future__ import annotations

import secrets

import httpx
import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

#: Built by the spawner tests (tests/spawners/image); reused here, never built here.
IMAGE = "bindery-test-spawner:1"
HUB_ID = f"bindery-test-hub-{secrets.token_hex(4)}"


@pytest.fixture
def hub_env() -> dict[str, str]:
    import docker

    try:
        client = docker.from_env()
        client.ping()
        client.images.get(IMAGE)
    except Exception as err:  # noqa: BLE001 - no engine or no image: skip, do not fake
        pytest.skip(
            f"needs a Docker engine and the image {IMAGE} (run tests/spawners first): {err}"
        )
    yield {
        "BINDERY_HUB__SPAWNER__KIND": "docker",
        "BINDERY_HUB__SPAWNER__IMAGE": IMAGE,
        "BINDERY_HUB__SPAWNER__MEM_LIMIT": "1g",
        "BINDERY_HUB__HUB_ID": HUB_ID,
    }
    for container in client.containers.list(all=True, filters={"label": f"bindery.hub={HUB_ID}"}):
        container.remove(force=True)


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
