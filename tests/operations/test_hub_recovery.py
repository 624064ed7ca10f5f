"""``bindery hub`` after crashes: ``kill -9`` of the hub with its proxy alive or dead,
containers dying while it is down, every container killed at once (what an engine
restart does to them), ``cleanup_servers`` on and off, a port held by a stranger."""

from __future__ import annotations

import http.server
import json
import signal
import threading
import time

import httpx
import pytest
from hub.conftest import HubProcess

from .conftest import containers, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _start(hub: HubProcess, user: str) -> str:
    """Start ``user``'s server; returns a token of that user for requests through the proxy."""
    with httpx.Client(trust_env=False, timeout=150) as http:
        http.post(f"{hub.api}/users/{user}", headers=hub.headers())
        answer = http.post(f"{hub.api}/users/{user}/server", headers=hub.headers())
        assert answer.status_code == 201, answer.text + hub.log_tail()
        made = http.post(f"{hub.api}/users/{user}/tokens", json={}, headers=hub.headers())
        return str(made.json()["token"])


def _reachable(hub: HubProcess, user: str, token: str) -> bool:
    answer = httpx.get(f"{hub.url}/user/{user}/api/status", headers=hub.headers(token),
                       timeout=5, trust_env=False)
    return answer.status_code == 200


def _server(hub: HubProcess, user: str) -> dict:
    model = httpx.get(f"{hub.api}/users/{user}?include_stopped_servers", headers=hub.headers(),
                      timeout=10, trust_env=False).json()
    return model["servers"][""]


def _proxy_pid(hub: HubProcess) -> int:
    return int(json.loads((hub.tmp_path / "bindery-proxy.json").read_text())["pid"])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _restart_and_time_until_reachable(hub: HubProcess, users: dict[str, str]) -> float:
    """Start the hub again; seconds from its API answering to every server answering."""
    hub.start()
    began = time.monotonic()
    wait_for(lambda: all(_reachable(hub, u, t) for u, t in users.items()), 5,
             f"servers of {sorted(users)} to be reachable again")
    return time.monotonic() - began


