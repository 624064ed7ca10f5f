"""What the nginx backend does to a request on its way to a user's server.

The same rules as the built-in proxy (tests/proxy/test_edge_auth.py): the hub session
cookie and the client's credentials stop at the proxy, the server gets its own token,
``?token=`` is removed, ``X-Forwarded-For`` is the real peer, WebSockets pass, and a
yes from the hub is reused for a while. Real nginx, real upstream servers; the hub's
authorize endpoint is the stand-in ``fake_hub_auth`` (the real one: test_nginx_hub.py).
"""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from bindery.hub.proxy.nginx_process import NginxProcess

from .conftest import FakeHubAuth, Upstream


@pytest.mark.anyio
async def test_nginx_relays_like_the_builtin_proxy_with_a_standin_hub_auth(
        fake_hub_auth: FakeHubAuth, upstreams: dict[str, Upstream]) -> None:
    async with NginxProcess(auth_url=fake_hub_auth.url,
                            default_target=fake_hub_auth.base_url) as proc:
        client = proc.client()
        try:
            await client.add_route("/user/alice/", upstreams["a"].url,
                                   {"user": "alice", "server_token": "server-token-a"})
            await client.add_route("/services/open/", upstreams["b"].url, {"service": "open"})
            alice = {"Cookie": f"theme=dark; {FakeHubAuth.session_cookie('alice')}; lang=en",
                     "X-Forwarded-For": "203.0.113.9", "Authorization": "token apitoken-of-x"}
            async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
                answer = await http.get(f"{proc.public_url}/user/alice/lab?token=zzz&keep=1",
                                        headers=alice)
                assert answer.status_code == 200, answer.text
                seen = answer.json()
                assert seen["upstream"] == "a" and seen["path_qs"] == "/user/alice/lab?keep=1"
                cookie = seen["headers"]["Cookie"]
                assert "bindery-session" not in cookie and "theme=dark" in cookie
                assert "lang=en" in cookie
                assert seen["headers"]["Authorization"] == "token server-token-a"
                assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"
                assert "bindery-session-refreshed=1" in answer.headers.get("set-cookie", "")

                asked = len(fake_hub_auth.calls)
                again = await http.get(f"{proc.public_url}/user/alice/lab?token=zzz&keep=1",
                                       headers=alice)
                assert again.status_code == 200
                assert len(fake_hub_auth.calls) == asked, "a yes is reused (auth cache)"
                call = fake_hub_auth.calls[-1]
                assert call["query"] == {"user": "alice", "path": "/user/alice/"}
                assert call["headers"]["X-Bindery-Proxy-Token"] == proc.auth_token

                bob = {"Cookie": FakeHubAuth.session_cookie("bob")}
                assert (await http.get(f"{proc.public_url}/user/alice/", headers=bob)).status_code == 403
                assert (await http.get(f"{proc.public_url}/user/alice/")).status_code == 401
                # Two link tokens: both removed; three: refused rather than one passed on.
                twice = await http.get(f"{proc.public_url}/user/alice/x?token=a&k=1&token=b",
                                       headers=alice)
                assert twice.json()["path_qs"] == "/user/alice/x?k=1"
                thrice = await http.get(f"{proc.public_url}/user/alice/x?token=a&token=b&token=c",
                                        headers=alice)
                assert thrice.status_code == 400
                # A route without a user: no login check, the query and headers pass as sent.
                open_answer = await http.get(f"{proc.public_url}/services/open/x?token=t")
                assert open_answer.json()["path_qs"] == "/services/open/x?token=t"
                # No route: the default target (the stand-in hub) answers.
                assert "hub home" in (await http.get(f"{proc.public_url}/hub/home")).text

            ws_url = proc.public_url.replace("http://", "ws://") + "/user/alice/api/kernels/ws"
            async with aiohttp.ClientSession() as session, session.ws_connect(
                    ws_url, headers={"Cookie": FakeHubAuth.session_cookie("alice")}) as ws:
                await ws.send_str("hello")
                reply = await ws.receive(timeout=10)
                assert reply.data == "a:hello"
                await ws.send_bytes(b"\x00\x01")
                assert (await ws.receive(timeout=10)).data == b"\x00\x01"

            routes = await client.get_all_routes()
            assert routes["/user/alice/"]["last_activity"] is not None
        finally:
            await client.aclose()
