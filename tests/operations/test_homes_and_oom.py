"""No lost work and no silent deaths: a user's file survives a cull and a restart of
their server (per-server home volume, removed with the user), and a server killed for
using too much memory says so, in the API and on the home page."""

from __future__ import annotations

import json

import httpx
import pytest

from bindery.hub.spawners.naming import home_volume_name

from .conftest import containers, wait_for
from .test_hub_recovery import _server, _start

pytestmark = [pytest.mark.engine, pytest.mark.slow]

#: Runs Jupyter as a child, and once /tmp/eat exists allocates memory until the kernel's
#: OOM killer ends it: the container's main process dies of it, as a runaway notebook's would.
EATER = (
    "import os, subprocess, sys, time\n"
    "server = subprocess.Popen(sys.argv[1:])\n"
    "hoard = []\n"
    "while server.poll() is None:\n"
    "    if os.path.exists('/tmp/eat'):\n"
    "        hoard.append(b'x' * (16 << 20))\n"
    "    else:\n"
    "        time.sleep(0.2)\n"
)


def test_files_survive_a_cull_and_go_with_the_user(docker_hub, docker_engine):
    hub = docker_hub()
    hub.start()
    hub_id = hub.extra_env["BINDERY_HUB__HUB_ID"]
    user = "ada.l_x-1"  # dots, underscores and dashes: the volume name must stay unambiguous
    token = _start(hub, user)
    contents = f"{hub.url}/user/{user}/api/contents/work.txt"
    with httpx.Client(trust_env=False, timeout=30, headers=hub.headers(token)) as http:
        saved = http.put(contents, json={"type": "file", "format": "text", "content": "kept"})
        assert saved.status_code in (200, 201), saved.text
        # Culled (the culler stops servers exactly like this), then started again.
        assert http.delete(f"{hub.api}/users/{user}/server", headers=hub.headers()).status_code == 204
        assert containers(docker_engine, hub_id) == []
    token = _start(hub, user)
    with httpx.Client(trust_env=False, timeout=30, headers=hub.headers(token)) as http:
        again = http.get(contents)
        assert again.status_code == 200 and again.json()["content"] == "kept"
    volume = docker_engine.volumes.get(home_volume_name(user))
    assert volume.attrs["Labels"]["bindery.user"] == user
    # Deleting the user through the API removes the home for good.
    gone = httpx.delete(f"{hub.api}/users/{user}", headers=hub.headers(), timeout=60)
    assert gone.status_code == 204
    assert docker_engine.volumes.list(filters={"label": f"bindery.hub={hub_id}"}) == []


def test_a_server_killed_for_memory_says_why(docker_hub, docker_engine):
    hub = docker_hub(
        BINDERY_HUB__SPAWNER__MEM_LIMIT="256m",
        BINDERY_HUB__SPAWNER__SERVER_COMMAND=json.dumps(["python3", "-c", EATER, "jupyter", "lab"]),
    )
    hub.start()
    _start(hub, "eve")
    (container,) = containers(docker_engine, hub.extra_env["BINDERY_HUB__HUB_ID"])
    assert container.exec_run(["touch", "/tmp/eat"]).exit_code == 0
    wait_for(lambda: _server(hub, "eve")["stopped"], 60, "the server to be shown stopped")
    reason = _server(hub, "eve")["last_error"]
    assert "ran out of memory (limit 256m)" in reason, reason
    # The person sees it on their home page.
    page = httpx.get(f"{hub.url}/hub/home", cookies={"bindery-session": hub.login_cookie("eve")},
                     timeout=10, trust_env=False)
    assert page.status_code == 200 and "ran out of memory" in page.text
    # And can start it again (the reason goes once it runs).
    _start(hub, "eve")
    assert _server(hub, "eve")["last_error"] is None
