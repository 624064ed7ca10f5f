"""Issue 8, finding 3 reproduced through a whole ``bindery serve`` stack (real proxy, real
hub with the Docker spawner, the binder), as the review did: on the binder's public port,
``/hub/login`` must not mint users, and a temporary user's browser session (the kind a
binder launch makes) must not start servers through ``/hub/api``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from binder.conftest import PREFIX, StackThread
from hub.conftest import page_xsrf

from bindery.composition import Settings

pytestmark = [pytest.mark.engine, pytest.mark.slow]

SESSION_COOKIE = "bindery-session"
XSRF_COOKIE = "_xsrf"


@pytest.fixture(scope="module")
def public_binder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackThread]:
    s = Settings()
    s.builder.image_prefix = PREFIX
    s.builder.work_dir = tmp_path_factory.mktemp("visitor-work")
    s.binder.data_dir = str(tmp_path_factory.mktemp("visitor-data"))
    s.binder.warm_pool_size = 0
    running = StackThread(s).start()
    try:
        yield running
    finally:
        running.stop()


def test_hub_login_on_the_binder_port_mints_nobody(public_binder):
    with httpx.Client(base_url=public_binder.url, timeout=30, trust_env=False) as http:
        for _ in range(3):
            answer = http.get("hub/login", follow_redirects=False)
            assert answer.status_code == 403, answer.text
            assert SESSION_COOKIE not in answer.cookies
    users = public_binder.call(public_binder.service.hub.list_users())
    assert [u["name"] for u in users if u["name"].startswith("tmp-")] == []


def test_a_visitor_session_cannot_start_servers_through_the_proxy(public_binder):
    hub_client = public_binder.service.hub
    name = "tmp-keen-heron-5ec0de"
    public_binder.call(hub_client.create_user(name))
    try:
        cookie = public_binder.stack.hub.login_cookie(name)
        with httpx.Client(base_url=public_binder.url, timeout=30, trust_env=False,
                          cookies={SESSION_COOKIE: cookie}) as http:
            me = http.get("hub/api/user")
            assert me.status_code == 200 and me.json()["name"] == name
            headers = {"X-XSRFToken": page_xsrf(http, "hub/home")}
            for tail, body in (("server", {"image": f"{PREFIX}/anything:latest"}),
                               ("servers/a", {}), ("servers/b", {})):
                answer = http.post(f"hub/api/users/{name}/{tail}", json=body, headers=headers)
                assert answer.status_code == 403, (tail, answer.text)
        user = public_binder.call(hub_client.get_user(name))
        assert user is not None and user["servers"] == {}
    finally:
        public_binder.call(hub_client.delete_user(name))
