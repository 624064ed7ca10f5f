"""Fixtures for the proxy tests: a real jupyter_server, small upstreams, a stand-in hub auth.

The only stand-in is ``fake_hub_auth``: the hub's authorize endpoint belongs to another
part, so a tiny aiohttp app answers it with the same contract (200/401/403).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import WSMsgType, web

from bindery.hub.proxy.processes import CHP_CACHE, free_port, install_chp
from bindery.proxy.server import ProxyServer
from bindery.proxy.settings import ProxySettings

#: Set it to let the ``/slow-stream`` answer finish.
RELEASE = web.AppKey("release", asyncio.Event)

API_TOKEN = "test-api-token-" + "x" * 16


@dataclass
class JupyterServer:
    url: str
    base_url: str
    token: str


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """A real jupyter_server process at /user/alice/ on loopback, shared by the session."""
    root = tmp_path_factory.mktemp("jupyter")
    port = free_port()
    token = secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "IPYTHONDIR": str(root / "ipython"),
    }
    jupyter = str(Path(sys.executable).parent / "jupyter")
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            jupyter,
            "server",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.base_url=/user/alice/",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.port_retries=0",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError((root / "server.log").read_text()[-2000:])
            try:
                r = httpx.get(
                    f"{url}/user/alice/api/status",
                    headers={"Authorization": f"token {token}"},
                    trust_env=False,
                )
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    "jupyter_server did not start:\n" + (root / "server.log").read_text()[-2000:]
                )
            time.sleep(0.1)
        yield JupyterServer(url=url, base_url="/user/alice/", token=token)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class FakeHubAuth:
    """Stand-in for the hub's ``/hub/api/proxy/authorize`` (the real one is the hub's)."""

    url: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: Where the stand-in hub itself answers (``/hub/login``), for a default route.
    base_url: str = ""

    @staticmethod
    def session_cookie(user: str) -> str:
        return f"bindery-session=session-of-{user}"

    @staticmethod
    def api_token(user: str) -> str:
        return f"apitoken-of-{user}"


async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def fake_hub_auth(anyio_backend: str) -> AsyncIterator[FakeHubAuth]:
    """Answers like the hub: who is this (cookie, token header, link token), who owns the route."""
    state = FakeHubAuth(url="")

    def who(request: web.Request) -> str | None:
        for part in request.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "bindery-session" and value.startswith("session-of-"):
                return value.removeprefix("session-of-")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("token apitoken-of-"):
            return auth.removeprefix("token apitoken-of-")
        link = request.headers.get("X-Bindery-Token", "")
        if link.startswith("linktoken-of-"):
            return link.removeprefix("linktoken-of-")
        return None

    async def authorize(request: web.Request) -> web.Response:
        state.calls.append({"query": dict(request.query), "headers": dict(request.headers)})
        name = who(request)
        if name is None:
            return web.json_response({"message": "not logged in"}, status=401)
        if name != request.query.get("user"):
            return web.json_response({"message": "not yours"}, status=403)
        response = web.json_response({"name": name})
        response.headers.add("Set-Cookie", "bindery-session-refreshed=1; Path=/; HttpOnly")
        return response

    async def login(request: web.Request) -> web.Response:
        """Logs everyone in as alice and sends them back to ``next`` (enough for a browser test)."""
        response = web.Response(status=302, headers={"Location": request.query.get("next", "/")})
        response.headers.add(
            "Set-Cookie", f"{FakeHubAuth.session_cookie('alice')}; Path=/; HttpOnly"
        )
        return response

    async def home(request: web.Request) -> web.Response:
        return web.Response(text="<h1>hub home</h1>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/hub/api/proxy/authorize", authorize)
    app.router.add_get("/hub/login", login)
    app.router.add_get("/hub/home", home)
    runner, base = await _start(app)
    state.base_url = base
    state.url = f"{base}/hub/api/proxy/authorize"
    yield state
    await runner.cleanup()


@dataclass
class Upstream:
    """A small real HTTP + WebSocket server that reports what it received."""

    name: str
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)


def _upstream_app(state: Upstream) -> web.Application:
    async def echo(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            state.seen.append({"path_qs": request.path_qs, "headers": dict(request.headers)})
            async for msg in ws:
                if msg.type is WSMsgType.TEXT and msg.data.startswith("close-"):
                    await ws.close(code=int(msg.data.removeprefix("close-")))
                elif msg.type is WSMsgType.TEXT:
                    await ws.send_str(f"{state.name}:{msg.data}")
                elif msg.type is WSMsgType.BINARY:
                    await ws.send_bytes(msg.data)
            return ws
        if request.path == "/big":
            return web.Response(
                body=bytes(range(256)) * (5 * 1024 * 1024 // 256),
                content_type="application/octet-stream",
            )
        if request.path.endswith("/slow-stream"):
            response = web.StreamResponse()
            await response.prepare(request)
            await response.write(b"first chunk\n")
            await request.app[RELEASE].wait()
            await response.write(b"second chunk\n")
            await response.write_eof()
            return response
        body = await request.read()
        state.seen.append(
            {"path_qs": request.path_qs, "headers": dict(request.headers), "body_len": len(body)}
        )
        return web.json_response(
            {
                "upstream": state.name,
                "path_qs": request.path_qs,
                "host": request.host,
                "headers": dict(request.headers),
                "body_len": len(body),
            }
        )

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RELEASE] = asyncio.Event()
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def upstreams(anyio_backend: str) -> AsyncIterator[dict[str, Upstream]]:
    """Three echo upstreams ``a``, ``b``, ``c`` (distinguishable by name in the answer)."""
    runners = []
    found: dict[str, Upstream] = {}
    for name in ("a", "b", "c"):
        state = Upstream(name=name, url="")
        app = _upstream_app(state)
        runner, state.url = await _start(app)
        state.app = app  # type: ignore[attr-defined]
        runners.append(runner)
        found[name] = state
    yield found
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def proxy(anyio_backend: str, fake_hub_auth: FakeHubAuth) -> AsyncIterator[ProxyServer]:
    """The built-in proxy in-process, on free ports, with edge auth pointed at ``fake_hub_auth``."""
    settings = ProxySettings(
        port=0,
        api_port=0,
        auth_token=API_TOKEN,
        auth_url=fake_hub_auth.url,
        activity_resolution=0.0,
    )
    async with ProxyServer(settings) as server:
        yield server


@pytest.fixture(scope="session")
def chp_executable() -> str:
    """configurable-http-proxy from npm, installed once under ~/.cache/bindery-test/chp."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed, so configurable-http-proxy cannot be installed")
    return install_chp(CHP_CACHE)
