"""The nginx backend removes every copy of the hub session cookie, not only the first.

Found while building the backend: a user's server can set a cookie named
``bindery-session`` for its own path (``/user/bob/``). A visitor's browser then sends
both, the server's first (more specific path) and the visitor's real hub session after
it. Removing only the first copy handed the visitor's hub session to bob's server.
Now every copy is removed, and a request carrying more copies than nginx removes is
refused. Real nginx; the hub's authorize endpoint is the stand-in ``fake_hub_auth``.
"""

from __future__ import annotations

import httpx
import pytest
from proxy.conftest import FakeHubAuth, Upstream, fake_hub_auth, upstreams  # noqa: F401 - fixtures

from bindery.hub.proxy.nginx_config import COOKIE_PASSES
from bindery.hub.proxy.nginx_process import NginxProcess


@pytest.mark.anyio
async def test_a_servers_own_session_named_cookie_does_not_smuggle_the_visitors_session(
        fake_hub_auth: FakeHubAuth, upstreams: dict[str, Upstream]) -> None:  # noqa: F811
    async with NginxProcess(auth_url=fake_hub_auth.url) as proc:
        client = proc.client()
        try:
            # bob's server; alice visits it (the stand-in hub lets the owner in: bob).
            await client.add_route("/user/bob/", upstreams["b"].url,
                                   {"user": "bob", "server_token": "server-token-b"})
            planted = "bindery-session=set-by-bobs-server"
            real = FakeHubAuth.session_cookie("bob")
            async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
                answer = await http.get(f"{proc.public_url}/user/bob/api",
                                        headers={"Cookie": f"{planted}; {real}; theme=1"})
                assert answer.status_code == 200, answer.text
                forwarded = answer.json()["headers"].get("Cookie", "")
                assert "bindery-session" not in forwarded and "theme=1" in forwarded

                reached = len(upstreams["b"].seen)
                too_many = "; ".join([planted] * COOKIE_PASSES + [real])
                refused = await http.get(f"{proc.public_url}/user/bob/api",
                                         headers={"Cookie": too_many})
                assert refused.status_code == 400
                assert len(upstreams["b"].seen) == reached, "refused before the server"
        finally:
            await client.aclose()
