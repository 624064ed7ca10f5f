"""The relay's lean keep-alive client (bindery/proxy/upstream.py) where it differs from aiohttp's.

Upstreams here are raw asyncio servers, so each test controls exactly what a misbehaving
or ordinary server does on the wire: closing idle kept-alive connections, dying in the
middle of a body, answering in many small pieces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from bindery.proxy.server import ProxyServer

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


@pytest.fixture
async def raw_upstream(anyio_backend: str) -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


async def test_connections_are_kept_alive_and_reused(
        proxy: ProxyServer, raw_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    connections = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        try:
            while True:
                head = await _read_head(reader)
                body = head.split(b" ", 2)[1]
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    proxy.table.add("/", await raw_upstream(serve))
    async with httpx.AsyncClient(trust_env=False) as http:
        for i in range(20):
            answer = await http.get(f"{proxy.public_url}/n/{i}?q=1")
            assert answer.status_code == 200 and answer.text == f"/n/{i}?q=1"
    assert len(connections) == 1


async def test_an_idle_connection_the_server_closed_is_retried_on_a_fresh_one(
        proxy: ProxyServer, raw_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """Servers close idle keep-alive connections whenever they like; users must not notice."""
    served = []

    async def serve_one_then_hang_up(reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        served.append(1)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()  # no "Connection: close" said: the proxy keeps it, then finds it dead

    proxy.table.add("/", await raw_upstream(serve_one_then_hang_up))
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(3):
            answer = await http.get(f"{proxy.public_url}/x")
            assert (answer.status_code, answer.text) == (200, "ok")
            await asyncio.sleep(0.2)
    assert len(served) == 3


async def test_an_upstream_dying_mid_body_cuts_the_clients_connection(
        proxy: ProxyServer, raw_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """A half answer must never look complete: the client sees a broken transfer."""

    async def die_midway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100_000)
        await writer.drain()
        writer.close()

    proxy.table.add("/", await raw_upstream(die_midway))
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{proxy.public_url}/file")
        # The proxy itself is fine afterwards.
        assert (await http.get(f"{proxy.public_url}/_chp_healthz")).status_code == 200


async def test_chunked_answers_in_small_pieces_arrive_whole(
        proxy: ProxyServer, raw_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kind: trickle\r\n\r\n")
        for i in range(50):
            part = f"line {i}\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.002)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    proxy.table.add("/", await raw_upstream(trickle))
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await http.get(f"{proxy.public_url}/stream")
    assert answer.status_code == 200 and answer.headers["x-kind"] == "trickle"
    assert answer.text == "".join(f"line {i}\n" for i in range(50))


async def test_an_answer_that_ends_when_the_server_closes_arrives_whole(
        proxy: ProxyServer, raw_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    """HTTP/1.0 style: no Content-Length, no chunks; the end of the body is the close."""

    async def old_style(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 200_000)
        await writer.drain()
        writer.close()

    proxy.table.add("/", await raw_upstream(old_style))
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await http.get(f"{proxy.public_url}/old")
    assert answer.status_code == 200 and answer.content == b"y" * 200_000


async def test_interim_answers_are_not_taken_for_the_answer(
        proxy: ProxyServer, raw_upstream: Callable[[Handler], Awaitable[str]]) -> None:
    async def early_hints(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_head(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n")
        await writer.drain()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal")
        await writer.drain()

    proxy.table.add("/", await raw_upstream(early_hints))
    async with httpx.AsyncClient(trust_env=False) as http:
        answer = await http.get(f"{proxy.public_url}/page")
    assert (answer.status_code, answer.text, answer.headers["x-final"]) == (200, "final", "yes")
