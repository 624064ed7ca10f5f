"""``bindery hub`` as a real process: built-in proxy, edge auth, restarts, the real idle culler."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.slow


def _start(hub, user: str, server: str = "") -> None:
    httpx.post(f"{hub.api}/users/{user}", headers=hub.headers(), timeout=10)
    path = f"servers/{server}" if server else "server"
    answer = httpx.post(f"{hub.api}/users/{user}/{path}", headers=hub.headers(), timeout=90)
    assert answer.status_code == 201, answer.text


def _user_token(hub, user: str) -> str:
    httpx.post(f"{hub.api}/users/{user}", headers=hub.headers(), timeout=10)
    answer = httpx.post(
        f"{hub.api}/users/{user}/tokens", json={"note": "test"}, headers=hub.headers(), timeout=10
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def test_edge_auth_lets_only_the_owner_in(hub_process):
    hub = hub_process
    _start(hub, "alice")
    alice, bob = _user_token(hub, "alice"), _user_token(hub, "bob")
    status_url = f"{hub.url}/user/alice/api/status"
    with httpx.Client(timeout=10) as http:
        assert http.get(status_url, headers=hub.headers(alice)).status_code == 200
        assert http.get(status_url, headers=hub.headers(bob)).status_code == 403
        anonymous = http.get(status_url, headers={"Accept": "text/html"})
        assert anonymous.status_code in (302, 401)
        if anonymous.status_code == 302:
            assert anonymous.headers["location"].startswith("/hub/login")
        # A ?token= link leaves a pass for alice's servers (never a hub session): afterwards
        # the pass alone is enough there.
        linked = http.get(f"{status_url}?token={alice}")
        assert linked.status_code == 200
        assert "bindery-session" not in linked.headers.get("set-cookie", "")
        cookie = linked.cookies.get("bindery-server")
        # A fresh client holding only the pass (this client's jar has it too, and a cookie
        # that arrives twice counts as absent: see docs/security.md).
        with httpx.Client(timeout=10, cookies={"bindery-server": cookie}) as fresh:
            assert fresh.get(status_url).status_code == 200
        # Only the proxy may ask the hub's authorization endpoint.
        direct = http.get(
            f"{hub.api}/proxy/authorize?user=alice&path=/user/alice/", headers=hub.headers(alice)
        )
        assert direct.status_code == 403 and "proxy" in direct.json()["message"]


#: Servers outlive a hub stop only when the hub is told to keep them (an upgrade restart).
KEEP_SERVERS = pytest.mark.parametrize("hub_env", [{"BINDERY_HUB__CLEANUP_SERVERS": "false"}])


@KEEP_SERVERS
def test_servers_survive_a_hub_restart(hub_process):
    hub = hub_process
    _start(hub, "carol")
    token = _user_token(hub, "carol")
    url = f"{hub.url}/user/carol/api/status"
    assert httpx.get(url, headers=hub.headers(token), timeout=10).status_code == 200
    hub.stop()
    # The proxy is kept with the servers: it answers, but the hub behind it is gone.
    assert httpx.get(f"{hub.api}/", timeout=5).status_code >= 500
    hub.start()
    assert httpx.get(url, headers=hub.headers(token), timeout=10).status_code == 200
    ready = httpx.get(f"{hub.api}/users?state=ready", headers=hub.headers(), timeout=10).json()
    assert [(u["name"], u["servers"][""]["ready"]) for u in ready] == [("carol", True)]


@KEEP_SERVERS
def test_dead_servers_are_forgotten_at_restart(hub_process):
    import os
    import signal

    hub = hub_process
    _start(hub, "dora")
    state = httpx.get(f"{hub.api}/users/dora", headers=hub.headers(), timeout=10).json()["servers"][
        ""
    ]["state"]
    hub.stop()
    os.killpg(os.getpgid(state["pid"]), signal.SIGKILL)
    hub.start()
    user = httpx.get(f"{hub.api}/users/dora", headers=hub.headers(), timeout=10).json()
    assert user["servers"] == {} and user["server"] is None
    stopped = httpx.get(f"{hub.api}/users/dora?include_stopped_servers", headers=hub.headers(),
                        timeout=10).json()["servers"][""]
    assert "stopped on its own" in stopped["last_error"]


def test_real_jupyterhub_idle_culler_culls_idle_and_keeps_active(hub_process):
    hub = hub_process
    _start(hub, "idle")
    _start(hub, "busy")
    busy = _user_token(hub, "busy")
    culler_token = hub.cli(
        "token",
        "--service",
        "idle-culler",
        "--scopes",
        "list:users read:users:activity read:servers delete:servers",
    )
    culler = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterhub_idle_culler",
            f"--url=http://127.0.0.1:{hub.hub_port}/hub/api",
            "--timeout=10",
            "--cull-every=2",
        ],
        env={"JUPYTERHUB_API_TOKEN": culler_token, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        culled = False
        while time.monotonic() < deadline:
            # Using busy's server through the proxy is what keeps it active.
            assert (
                httpx.get(
                    f"{hub.url}/user/busy/api/status", headers=hub.headers(busy), timeout=10
                ).status_code
                == 200
            )
            users = {
                u["name"]: u
                for u in httpx.get(f"{hub.api}/users", headers=hub.headers(), timeout=10).json()
            }
            if not users["idle"]["servers"]:
                culled = True
                break
            time.sleep(1)
    finally:
        culler.terminate()
        output = culler.communicate(timeout=10)[0].decode(errors="replace")
    assert culled, output
    assert "Culling server idle" in output
    assert users["busy"]["servers"][""]["ready"] is True


def test_hub_restores_a_route_the_proxy_lost(hub_process):
    hub = hub_process
    _start(hub, "erin")
    token = _user_token(hub, "erin")
    url = f"{hub.url}/user/erin/api/status"
    proxy_api = f"http://127.0.0.1:{hub.api_port}/api/routes/user/erin"
    answer = httpx.delete(
        proxy_api, headers={"Authorization": f"token {hub.proxy_token}"}, timeout=10
    )
    assert answer.status_code == 204
    # No check that the server is unreachable in between: the hub's 2-s route check may
    # already have put the route back. Its log line proves it noticed the loss.
    deadline = time.monotonic() + 20  # the hub polls the proxy every 2 s in these tests
    while time.monotonic() < deadline:
        restored = "lost the route /user/erin/" in hub.log_tail(400)
        if restored and httpx.get(url, headers=hub.headers(token), timeout=10).status_code == 200:
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the route was not restored:\n" + hub.log_tail())
