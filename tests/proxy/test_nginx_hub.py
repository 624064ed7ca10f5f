"""The nginx backend end to end: ``bindery hub`` with ``[hub.proxy] kind = "nginx"``.

A real hub process starts Debian's nginx as its proxy, a real Jupyter server (local
spawner) is started through the hub's API, and users reach it through nginx, whose
``auth_request`` asks the hub who may pass: the owner gets in (token, session cookie,
``?token=`` link), nobody else does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import pytest
from hub.conftest import HubProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def nginx_hub(tmp_path: Path) -> Iterator[HubProcess]:
    hub = HubProcess(tmp_path, extra_env={
        "BINDERY_HUB__PROXY__KIND": "nginx",
        "BINDERY_HUB__PROXY__CLIENT_OPTIONS__CONFIG_DIR": str(tmp_path / "nginx"),
    })
    hub.start()
    try:
        yield hub
    finally:
        hub.stop_all_servers()
        hub.stop()


def _user_token(hub: HubProcess, user: str) -> str:
    httpx.post(f"{hub.api}/users/{user}", headers=hub.headers(), timeout=10)
    answer = httpx.post(f"{hub.api}/users/{user}/tokens", json={"note": "nginx test"},
                        headers=hub.headers(), timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


async def _websocket_echo_of_events(url: str, token: str) -> int:
    """Open jupyter_server's event stream WebSocket through nginx; the handshake status."""
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(url, headers={"Authorization": f"token {token}"}) as ws:
        assert not ws.closed
        return 101


def test_a_user_reaches_only_their_own_server_through_nginx(nginx_hub: HubProcess) -> None:
    hub = nginx_hub
    config_dir = hub.tmp_path / "nginx"
    assert (config_dir / "nginx.conf").exists(), hub.log_tail()
    alice, bob = _user_token(hub, "alice"), _user_token(hub, "bob")
    started = httpx.post(f"{hub.api}/users/alice/server", headers=hub.headers(), timeout=90)
    assert started.status_code == 201, started.text + hub.log_tail()
    routes = json.loads((config_dir / "routes.json").read_text())["routes"]
    assert routes["/user/alice"]["data"]["user"] == "alice"

    status_url = f"{hub.url}/user/alice/api/status"
    with httpx.Client(timeout=10, trust_env=False) as http:
        assert http.get(f"{hub.api}", timeout=10).json()["version"], "the hub behind nginx"
        owner = http.get(status_url, headers=hub.headers(alice))
        assert owner.status_code == 200, owner.text + (config_dir / "error.log").read_text()[-1500:]
        assert "started" in owner.json()
        assert http.get(status_url, headers=hub.headers(bob)).status_code == 403
        browser = http.get(status_url, headers={"Accept": "text/html"})
        assert browser.status_code == 302
        assert browser.headers["location"] == "/hub/login?next=/user/alice/api/status"
        assert http.get(status_url).status_code == 401
        # Session cookies: alice's opens her server, bob's does not.
        for name, expected in (("alice", 200), ("bob", 403)):
            cookie = {"bindery-session": hub.login_cookie(name)}
            with httpx.Client(timeout=10, trust_env=False, cookies=cookie) as fresh:
                assert fresh.get(status_url).status_code == expected, name
        # A ?token= link leaves a pass for alice's servers, never a hub session.
        linked = http.get(f"{status_url}?token={alice}")
        assert linked.status_code == 200
        assert "bindery-session" not in linked.headers.get("set-cookie", "")
        server_pass = linked.cookies.get("bindery-server")
        assert server_pass
        # A fresh client holding only the pass (this client's jar has it too, and the hub
        # counts a cookie that arrives twice as absent).
        with httpx.Client(timeout=10, trust_env=False,
                          cookies={"bindery-server": server_pass}) as fresh:
            assert fresh.get(status_url).status_code == 200
    # A fresh client (no pass cookie from above): bob's link token opens nothing of alice's.
    assert httpx.get(f"{status_url}?token={bob}", trust_env=False, timeout=10).status_code == 403

    ws_url = f"ws://127.0.0.1:{hub.port}/user/alice/api/events/subscribe"
    assert asyncio.run(_websocket_echo_of_events(ws_url, alice)) == 101

    stopped = httpx.delete(f"{hub.api}/users/alice/server", headers=hub.headers(), timeout=30)
    assert stopped.status_code == 204
    routes = json.loads((config_dir / "routes.json").read_text())["routes"]
    assert "/user/alice" not in routes
    after = httpx.get(status_url, headers=hub.headers(alice), timeout=10, trust_env=False)
    assert after.status_code != 200 or "started" not in after.text, "no route, no server"
