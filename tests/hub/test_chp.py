"""The hub drives the real configurable-http-proxy through the same route API."""

from __future__ import annotations

import httpx
import pytest

from bindery.hub.proxy.processes import install_chp

pytestmark = pytest.mark.slow


@pytest.fixture
def hub_env() -> dict[str, str]:
    # `bash scripts/setup.sh --dev` installs it; this installs it too when run alone (npm).
    install_chp()
    return {"BINDERY_HUB__PROXY__KIND": "chp"}


def test_hub_routes_through_configurable_http_proxy(hub_process):
    hub = hub_process
    routes_url = f"http://127.0.0.1:{hub.api_port}/api/routes"
    proxy_auth = {"Authorization": f"token {hub.proxy_token}"}
    # The hub is reachable through CHP (its /hub route and the default target).
    assert httpx.get(f"{hub.api}", timeout=10).json()["version"]
    httpx.post(f"{hub.api}/users/cho", headers=hub.headers(), timeout=10)
    assert (
        httpx.post(f"{hub.api}/users/cho/server", headers=hub.headers(), timeout=90).status_code
        == 201
    )
    routes = httpx.get(routes_url, headers=proxy_auth, timeout=10).json()
    route = routes["/user/cho"]
    assert route["user"] == "cho" and route["target"].startswith("http://127.0.0.1:")
    # CHP forwards to the server (which still demands its own token: CHP has no edge auth).
    status = httpx.get(
        f"{hub.url}/user/cho/api/status",
        headers={"Authorization": f"token {route['server_token']}"},
        timeout=10,
    )
    assert status.status_code == 200
    assert (
        httpx.delete(f"{hub.api}/users/cho/server", headers=hub.headers(), timeout=30).status_code
        == 204
    )
    assert "/user/cho" not in httpx.get(routes_url, headers=proxy_auth, timeout=10).json()
