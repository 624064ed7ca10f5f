"""Issue 8, finding 2 on a public binder: ``bindery serve`` with a wildcard host.

With ``[hub] subdomain_host`` set, a binder launch ends on the visitor's own origin
(``http://<name>.bindery.localhost:PORT/user/<name>/``): the whole ``bindery serve`` stack
(proxy with host routing, hub with the Docker spawner, the binder's hub client) routes
the visitor's server by host only, and its link token opens it there.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest
from binder.conftest import PREFIX, StackThread
from hub.conftest import free_port
from spawners.conftest import docker_engine, spawner_image  # noqa: F401 - pytest fixtures

from bindery.binder.hub_client import ServerReady
from bindery.commands.serve import BinderStack
from bindery.composition import Settings
from bindery.hub.origins import dns_label

pytestmark = [pytest.mark.engine, pytest.mark.slow]

IMAGE = f"{PREFIX}/origins-test:1"


@pytest.fixture(scope="module")
def subdomain_binder(tmp_path_factory: pytest.TempPathFactory, spawner_image: str  # noqa: F811
                     ) -> Iterator[tuple[StackThread, int]]:
    subprocess.run(["/usr/bin/docker", "tag", spawner_image, IMAGE], check=True)
    port = free_port()
    s = Settings()
    s.builder.image_prefix = PREFIX
    s.builder.work_dir = tmp_path_factory.mktemp("origins-work")
    s.binder.data_dir = str(tmp_path_factory.mktemp("origins-data"))
    s.binder.warm_pool_size = 0
    s.hub.subdomain_host = f"bindery.localhost:{port}"
    running = StackThread(s)
    running.stack = BinderStack(s, port=port)
    running.url = running.stack.url
    running.start()
    try:
        yield running, port
    finally:
        running.stop()


async def _launch(hub, user: str) -> str:
    async for step in hub.launch(user, IMAGE, 120):
        if isinstance(step, ServerReady):
            return step.url_path
    raise AssertionError("no ready event")


def test_a_launch_lands_on_the_visitors_own_origin(subdomain_binder):
    running, port = subdomain_binder
    hub = running.service.hub
    user = "tmp-origin-visitor"
    where = running.call(_launch(hub, user), timeout=180)
    host = f"{dns_label(user)}.bindery.localhost:{port}"
    assert where == f"http://{host}/user/{user}/"
    token = running.call(hub.create_token(user))
    path = f"/user/{user}/api/status"
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False) as http:
        # On the visitor's host the link token opens the server ...
        opened = http.get(f"{path}?token={token}", headers={"Host": host})
        assert opened.status_code == 200, opened.text
        # ... and leaves a pass for that host and path only (no Domain: no other host gets it).
        pass_cookie = next(c for c in opened.headers.get_list("set-cookie")
                           if c.startswith("bindery-server="))
        assert "Domain" not in pass_cookie and f"Path=/user/{user}/" in pass_cookie
        # The same path on the hub's own host (or any other) is not the visitor's server.
        for other in (f"bindery.localhost:{port}", f"127.0.0.1:{port}",
                      f"someone-else.bindery.localhost:{port}"):
            elsewhere = http.get(f"{path}?token={token}", headers={"Host": other})
            assert "started" not in elsewhere.text, other
    running.call(hub.delete_user(user), timeout=60)
