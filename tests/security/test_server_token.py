"""Issue 8, finding 9 (token part): the server's token never reaches a browser.

The review found ``/user/alice/lab`` HTML carrying the container's ``JUPYTER_TOKEN``
(JupyterLab puts its token in the page config), usable directly against the
container's published port. Now the proxy adds the token to every request it lets
through, servers run as under a hub (JupyterLab leaves the token out of its page),
and each start gets a new token, so a stopped or restarted server's old token is dead.
A real JupyterLab in a real container, through the real ``bindery hub`` and proxy.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from spawners.conftest import docker_engine, spawner_image  # noqa: F401 - pytest fixtures

pytestmark = [pytest.mark.engine, pytest.mark.slow]

HUB_ID = f"bindery-test-token-{secrets.token_hex(4)}"
#: Container names follow user names: a name of our own keeps parallel test runs apart.
USER = f"tok{secrets.token_hex(3)}"


@pytest.fixture
def hub_env(docker_engine, spawner_image: str) -> Iterator[dict[str, str]]:  # noqa: F811
    yield {
        "BINDERY_HUB__SPAWNER__KIND": "docker",
        "BINDERY_HUB__SPAWNER__IMAGE": spawner_image,
        "BINDERY_HUB__SPAWNER__MEM_LIMIT": "1g",
        "BINDERY_HUB__HUB_ID": HUB_ID,
    }
    for container in docker_engine.containers.list(all=True,
                                                  filters={"label": f"bindery.hub={HUB_ID}"}):
        container.remove(force=True)


def _server_token_and_port(hub) -> tuple[str, int]:
    with sqlite3.connect(hub.tmp_path / "hub.sqlite") as db:
        token, state = db.execute(
            "SELECT servers.api_token, servers.state FROM servers JOIN users "
            "ON users.id = servers.user_id WHERE users.name = ?", (USER,)
        ).fetchone()
    import json

    return token, int(json.loads(state)["port"])


def _start(hub) -> tuple[str, int]:
    started = httpx.post(f"{hub.api}/users/{USER}/server", headers=hub.headers(), timeout=180)
    assert started.status_code == 201, started.text + hub.log_tail()
    return _server_token_and_port(hub)


def test_the_server_token_stays_between_proxy_and_server(hub_process, docker_engine):  # noqa: F811
    hub = hub_process
    assert httpx.post(f"{hub.api}/users/{USER}", headers=hub.headers(), timeout=10).status_code == 201
    alice = httpx.post(f"{hub.api}/users/{USER}/tokens", json={}, headers=hub.headers(),
                       timeout=10).json()["token"]
    server_token, port = _start(hub)

    # The page JupyterLab sends to alice's browser has no token in it.
    lab = httpx.get(f"{hub.url}/user/{USER}/lab", headers=hub.headers(alice), timeout=30)
    assert lab.status_code == 200 and "jupyter-config-data" in lab.text, lab.text[:300]
    assert server_token not in lab.text
    assert '"token": ""' in lab.text and f'"hubUser": "{USER}"' in lab.text
    # ... yet everything works through the proxy, which adds the token itself.
    status = httpx.get(f"{hub.url}/user/{USER}/api/status", headers=hub.headers(alice), timeout=20)
    assert status.status_code == 200

    # The container listens on this machine's loopback only, and wants the token there.
    container = docker_engine.containers.list(filters={"label": f"bindery.hub={HUB_ID}"})[0]
    bindings = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}
    direct = f"http://127.0.0.1:{port}/user/{USER}/api/status"
    assert httpx.get(direct, timeout=10).status_code == 403
    assert httpx.get(direct, headers=hub.headers(alice), timeout=10).status_code == 403

    # A stop ends the token; the next start has a new one, and the old one opens nothing.
    assert httpx.delete(f"{hub.api}/users/{USER}/server", headers=hub.headers(),
                        timeout=60).status_code == 204
    new_token, new_port = _start(hub)
    assert new_token != server_token
    again = f"http://127.0.0.1:{new_port}/user/{USER}/api/status"
    assert httpx.get(again, headers={"Authorization": f"token {server_token}"},
                     timeout=10).status_code == 403
    assert httpx.get(again, headers={"Authorization": f"token {new_token}"},
                     timeout=10).status_code == 200
