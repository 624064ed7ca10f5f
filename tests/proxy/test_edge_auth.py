"""Edge authentication: only the owner reaches a user's server, and never with hub credentials.

The hub's authorize endpoint is the stand-in ``fake_hub_auth`` (the real one is the hub's).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bindery.proxy.server import ProxyServer

from .conftest import API_TOKEN, FakeHubAuth, Upstream

pytestmark = pytest.mark.anyio

SERVER_TOKEN = "server-secret-of-alice"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def alice_route(proxy: ProxyServer, upstreams: dict[str, Upstream]) -> Upstream:
    proxy.table.add(
        "/user/alice/", upstreams["a"].url, {"user": "alice", "server_token": SERVER_TOKEN}
    )
    proxy.table.add("/", upstreams["c"].url)  # the hub: no user data, passes untouched
    return upstreams["a"]


async def _get(url: str, **kwargs):  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http, http.get(url, allow_redirects=False, **kwargs) as r:
        return r.status, dict(r.headers), r.headers.getall("Set-Cookie", []), await r.text()


async def test_browser_without_login_is_sent_to_login_page(
    proxy: ProxyServer, alice_route: Upstream
) -> None:
    status, headers, _, _ = await _get(
        proxy.public_url + "/user/alice/lab/tree/a b.ipynb?kernel=1", headers=BROWSER
    )
    assert status == 302
    location = urlsplit(headers["Location"])
    assert location.path == "/hub/login"
    assert parse_qs(location.query)["next"] == ["/user/alice/lab/tree/a%20b.ipynb?kernel=1"]
    assert alice_route.seen == []


async def test_program_without_login_gets_401_json(
    proxy: ProxyServer, alice_route: Upstream
) -> None:
    status, headers, _, body = await _get(proxy.public_url + "/user/alice/api/status")
    assert status == 401
    assert headers["Content-Type"].startswith("application/json")
    assert "log in" in body
    assert alice_route.seen == []


async def test_other_user_gets_403_page(proxy: ProxyServer, alice_route: Upstream) -> None:
    status, _, _, page = await _get(
        proxy.public_url + "/user/alice/lab",
        headers={**BROWSER, "Cookie": FakeHubAuth.session_cookie("mallory")},
    )
    assert status == 403
    assert "This server belongs to another user" in page
    assert alice_route.seen == []


async def test_owner_reaches_server_without_leaking_browser_credentials(
    proxy: ProxyServer, alice_route: Upstream, fake_hub_auth: FakeHubAuth
) -> None:
    cookie = f"_xsrf=abc; {FakeHubAuth.session_cookie('alice')}; theme=dark"
    status, _, set_cookies, body = await _get(
        proxy.public_url + "/user/alice/api/contents?a=1", headers={"Cookie": cookie}
    )
    assert status == 200, body
    seen = alice_route.seen[-1]["headers"]
    # every hub cookie (session, _xsrf) is gone, the server's own cookies stay
    assert seen["Cookie"] == "theme=dark"
    assert seen["Authorization"] == f"token {SERVER_TOKEN}"
    assert "session-of-alice" not in str(seen)
    # the hub saw who asked and for what
    call = fake_hub_auth.calls[-1]
    assert call["query"] == {"user": "alice", "path": "/user/alice/api/contents"}
    # the proxy proved itself with its secret in a header, never in the URL
    assert call["headers"]["X-Bindery-Proxy-Token"] == API_TOKEN
    # cookies the hub sets (session refresh) reach the browser
    assert any(c.startswith("bindery-session-refreshed=1") for c in set_cookies)


async def test_api_token_is_replaced_by_server_token(
    proxy: ProxyServer, alice_route: Upstream
) -> None:
    status, _, _, _ = await _get(
        proxy.public_url + "/user/alice/api/status",
        headers={"Authorization": f"token {FakeHubAuth.api_token('alice')}"},
    )
    assert status == 200
    assert alice_route.seen[-1]["headers"]["Authorization"] == f"token {SERVER_TOKEN}"


async def test_link_token_is_checked_and_removed(
    proxy: ProxyServer, alice_route: Upstream, fake_hub_auth: FakeHubAuth
) -> None:
    status, _, _, _ = await _get(proxy.public_url + "/user/alice/lab?token=linktoken-of-alice&x=1")
    assert status == 200
    assert alice_route.seen[-1]["path_qs"] == "/user/alice/lab?x=1"
    assert fake_hub_auth.calls[-1]["headers"]["X-Bindery-Token"] == "linktoken-of-alice"


async def test_positive_answers_are_cached(
    proxy: ProxyServer, alice_route: Upstream, fake_hub_auth: FakeHubAuth
) -> None:
    headers = {"Cookie": FakeHubAuth.session_cookie("alice")}
    for _ in range(5):
        assert (await _get(proxy.public_url + "/user/alice/api/status", headers=headers))[0] == 200
    assert len(fake_hub_auth.calls) == 1
    # a different user with the same path is asked about separately, and refused
    other = {"Cookie": FakeHubAuth.session_cookie("mallory")}
    assert (await _get(proxy.public_url + "/user/alice/api/status", headers=other))[0] == 403
    assert len(fake_hub_auth.calls) == 2


async def test_routes_without_user_pass_untouched(
    proxy: ProxyServer,
    alice_route: Upstream,
    upstreams: dict[str, Upstream],
    fake_hub_auth: FakeHubAuth,
) -> None:
    cookie = FakeHubAuth.session_cookie("alice")
    status, _, _, _ = await _get(
        proxy.public_url + "/hub/home?token=t",
        headers={"Cookie": cookie, "Authorization": "token hub-api"},
    )
    assert status == 200
    seen = upstreams["c"].seen[-1]
    assert seen["headers"]["Cookie"] == cookie
    assert seen["headers"]["Authorization"] == "token hub-api"
    assert seen["path_qs"] == "/hub/home?token=t"
    assert fake_hub_auth.calls == []


async def test_websocket_upgrade_is_checked_before_upgrading(
    proxy: ProxyServer, alice_route: Upstream
) -> None:
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(proxy.public_url + "/user/alice/ws")
        assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(
                proxy.public_url + "/user/alice/ws",
                headers={"Cookie": FakeHubAuth.session_cookie("mallory")},
            )
        assert refused.value.status == 403
        assert alice_route.seen == []
        async with http.ws_connect(
            proxy.public_url + "/user/alice/ws",
            headers={"Cookie": FakeHubAuth.session_cookie("alice")},
        ) as ws:
            await ws.send_str("hi")
            assert await ws.receive_str(timeout=5) == "a:hi"
    seen = alice_route.seen[-1]["headers"]
    assert seen["Authorization"] == f"token {SERVER_TOKEN}"
    assert "bindery-session" not in seen.get("Cookie", "")


async def test_hub_unreachable_is_a_clear_503(
    upstreams: dict[str, Upstream], anyio_backend: str
) -> None:
    from bindery.hub.proxy.processes import free_port
    from bindery.proxy.settings import ProxySettings

    settings = ProxySettings(
        port=0,
        api_port=0,
        auth_token="t",
        auth_url=f"http://127.0.0.1:{free_port()}/hub/api/proxy/authorize",
    )
    async with ProxyServer(settings) as proxy:
        proxy.table.add("/user/alice/", upstreams["a"].url, {"user": "alice", "server_token": "s"})
        status, _, _, body = await _get(
            proxy.public_url + "/user/alice/api",
            headers={"Cookie": FakeHubAuth.session_cookie("alice")},
        )
    assert status == 503
    assert "hub could not be reached" in body
    assert upstreams["a"].seen == []


async def test_rejected_link_token_is_not_kept_in_login_redirect(
    proxy: ProxyServer, alice_route: Upstream
) -> None:
    status, headers, _, _ = await _get(
        proxy.public_url + "/user/alice/lab?token=stolen&x=1", headers=BROWSER
    )
    assert status == 302
    assert parse_qs(urlsplit(headers["Location"]).query)["next"] == ["/user/alice/lab?x=1"]


def test_auth_cache_is_bounded_and_expires() -> None:
    from bindery.proxy.edge_auth import TtlLru

    cache = TtlLru(max_size=2, ttl=30)
    cache.put("a", now=0)
    cache.put("b", now=1)
    assert cache.hit("a", now=2)  # a is now the most recently used
    cache.put("c", now=3)  # evicts b, the least recently used
    assert len(cache) == 2
    assert not cache.hit("b", now=4)
    assert cache.hit("a", now=4) and cache.hit("c", now=4)
    assert not cache.hit("a", now=31)  # expired


async def test_malformed_owner_is_refused_by_the_api(proxy: ProxyServer) -> None:
    """A route with a broken ``user`` must not silently become a route without any check."""
    import httpx

    async with httpx.AsyncClient(
        base_url=proxy.api_url, trust_env=False, headers={"Authorization": f"token {API_TOKEN}"}
    ) as api:
        for bad in ({"user": 42}, {"user": ""}, {"user": "alice", "server_token": None}):
            r = await api.post(
                "/api/routes/user/alice", json={"target": "http://127.0.0.1:9", **bad}
            )
            assert r.status_code == 400, bad
            assert "non-empty string" in r.json()["message"]
    assert proxy.table.get("/user/alice/") is None