def test_kill_9_of_the_hub_adopts_or_replaces_the_proxy_and_restores_servers(
        docker_hub, docker_engine):
    hub = docker_hub(BINDERY_HUB__PROXY__CHECK_INTERVAL="1")
    hub.start()
    tokens = {user: _start(hub, user) for user in ("amy", "bob")}
    assert all(_reachable(hub, u, t) for u, t in tokens.items())
    proxy = _proxy_pid(hub)

    # 1. kill -9 of the hub alone: the proxy keeps running and the restart adopts it.
    #    Meanwhile bob's container dies: he is shown stopped, with why, and can start again.
    hub.process.send_signal(signal.SIGKILL)
    hub.process.wait()
    assert _alive(proxy)
    bob = next(c for c in containers(docker_engine, hub.extra_env["BINDERY_HUB__HUB_ID"])
               if c.labels["bindery.user"] == "bob")
    bob.kill()
    # A start the killed hub never recorded: a container of this hub that no row names.
    hub_id = hub.extra_env["BINDERY_HUB__HUB_ID"]
    instance = bob.labels["bindery.instance"]  # this hub's own identity (its database)
    ghost = docker_engine.containers.run(
        bob.image.id, ["sleep", "300"], detach=True,
        labels={"bindery.hub": hub_id, "bindery.user": "ghost", "bindery.server": "",
                "bindery.instance": instance})
    # Same hub_id, another instance (a second hub side by side): never touched.
    neighbour = docker_engine.containers.run(
        bob.image.id, ["sleep", "300"], detach=True,
        labels={"bindery.hub": hub_id, "bindery.user": "ghost2", "bindery.server": "",
                "bindery.instance": "another-instance"})
    took = _restart_and_time_until_reachable(hub, {"amy": tokens["amy"]})
    left = {c.id for c in containers(docker_engine, hub_id, running_only=False)}
    assert ghost.id not in left and neighbour.id in left
    neighbour.remove(force=True)
    assert "removed ghost/" in hub.log_tail(80)
    assert _proxy_pid(hub) == proxy, "the running proxy was adopted, not replaced"
    assert "adopted" in hub.log_tail(80)
    stopped = _server(hub, "bob")
    assert stopped["stopped"] is True and "exit status 137" in stopped["last_error"]
    tokens["bob"] = _start(hub, "bob")
    assert _server(hub, "bob")["last_error"] is None
    print(f"routes restored {took:.2f} s after the restarted hub answered (proxy adopted)")

    # 2. kill -9 of the hub and its proxy: a new proxy, every route restored.
    hub.process.send_signal(signal.SIGKILL)
    hub.process.wait()
    import os

    os.kill(proxy, signal.SIGKILL)
    wait_for(lambda: not _alive(proxy), 10, "the proxy to die")
    took = _restart_and_time_until_reachable(hub, tokens)
    assert _proxy_pid(hub) != proxy
    print(f"routes restored {took:.2f} s after the restarted hub answered (new proxy)")

    # 2b. kill -9 of the proxy alone under a running hub: the hub starts it again on the
    #     same ports (as JupyterHub does) and puts every route back.
    proxy = _proxy_pid(hub)
    os.kill(proxy, signal.SIGKILL)
    began = time.monotonic()
    wait_for(lambda: _proxy_pid(hub) != proxy and all(_reachable(hub, u, t) for u, t in tokens.items()),
             15, "the proxy to be started again with every route")
    assert "starting it again" in hub.log_tail(80)
    print(f"proxy killed under a running hub: servers reachable again after "
          f"{time.monotonic() - began:.2f} s")

    # 3. Every container killed at once (an engine restart does that to them): both are
    #    shown stopped within the check interval and start again.
    for container in containers(docker_engine, hub.extra_env["BINDERY_HUB__HUB_ID"]):
        container.kill()
    for user in tokens:
        wait_for(lambda u=user: _server(hub, u)["stopped"], 10, f"{user} shown stopped")
        assert "stopped on its own" in _server(hub, user)["last_error"]
    for user in tokens:
        tokens[user] = _start(hub, user)
        assert _reachable(hub, user, tokens[user])

    # 4. SIGTERM with the default cleanup_servers = true: servers and proxy go.
    proxy = _proxy_pid(hub)
    hub.stop()
    assert containers(docker_engine, hub.extra_env["BINDERY_HUB__HUB_ID"], running_only=False) == []
    wait_for(lambda: not _alive(proxy), 10, "the proxy to stop with the hub")
    assert not (hub.tmp_path / "bindery-proxy.json").exists()


def test_cleanup_servers_false_keeps_servers_and_proxy_for_the_next_start(
        docker_hub, docker_engine):
    hub = docker_hub(BINDERY_HUB__CLEANUP_SERVERS="false")
    hub.start()
    token = _start(hub, "cyd")
    proxy = _proxy_pid(hub)
    hub.stop()  # SIGTERM: an upgrade restart
    assert hub.log_tail(5).count("keep running") == 1
    assert _alive(proxy)
    assert len(containers(docker_engine, hub.extra_env["BINDERY_HUB__HUB_ID"])) == 1
    _restart_and_time_until_reachable(hub, {"cyd": token})
    assert _proxy_pid(hub) == proxy


def test_a_proxy_port_held_by_another_program_is_a_clear_error(tmp_path):
    """Something else on the route-API port: the hub says which port and what to do."""
    stranger = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=stranger.serve_forever, daemon=True).start()
    try:
        hub = HubProcess(tmp_path)
        hub.api_port = stranger.server_address[1]
        with pytest.raises(AssertionError):
            hub.start()
        log = hub.log_tail()
        assert f"127.0.0.1:{hub.api_port}" in log and "--proxy-api-port" in log, log
        assert "Traceback" not in log
    finally:
        stranger.shutdown()
