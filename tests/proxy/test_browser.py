"""A real headless Chromium through the proxy: login redirect, cookie, and a kernel WebSocket.

The browser's WebSocket carries an ``Origin`` header that jupyter_server checks against
``Host``; this only passes if the proxy preserves ``Host`` as configurable-http-proxy does.
"""

from __future__ import annotations

import aiohttp
import pytest

from bindery.proxy.server import ProxyServer

from .conftest import FakeHubAuth, JupyterServer

pytestmark = [pytest.mark.anyio, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

RUN_CODE_JS = """
async ([url, msgId]) => new Promise((resolve, reject) => {
  const ws = new WebSocket(url);
  const timer = setTimeout(() => reject(new Error("no answer")), 30000);
  ws.onerror = () => reject(new Error("websocket error"));
  ws.onopen = () => ws.send(JSON.stringify({
    header: {msg_id: msgId, username: "alice", session: "s" + msgId, msg_type: "execute_request",
             version: "5.3", date: ""},
    parent_header: {}, metadata: {}, channel: "shell", buffers: [],
    content: {code: "21 * 2", silent: false, store_history: false, user_expressions: {},
              allow_stdin: false},
  }));
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.parent_header.msg_id === msgId && msg.msg_type === "execute_result") {
      clearTimeout(timer); ws.close(); resolve(msg.content.data["text/plain"]);
    }
  };
})
"""


async def test_browser_logs_in_and_runs_code_through_the_proxy(
    proxy: ProxyServer, jupyter_server: JupyterServer, fake_hub_auth: FakeHubAuth
) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    proxy.table.add("/", fake_hub_auth.base_url)  # the hub (login page)
    proxy.table.add(
        "/user/alice/", jupyter_server.url, {"user": "alice", "server_token": jupyter_server.token}
    )
    base = f"{proxy.public_url}/user/alice"
    async with (
        aiohttp.ClientSession(headers={"Cookie": FakeHubAuth.session_cookie("alice")}) as http,
        http.post(f"{base}/api/kernels", json={"name": "python3"}) as r,
    ):
        kernel_id = (await r.json())["id"]
    try:
        async with playwright_api.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await browser.new_page()
                # Not logged in: the proxy sends the browser to the hub's login, which sends
                # it back.
                response = await page.goto(f"{base}/api/status?from=browser")
                assert response is not None and response.status == 200
                assert page.url == f"{base}/api/status?from=browser"
                assert "kernels" in await page.text_content("body")
                cookies = {c["name"] for c in await page.context.cookies()}
                assert "bindery-session" in cookies
                # Run the kernel from a hub page on the same origin (the JSON page's CSP
                # forbids it).
                await page.goto(f"{proxy.public_url}/hub/home")
                ws_url = f"{base.replace('http://', 'ws://')}/api/kernels/{kernel_id}/channels"
                result = await page.evaluate(RUN_CODE_JS, [ws_url, "browser-1"])
                assert result == "42"
            finally:
                await browser.close()
    finally:
        async with aiohttp.ClientSession(
            headers={"Cookie": FakeHubAuth.session_cookie("alice")}
        ) as http:
            await http.delete(f"{base}/api/kernels/{kernel_id}")
