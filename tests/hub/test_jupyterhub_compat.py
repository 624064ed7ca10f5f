"""JupyterHub's own clients and JupyterHub's user names against a real ``bindery hub``.

``HubAuth`` from the jupyterhub package, the real jupyterhub-idle-culler, user names
as OAuth deployments produce them (``alice@example.org``, ``Alice``, ``josé``) through
spawn, the built-in proxy and culling, sharing through the proxy, and a service's
``/services/<name>/`` route.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from urllib.parse import quote

import httpx
import pytest

from bindery.hub.spawners.naming import container_name, home_volume_name

pytestmark = pytest.mark.slow

SERVICE_TOKEN = "svc-token-0123456789abcdef"


@pytest.fixture
def hub_env(service_url: str) -> dict[str, str]:
    # One external service with a URL and its own API token.
    services = [{"name": "ext", "url": service_url, "api_token": SERVICE_TOKEN,
                 "scopes": ["read:users"]}]
    return {"BINDERY_HUB__SERVICES": json.dumps(services)}


def _token(hub, name: str) -> str:
    answer = httpx.post(f"{hub.api}/users/{quote(name)}/tokens", headers=hub.headers(),
                        json={"note": "test"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def _start(hub, name: str) -> None:
    answer = httpx.post(f"{hub.api}/users/{quote(name, safe='@')}/server", headers=hub.headers(),
                        timeout=90)
    assert answer.status_code == 201, answer.text


def test_hubauth_returns_the_user_for_a_good_token_and_none_for_a_bad_one(hub_process):
    from jupyterhub.services.auth import HubAuth

    hub = hub_process
    httpx.post(f"{hub.api}/users/ann", headers=hub.headers(), timeout=10)
    auth = HubAuth(api_token=SERVICE_TOKEN, api_url=hub.api, cache_max_age=0)
    user = auth.user_for_token(_token(hub, "ann"), sync=True)
    assert user["name"] == "ann" and "read:users:name!user=ann" in user["scopes"]
    assert auth.user_for_token("not-a-token", sync=True) is None
    # The service's own identity, and its route through the proxy.
    me = httpx.get(f"{hub.api}/user", headers=hub.headers(SERVICE_TOKEN), timeout=10).json()
    assert me["kind"] == "service" and me["name"] == "ext"
    assert "read:users:name" in me["scopes"]
    routed = httpx.get(f"{hub.url}/services/ext/hello", timeout=10)
    assert routed.status_code == 200
    assert routed.json()["path"] == "/services/ext/hello"


def test_email_capitalised_and_accented_names_work_end_to_end(hub_process):
    hub = hub_process
    created = httpx.post(f"{hub.api}/users", headers=hub.headers(), timeout=10,
                         json={"usernames": ["Alice", "alice@example.org", "José"]})
    assert created.status_code == 201
    assert sorted(u["name"] for u in created.json()) == ["alice", "alice@example.org", "josé"]
    # One spelling per person: "ALICE" is alice.
    assert httpx.get(f"{hub.api}/users/ALICE", headers=hub.headers(),
                     timeout=10).json()["name"] == "alice"
    for name in ("alice@example.org", "josé"):
        _start(hub, name)
        model = httpx.get(f"{hub.api}/users/{quote(name)}", headers=hub.headers(),
                          timeout=10).json()
        url = model["servers"][""]["url"]
        assert url == f"/user/{quote(name, safe='@')}/"
        status = httpx.get(f"{hub.url}{url}api/status", headers=hub.headers(_token(hub, name)),
                           timeout=10)
        assert status.status_code == 200, (name, status.status_code, status.text[:200],
                                           hub.log_tail(60))
        # Someone else's token does not get in.
        other = httpx.get(f"{hub.url}{url}api/status", headers=hub.headers(_token(hub, "alice")),
                          timeout=10)
        assert other.status_code in (403, 404)
    # The real jupyterhub-idle-culler finds and culls them by name.
    culler_token = hub.cli("token", "--service", "idle-culler", "--scopes",
                           "list:users read:users:activity read:servers delete:servers")
    culler = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub_idle_culler",
         f"--url=http://127.0.0.1:{hub.hub_port}/hub/api", "--timeout=1", "--cull-every=1"],
        env={"JUPYTERHUB_API_TOKEN": culler_token, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            users = httpx.get(f"{hub.api}/users?state=active", headers=hub.headers(),
                              timeout=10).json()
            if not users:
                break
            time.sleep(1)
    finally:
        culler.terminate()
        output = culler.communicate(timeout=10)[0].decode(errors="replace")
    assert users == [], output
    assert "Culling server alice@example.org" in output and "Culling server josé" in output


def test_a_shared_server_lets_the_grantee_in_until_the_share_ends(hub_process):
    hub = hub_process
    httpx.post(f"{hub.api}/users", headers=hub.headers(), json={"usernames": ["ann", "bob"]},
               timeout=10)
    _start(hub, "ann")
    ann, bob = _token(hub, "ann"), _token(hub, "bob")
    status_url = f"{hub.url}/user/ann/api/status"
    assert httpx.get(status_url, headers=hub.headers(bob), timeout=10).status_code == 403
    # ann shares with bob using her own token (the `shares` scope of `self`).
    shared = httpx.post(f"{hub.api}/shares/ann/", headers=hub.headers(ann), json={"user": "bob"},
                        timeout=10)
    assert shared.status_code == 200, shared.text
    assert shared.json()["scopes"] == ["access:servers!server=ann/"]
    assert httpx.get(status_url, headers=hub.headers(bob), timeout=10).status_code == 200
    mine = httpx.get(f"{hub.api}/users/bob/shared", headers=hub.headers(bob), timeout=10).json()
    assert [s["server"]["user"]["name"] for s in mine["items"]] == ["ann"]
    # bob gets nothing else: not ann's user model, not a start or stop.
    assert httpx.delete(f"{hub.api}/users/ann/server", headers=hub.headers(bob),
                        timeout=10).status_code in (403, 404)
    # Ending the share ends the access at once (share answers are never cached).
    assert httpx.delete(f"{hub.api}/shares/ann/", headers=hub.headers(ann),
                        timeout=10).status_code == 204
    assert httpx.get(status_url, headers=hub.headers(bob), timeout=10).status_code == 403


def test_docker_names_of_odd_user_names_are_valid_distinct_and_bounded():
    import re

    valid = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
    names = ["alice@example.org", "alice_40example.org", "josé", "jose", "a" * 128,
             "a" * 127 + "b", "ключ", "x.y", ".hidden"]
    made = {container_name(n) for n in names} | {container_name(n, "proj") for n in names}
    assert len(made) == 2 * len(names)
    for made_name in made | {home_volume_name(n) for n in names}:
        assert valid.fullmatch(made_name) and len(made_name) <= 180, made_name


def test_shutdown_ends_the_hub_process_and_proxy_resync_works(hub_process):
    hub = hub_process
    routes = httpx.get(f"{hub.api}/proxy", headers=hub.headers(), timeout=10)
    assert routes.status_code == 200 and "/services/ext/" in routes.json()
    assert httpx.post(f"{hub.api}/proxy", headers=hub.headers(), timeout=10).status_code == 200
    assert httpx.post(f"{hub.api}/shutdown", headers=hub.headers(SERVICE_TOKEN),
                      timeout=10).status_code == 403
    answer = httpx.post(f"{hub.api}/shutdown", headers=hub.headers(), timeout=10)
    assert answer.status_code == 202
    assert hub.process is not None
    hub.process.wait(30)
