"""A real jupyter_server behind the proxy: what a user's browser does, end to end."""

from __future__ import annotations

import json
import uuid

import aiohttp
import pytest

from bindery.proxy.server import ProxyServer

from .conftest import FakeHubAuth, JupyterServer

pytestmark = pytest.mark.anyio


def _route_data(server: JupyterServer) -> dict[str, str]:
    return {"user": "alice", "server_token": server.token}


async def test_status_through_proxy_with_injected_server_token(
    proxy: ProxyServer, jupyter_server: JupyterServer
) -> None:
    """Alice's browser only has her hub session; the proxy supplies the server's token."""
    proxy.table.add("/user/alice/", jupyter_server.url, _route_data(jupyter_server))
    cookie = FakeHubAuth.session_cookie("alice")
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{proxy.public_url}/user/alice/api/status", headers={"Cookie": cookie}) as r,
    ):
        assert r.status == 200, await r.text()
        status = await r.json()
    assert "started" in status and "kernels" in status
    # Without the proxy's injection the same server refuses the request.
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{jupyter_server.url}/user/alice/api/status", headers={"Cookie": cookie}) as r,
    ):
        assert r.status == 403


async def test_kernel_execute_round_trip_over_websocket(
    proxy: ProxyServer, jupyter_server: JupyterServer
) -> None:
    """Start a kernel via REST and run code over the kernel WebSocket, both through the proxy."""
    proxy.table.add("/user/alice/", jupyter_server.url, _route_data(jupyter_server))
    headers = {"Cookie": FakeHubAuth.session_cookie("alice")}
    base = f"{proxy.public_url}/user/alice"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/api/kernels", json={"name": "python3"}) as r:
            assert r.status == 201, await r.text()
            kernel_id = (await r.json())["id"]
        try:
            msg_id = uuid.uuid4().hex
            request = {
                "header": {
                    "msg_id": msg_id,
                    "username": "alice",
                    "session": uuid.uuid4().hex,
                    "msg_type": "execute_request",
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {
                    "code": "print('hello from', 'the kernel')\n6 * 7",
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
            }
            stream_text, result = "", None
            async with http.ws_connect(f"{base}/api/kernels/{kernel_id}/channels") as ws:
                await ws.send_str(json.dumps(request))
                async with aiohttp_timeout(60):
                    async for message in ws:
                        data = json.loads(message.data)
                        if data.get("parent_header", {}).get("msg_id") != msg_id:
                            continue
                        kind = data["msg_type"]
                        if kind == "stream":
                            stream_text += data["content"]["text"]
                        elif kind == "execute_result":
                            result = data["content"]["data"]["text/plain"]
                        elif kind == "status" and data["content"]["execution_state"] == "idle":
                            break
            assert stream_text == "hello from the kernel\n"
            assert result == "42"
            # JupyterLab 4 asks for the v1 kernel protocol; the upstream's choice must come back.
            v1 = "v1.kernel.websocket.jupyter.org"
            async with http.ws_connect(
                f"{base}/api/kernels/{kernel_id}/channels", protocols=[v1]
            ) as ws:
                assert ws.protocol == v1
        finally:
            async with http.delete(f"{base}/api/kernels/{kernel_id}") as r:
                assert r.status == 204


def aiohttp_timeout(seconds: float):  # type: ignore[no-untyped-def]
    import asyncio

    return asyncio.timeout(seconds)
