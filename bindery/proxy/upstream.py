"""A lean HTTP/1.1 client for the relay's common case: a request without a body.

Why not aiohttp's client for everything: measured with ``benchmarks/proxy_throughput.py``,
its per-request machinery (request/response objects, timers, tracing hooks, cookie and
redirect handling the relay turns off anyway) was about half the proxy's CPU per
request. A relay needs much less: write the request head on a kept-alive connection,
parse the answer with ``httptools`` (llhttp, the parser Node's http module uses), hand
over status, headers and body chunks. Requests with a body, ``HEAD`` and WebSockets
still go through aiohttp (``forward.py``), where streaming uploads and the upgrade
handshake are already right.

One pool of idle connections per upstream origin; a connection that was idle in the
pool and turns out closed by the server is retried once on a fresh one (the request
was never seen, and only body-less requests come here).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable

import httptools

#: Response bytes buffered per exchange before reading from the upstream pauses.
HIGH_WATER = 256 * 1024
#: Idle connections kept per upstream origin, and for how long.
MAX_IDLE = 64
IDLE_SECONDS = 50.0


class UpstreamError(ConnectionError):
    """The upstream broke the exchange (closed early, sent something not HTTP)."""


class _Connection(asyncio.Protocol):
    """One kept-alive connection; carries one exchange at a time."""

    def __init__(self, pool: UpstreamPool, key: tuple[str, int]) -> None:
        self.pool, self.key = pool, key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.closed = False
        self.idle_since = 0.0

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike: no isinstance.
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self.close()
            exchange.fail(UpstreamError(f"the upstream's answer is not valid HTTP: {err}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._forget(self)
        exchange, self.exchange = self.exchange, None
        if exchange is None:
            return
        if exc is None and exchange.until_close:
            exchange.finish()  # an answer without length or chunks ends when the server closes
        else:
            exchange.fail(exc or UpstreamError("the upstream closed the connection"))

    # -- httptools callbacks --------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        if self.exchange is not None:
            self.exchange.reason = reason.decode("utf-8", "surrogateescape")
            self.exchange.got_bytes = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.exchange is not None:
            # Decoded as aiohttp decodes headers, so the bytes go out to the client unchanged.
            self.exchange.headers.append((name.decode("utf-8", "surrogateescape"),
                                          value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.status = status = self.parser.get_status_code()
            if 100 <= status < 200:
                # An interim answer (103 Early Hints): not the answer; the real one follows.
                exchange.interim = True
                exchange.headers.clear()
                return
            framed = any(name.lower() in ("content-length", "transfer-encoding")
                         for name, _ in exchange.headers)
            exchange.until_close = not framed and status >= 200 and status not in (204, 304)
            if not exchange.head.done():
                exchange.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.push(body)
            if exchange.buffered > HIGH_WATER and self.transport is not None:
                self.transport.pause_reading()
                exchange.paused = True

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is None:
            return
        if exchange.interim:
            exchange.interim = False
            return
        self.exchange = None
        keep = self.parser.should_keep_alive()
        exchange.finish()
        if keep and not self.closed:
            self.pool._release(self)
        else:
            self.close()

    # -- ours -------------------------------------------------------------------------

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        self.exchange = None
        if self.transport is not None:
            self.transport.close()


class Exchange:
    """One request's answer: ``await head``, then ``status``/``headers``, then ``chunks()``."""

    __slots__ = ("buffered", "chunks_", "conn", "done", "error", "got_bytes", "head",
                 "headers", "interim", "paused", "reason", "status", "until_close", "waiter")

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn
        self.head: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks_: deque[bytes] = deque()
        self.buffered = 0
        self.done = False
        self.paused = False
        self.got_bytes = False
        self.until_close = False
        self.interim = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None

    def push(self, chunk: bytes) -> None:
        self.chunks_.append(chunk)
        self.buffered += len(chunk)
        self._wake()

    def finish(self) -> None:
        self.done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self.done:
            return
        self.error = error
        if not self.head.done():
            self.head.set_exception(error)
            self.head.exception()  # retrieved: a caller that gave up must not log it
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    @property
    def complete(self) -> bool:
        return self.done and not self.chunks_

    async def read(self) -> bytes:
        """The next body chunk; ``b""`` at the end. Raises ``UpstreamError`` if cut short."""
        while not self.chunks_:
            if self.done:
                return b""
            if self.error is not None:
                raise UpstreamError(str(self.error) or type(self.error).__name__)
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
            self.waiter = None
        chunk = self.chunks_.popleft()
        self.buffered -= len(chunk)
        if self.paused and self.buffered <= HIGH_WATER // 2:
            self.paused = False
            self.conn.resume()
        return chunk

    async def read_all(self) -> bytes:
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)

    def abandon(self) -> None:
        """The caller stops reading (its client left): the connection cannot be reused."""
        if not self.done:
            self.conn.close()


class UpstreamPool:
    """Kept-alive connections per ``(host, port)``, opened on demand."""

    def __init__(self, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def _connect(self, key: tuple[str, int]) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: _Connection(self, key), key[0], key[1]),
            self.connect_timeout)
        return conn

    def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    def _release(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def _forget(self, conn: _Connection) -> None:
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def request(self, host: str, port: int, head: bytes) -> Exchange:
        """Send a body-less request ``head`` (request line + headers + blank line)."""
        key = (host, port)
        for attempt in (1, 2):
            conn = self._take_idle(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key)
            exchange = Exchange(conn)
            conn.exchange = exchange
            assert conn.transport is not None
            conn.transport.write(head)
            try:
                await exchange.head
            except (UpstreamError, ConnectionError, OSError):
                if reused and not exchange.got_bytes and attempt == 1:
                    continue  # the server had closed this idle connection: once more, fresh
                raise
            return exchange
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in list(idle):
                conn.close()
        self._idle.clear()


def request_head(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """``METHOD target HTTP/1.1`` and the headers, ready to write."""
    lines = [f"{method} {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8", "surrogateescape")
