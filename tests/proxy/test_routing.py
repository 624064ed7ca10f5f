"""Routing and relaying as users notice them: right server, live WebSockets, streaming, errors."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import yarl

from bindery.hub.proxy.processes import free_port
from bindery.proxy.server import ProxyServer

from .conftest import RELEASE, Upstream

pytestmark = pytest.mark.anyio


async def _get_json(url: str, **kwargs) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http, http.get(url, **kwargs) as r:
        return r.status, await r.json(content_type=None)


async def test_longest_prefix_wins_on_whole_segments(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    proxy.table.add("/", upstreams["c"].url)
    proxy.table.add("/user/", upstreams["b"].url)
    proxy.table.add("/user/alice/", upstreams["a"].url)
    expect = {
        "/user/alice/lab?x=1": "a",
        "/user/alice": "a",
        "/user/alicex/tree": "b",  # a prefix of the name is not a prefix of the path
        "/user/bob/": "b",
        "/hub/home": "c",
    }
    for path, name in expect.items():
        status, body = await _get_json(proxy.public_url + path)
        assert status == 200
        assert body["upstream"] == name, path
        assert body["path_qs"] == path  # full path, no prefix stripping


async def test_host_and_forwarded_headers(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    proxy.table.add("/user/alice/", upstreams["a"].url)
    status, body = await _get_json(
        proxy.public_url + "/user/alice/x", headers={"Host": "lab.example.org"}
    )
    assert status == 200
    assert body["host"] == "lab.example.org"
    assert body["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert body["headers"]["X-Forwarded-Proto"] == "http"
    assert body["headers"]["X-Forwarded-Host"] == "lab.example.org"


async def test_no_route_is_a_clear_404(proxy: ProxyServer) -> None:
    status, body = await _get_json(proxy.public_url + "/nowhere")
    assert status == 404
    assert "No server is mapped at /nowhere" in body["message"]


async def test_upstream_down_gives_not_running_page(proxy: ProxyServer) -> None:
    proxy.table.add("/user/gone/", f"http://127.0.0.1:{free_port()}")
    async with (
        aiohttp.ClientSession() as http,
        http.get(proxy.public_url + "/user/gone/lab", headers={"Accept": "text/html"}) as r,
    ):
        assert r.status == 503
        page = await r.text()
    assert "The server is not running" in page
    assert "Traceback" not in page


async def test_websocket_survives_route_changes(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    proxy.table.add("/user/alice/", upstreams["a"].url)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(proxy.public_url + "/user/alice/ws") as ws,
    ):
        await ws.send_str("one")
        assert (await ws.receive_str(timeout=5)) == "a:one"
        proxy.table.add("/user/bob/", upstreams["b"].url)
        proxy.table.remove("/user/bob/")
        proxy.table.add("/user/", upstreams["c"].url)
        proxy.table.remove("/user/alice/")  # even its own route going away keeps it open
        await ws.send_str("two")
        assert (await ws.receive_str(timeout=5)) == "a:two"
        # new connections follow the new table
        status, body = await _get_json(proxy.public_url + "/user/alice/x")
        assert body["upstream"] == "c"


async def test_large_bodies_stream_both_ways(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    proxy.table.add("/", upstreams["a"].url)
    payload = b"x" * (20 * 1024 * 1024)
    async with (
        aiohttp.ClientSession() as http,
        http.post(proxy.public_url + "/upload", data=payload) as r,
    ):
        assert r.status == 200
        assert (await r.json())["body_len"] == len(payload)
        # a client that asks "Expect: 100-continue" is told to go on at once (no stall)
        async with asyncio.timeout(5):
            async with http.put(
                proxy.public_url + "/upload", data=payload[:1_000_000], expect100=True
            ) as r:
                assert (await r.json())["body_len"] == 1_000_000
        # the first chunk of a response arrives while the upstream is still producing it
        async with http.get(proxy.public_url + "/events/slow-stream") as r:
            first = await asyncio.wait_for(r.content.readline(), 5)
            assert first == b"first chunk\n"
            upstreams["a"].app[RELEASE].set()  # type: ignore[attr-defined]
            assert await r.content.readline() == b"second chunk\n"


async def test_last_activity_moves_on_requests_and_websocket_messages(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    route = proxy.table.add("/user/alice/", upstreams["a"].url)
    route.last_activity = time.time() - 3600
    await _get_json(proxy.public_url + "/user/alice/api")
    after_http = route.last_activity
    assert time.time() - after_http < 5
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(proxy.public_url + "/user/alice/ws") as ws,
    ):
        route.last_activity = time.time() - 3600
        await ws.send_str("ping")
        await ws.receive_str(timeout=5)
        assert time.time() - route.last_activity < 5
    # a request the server could not answer does not count as activity (as in CHP)
    dead = proxy.table.add("/user/dead/", f"http://127.0.0.1:{free_port()}")
    dead.last_activity = before = time.time() - 3600
    status, _ = await _get_json(proxy.public_url + "/user/dead/api")
    assert status == 503
    assert dead.last_activity == before


async def test_stopping_the_proxy_closes_open_websockets(upstreams: dict[str, Upstream]) -> None:
    from bindery.proxy.settings import ProxySettings

    server = ProxyServer(
        ProxySettings(port=0, api_port=0, auth_token="t", default_target=upstreams["a"].url)
    )
    await server.start()
    async with aiohttp.ClientSession() as http, http.ws_connect(server.public_url + "/ws") as ws:
        await ws.send_str("x")
        assert await ws.receive_str(timeout=5) == "a:x"
        async with asyncio.timeout(10):
            await server.stop()
            closing = await ws.receive()
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == aiohttp.WSCloseCode.GOING_AWAY


async def test_binary_messages_and_close_codes_pass_through(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    proxy.table.add("/", upstreams["b"].url)
    async with aiohttp.ClientSession() as http, http.ws_connect(proxy.public_url + "/ws") as ws:
        await ws.send_bytes(b"\x00\x01binary")
        assert await ws.receive_bytes(timeout=5) == b"\x00\x01binary"
        await ws.send_str("close-4001")
        closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE
    assert closing.data == 4001


async def test_large_download_arrives_intact(
    proxy: ProxyServer, upstreams: dict[str, Upstream]
) -> None:
    proxy.table.add("/", upstreams["c"].url)
    async with aiohttp.ClientSession() as http, http.get(proxy.public_url + "/big") as r:
        assert r.status == 200
        assert r.content_length == 5 * 1024 * 1024
        body = await r.read()
    assert body == bytes(range(256)) * (5 * 1024 * 1024 // 256)


async def test_dot_segments_are_refused(proxy: ProxyServer, upstreams: dict[str, Upstream]) -> None:
    """``/user/bob/../alice/`` must not reach a server by one route while meaning another."""
    proxy.table.add("/user/bob/", upstreams["b"].url)
    for raw in ("/user/bob/../alice/api", "/user/bob/%2e%2e/alice/api", "/user/bob/./x"):
        async with (
            aiohttp.ClientSession() as http,
            http.get(yarl.URL(proxy.public_url + raw, encoded=True)) as r,
        ):
            assert r.status == 400, raw
            assert "'..'" in (await r.json())["message"]
    assert upstreams["b"].seen == []
    status, _ = await _get_json(proxy.public_url + "/user/bob/.hidden/file")  # dot files are fine
    assert status == 200
