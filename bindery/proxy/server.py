"""The proxy as an object: two listeners (public + route API) sharing one route table.

``ProxyServer`` runs inside any asyncio loop (tests use it in-process);
``run_proxy`` is what ``bindery proxy`` calls to serve until interrupted.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import aiohttp
from aiohttp import web

from bindery.proxy.api import build_api_app
from bindery.proxy.edge_auth import EdgeAuthorizer
from bindery.proxy.forward import ProxyHandler
from bindery.proxy.routes import RouteTable
from bindery.proxy.settings import ProxySettings
from bindery.proxy.upstream import UpstreamPool

log = logging.getLogger("bindery.proxy")


def _bound_port(runner: web.BaseRunner) -> int:
    """The port actually bound (useful with port 0 in tests)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("proxy site is not listening")


class ProxyServer:
    """Start with ``await start()`` (or ``async with``), stop with ``await stop()``."""

    def __init__(self, settings: ProxySettings | None = None) -> None:
        self.settings = settings or ProxySettings()
        self.table = RouteTable()
        self._session: aiohttp.ClientSession | None = None
        self._runners: list[web.BaseRunner] = []
        self._handler: ProxyHandler | None = None
        self._pool: UpstreamPool | None = None
        self.port: int = self.settings.port
        self.api_port: int = self.settings.api_port

    @property
    def public_url(self) -> str:
        return f"http://{_client_host(self.settings.ip)}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"http://{_client_host(self.settings.api_ip)}:{self.api_port}"

    async def start(self) -> None:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300
        )
        # No cookie jar: the proxy must never carry one user's cookies into another's request.
        # No decompression: bodies pass through byte for byte with their Content-Encoding.
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=s.connect_timeout, sock_connect=s.connect_timeout
            ),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )
        authorizer = EdgeAuthorizer(
            self._session, s.auth_url, s.auth_cache_ttl, s.auth_cache_size, proxy_token=s.auth_token
        )
        if s.default_target:
            self.table.add("/", s.default_target)
        self._pool = UpstreamPool(s.connect_timeout)
        handler = self._handler = ProxyHandler(self.table, s, self._session, authorizer, self._pool)
        public = web.ServerRunner(
            web.Server(handler, access_log=None),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=5.0,
        )
        api = web.AppRunner(
            build_api_app(self.table, s.auth_token),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=5.0,
        )
        try:
            for runner, ip, port in ((public, s.ip, s.port), (api, s.api_ip, s.api_port)):
                await runner.setup()
                self._runners.append(runner)
                await web.TCPSite(runner, ip, port, backlog=1024, reuse_address=True).start()
        except OSError as err:
            await self.stop()
            raise OSError(
                err.errno,
                f"proxy could not listen: {err.strerror} "
                f"(public {s.ip}:{s.port}, API {s.api_ip}:{s.api_port})",
            ) from err
        self.port = _bound_port(public)
        self.api_port = _bound_port(api)
        log.info("proxy on %s, route API on %s", self.public_url, self.api_url)

    async def stop(self) -> None:
        """Stop listening, close open WebSockets with 1001, let requests in flight finish (≤5 s)."""
        if self._handler is not None:
            await self._handler.close_websockets()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _client_host(ip: str) -> str:
    if ip in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{ip}]" if ":" in ip else ip


def quiet_garbage_collector() -> None:
    """Keep the cyclic garbage collector off the request path's tail latency.

    Measured with ``benchmarks/proxy_throughput.py``: every few hundred milliseconds a
    full (generation 2) collection walked every object loaded at start-up (aiohttp,
    pydantic, the settings) and stopped the relay for 40-50 ms, which was the whole p99
    gap to configurable-http-proxy. Those objects live as long as the process, so they
    are moved out of the collector's sight (``gc.freeze``), and the youngest generation
    is allowed to grow larger before a pass, since a relayed request leaves few cycles.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def run_proxy(settings: ProxySettings, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or cancellation), then close every connection cleanly."""
    server = ProxyServer(settings)
    await server.start()
    quiet_garbage_collector()
    if ready is not None:
        ready.set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        await stop.wait()
    finally:
        await server.stop()
