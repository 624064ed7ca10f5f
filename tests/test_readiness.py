"""The readiness probe against real HTTP servers on loopback (a slow starter, a wrong token)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bindery.readiness import NotReady, status_url, wait_until_ready

pytestmark = pytest.mark.anyio


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_status_url_joins_server_and_base_url() -> None:
    assert status_url("http://127.0.0.1:5/", "/user/a/") == "http://127.0.0.1:5/user/a/api/status"
    assert status_url("http://127.0.0.1:5", "user/a") == "http://127.0.0.1:5/user/a/api/status"
    assert status_url("http://127.0.0.1:5") == "http://127.0.0.1:5/api/status"


def _serve(ready_after: float, token: str, port: int) -> Iterator[ThreadingHTTPServer]:
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if time.monotonic() - started < ready_after:
                self.send_response(503)
            elif self.headers.get("Authorization") != f"token {token}":
                self.send_response(403)
            elif self.path != "/user/a/api/status":
                self.send_response(404)
            else:
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


async def test_waits_until_the_server_is_up() -> None:
    port = _free_port()
    gen = _serve(0.6, "t0k", port)
    next(gen)
    try:
        waited = await wait_until_ready(
            status_url(f"http://127.0.0.1:{port}", "/user/a/"), "t0k", 10
        )
        assert 0.5 <= waited < 5
    finally:
        gen.close()


async def test_wrong_token_fails_fast_with_a_clear_message() -> None:
    port = _free_port()
    gen = _serve(0, "right", port)
    next(gen)
    try:
        began = time.monotonic()
        with pytest.raises(NotReady, match="rejected its token"):
            await wait_until_ready(status_url(f"http://127.0.0.1:{port}", "/user/a/"), "wrong", 30)
        assert time.monotonic() - began < 5
    finally:
        gen.close()


async def test_nothing_listening_times_out() -> None:
    port = _free_port()
    began = time.monotonic()
    with pytest.raises(NotReady, match=r"did not answer within 0.5 s \(connection failed"):
        await wait_until_ready(status_url(f"http://127.0.0.1:{port}"), "t", 0.5)
    assert time.monotonic() - began < 3


async def test_a_dead_server_ends_the_wait_early() -> None:
    async def dead() -> bool:
        return False

    port = _free_port()
    began = time.monotonic()
    with pytest.raises(NotReady, match="exited before it answered"):
        await wait_until_ready(status_url(f"http://127.0.0.1:{port}"), "t", 30, is_alive=dead)
    assert time.monotonic() - began < 3
