"""The public side: match a route, check edge auth, relay HTTP or WebSocket traffic.

Bodies are streamed chunk by chunk in both directions (a 2 GB download never sits in
memory) and the full path and Host header reach the upstream unchanged, as with
configurable-http-proxy, so single-user servers configured with a base URL work as is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from urllib.parse import urlencode

import aiohttp
from aiohttp import WSMsgType, web
from multidict import CIMultiDict
from yarl import URL

from bindery.proxy import pages
from bindery.proxy.cookies import (
    cross_origin_change,
    foreign_subresource,
    is_hub_cookie,
    set_cookie_name,
    strip_hub_cookies,
)
from bindery.proxy.edge_auth import EdgeAuthorizer, Verdict
from bindery.proxy.protocol import HANDOFF_PARAM, TOKEN_PARAM
from bindery.proxy.routes import Route, RouteTable
from bindery.proxy.settings import ProxySettings
from bindery.proxy.upstream import UpstreamError, UpstreamPool, request_head
from bindery.request_id import HEADER as REQUEST_ID_HEADER
from bindery.request_id import accepted

log = logging.getLogger("bindery.proxy")

#: Headers that describe one connection, not the message (RFC 9110 §7.6.1): never relayed.
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailer",
        "Trailers",
        "Transfer-Encoding",
        "Upgrade",
    )
)
#: The WebSocket handshake is redone by the proxy's own client on the upstream side.
WS_HANDSHAKE = frozenset(
    h.lower()
    for h in (
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
    )
)
HEALTH_PATH = "/_chp_healthz"
#: Either end of a relayed WebSocket: the client's (server side) or the upstream's (client side).
WebSocket = web.WebSocketResponse | aiohttp.ClientWebSocketResponse
#: Answers up to this size (with a Content-Length) are read whole and sent in one write.
SMALL_BODY = 64 * 1024
#: Body-less requests with these methods take the lean client (upstream.py); the rest aiohttp.
LEAN_METHODS = frozenset({"GET", "DELETE", "OPTIONS"})


def _strip(headers: CIMultiDict[str], names: Iterable[str]) -> None:
    for name in names:
        headers.popall(name, None)


def _connection_tokens(headers: CIMultiDict[str]) -> list[str]:
    """Extra hop-by-hop headers named in ``Connection: ...`` (e.g. ``Connection: X-Foo``)."""
    value = headers.get("Connection")
    return [t.strip() for t in value.split(",")] if value else []


def strip_cookie(cookie_header: str, name: str) -> str:
    """The Cookie header without the cookie ``name``: the hub session never reaches user servers."""
    kept = [
        part.strip()
        for part in cookie_header.split(";")
        if part.strip() and part.split("=", 1)[0].strip() != name
    ]
    return "; ".join(kept)


#: Headers that tell an upstream who really called and how; only the proxy may set them.
FORWARDED_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
                     "X-Forwarded-Port", "X-Real-IP")


def _set_forwarded_headers(request: web.BaseRequest, headers: CIMultiDict[str]) -> None:
    """Say who called and how, from this connection alone (security finding 10).

    A client's own ``X-Forwarded-*`` would otherwise reach the hub, the binder and
    user servers as the truth: a forged peer address (rate limits, logs) or a forged
    host and scheme (URLs and origin checks built from them). So they are dropped and
    set again: the peer's address, the scheme it used, the ``Host`` it asked for.
    """
    _strip(headers, FORWARDED_HEADERS)
    headers["X-Forwarded-For"] = request.remote or ""
    headers["X-Forwarded-Proto"] = request.scheme
    # One id per request from the edge on, kept if the client sent a well-formed one.
    headers[REQUEST_ID_HEADER] = accepted(request.headers.get(REQUEST_ID_HEADER))
    if request.host:
        headers["X-Forwarded-Host"] = request.host


def has_dot_segments(path: str) -> bool:
    """``/a/../b``: the route matched and the path the server resolves could differ, so refuse."""
    return any(segment in (".", "..") for segment in path.split("/"))


def is_websocket_upgrade(request: web.BaseRequest) -> bool:
    return (
        request.headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


class ProxyHandler:
    """The request handler of the public server (aiohttp low-level ``web.Server``)."""

    def __init__(
        self,
        table: RouteTable,
        settings: ProxySettings,
        session: aiohttp.ClientSession,
        authorizer: EdgeAuthorizer,
        pool: UpstreamPool | None = None,
    ) -> None:
        self.table = table
        self.settings = settings
        self.session = session
        self.authorizer = authorizer
        self.pool = pool or UpstreamPool(settings.connect_timeout)
        self._resolution = settings.activity_resolution
        #: Open client WebSockets, so shutdown can say "going away" instead of hanging on them.
        self.websockets: set[web.WebSocketResponse] = set()

    async def close_websockets(self) -> None:
        """Close every relayed WebSocket (code 1001); their relays then end by themselves."""
        for ws in list(self.websockets):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"proxy shutting down")

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if path == HEALTH_PATH:
            return web.json_response({"status": "ok", "routes": len(self.table)})
        if "/." in path and has_dot_segments(path):
            return pages.error_response(
                request,
                400,
                "Bad path",
                "The address contains '.' or '..' segments; use the plain path (browsers do this).",
            )
        route = self.table.match(path, request.host if self.settings.host_routing else None)
        if route is None:
            return pages.no_route(request)

        headers = CIMultiDict(request.headers)
        _strip(headers, _connection_tokens(headers))
        _strip(headers, HOP_BY_HOP)
        raw_path = request.rel_url.raw_path
        raw_query = request.rel_url.raw_query_string
        set_cookies: list[str] = []

        if route.user is not None:
            denial, set_cookies = await self._edge_auth(request, route, headers)
            if denial is not None:
                return denial
            query = request.rel_url.query
            if TOKEN_PARAM in query or HANDOFF_PARAM in query:
                raw_query = URL.build(
                    query=[(k, v) for k, v in query.items() if k not in (TOKEN_PARAM, HANDOFF_PARAM)]
                ).raw_query_string
                if HANDOFF_PARAM in query and request.method in ("GET", "HEAD"):
                    # A login hand-off: keep the pass cookie, drop the one-time code from the
                    # address bar (and from the server's sight), then come back.
                    back = URL.build(path=request.rel_url.raw_path, query_string=raw_query,
                                     encoded=True)
                    handed = web.Response(status=302, headers={"Location": str(back)})
                    for cookie in set_cookies:
                        handed.headers.add("Set-Cookie", cookie)
                    return handed
        elif route.service is not None and "Cookie" in headers:
            # A service's route (/services/<name>/) never sees the hub login either.
            remaining = strip_cookie(headers["Cookie"], self.settings.session_cookie)
            headers.popall("Cookie")
            if remaining:
                headers["Cookie"] = remaining

        _set_forwarded_headers(request, headers)

        target = f"{route.origin}{route.base_path}{raw_path}"
        if raw_query:
            target = f"{target}?{raw_query}"
        url = URL(target, encoded=True)

        if is_websocket_upgrade(request):
            return await self._relay_websocket(request, route, url, headers, set_cookies)
        return await self._relay_http(request, route, url, headers, set_cookies)

    # -- edge authentication -------------------------------------------------------

    async def _edge_auth(
        self, request: web.BaseRequest, route: Route, headers: CIMultiDict[str]
    ) -> tuple[web.StreamResponse | None, list[str]]:
        """Ask the hub; on yes rewrite credentials in ``headers``, else return the answer."""
        if cross_origin_change(request.method, request.headers.get("Origin"), request.host,
                               is_websocket_upgrade(request)) or foreign_subresource(
                                   request.headers.get("Sec-Fetch-Site"),
                                   request.headers.get("Sec-Fetch-Mode")):
            # The server will see the proxy's token and skip its own cross-site checks.
            return pages.error_response(
                request, 403, "Cross-origin request refused",
                "A server may be opened from elsewhere, but only its own pages may change it "
                "or load its content.",
            ), []
        token = request.rel_url.query.get(TOKEN_PARAM, "")
        handoff = request.rel_url.query.get(HANDOFF_PARAM, "")
        decision = await self.authorizer.authorize(
            route.user or "", request.path, request.headers, token, handoff
        )
        extra = decision.set_cookies
        denial: web.StreamResponse | None = None
        if decision.verdict is Verdict.NOT_LOGGED_IN:
            denial = self._login_required(request)
        elif decision.verdict is Verdict.FORBIDDEN:
            denial = pages.belongs_to_another_user(request, route.user or "another user")
        elif decision.verdict is Verdict.HUB_UNAVAILABLE:
            denial = pages.error_response(request, 503, "Cannot check your login", decision.message)
        if denial is not None:
            for set_cookie in extra:
                denial.headers.add("Set-Cookie", set_cookie)
            return denial, []

        strip_hub_cookies(headers)  # the hub's cookies never reach a user's server
        headers.popall("Authorization", None)
        if route.server_token:
            headers["Authorization"] = f"token {route.server_token}"
        return None, extra

    def _login_required(self, request: web.BaseRequest) -> web.StreamResponse:
        """Browsers go to the login page and come back; programs get a 401 they can act on."""
        if (
            request.method == "GET"
            and pages.wants_html(request)
            and not is_websocket_upgrade(request)
        ):
            query = [(k, v) for k, v in request.rel_url.query.items()
                     if k not in (TOKEN_PARAM, HANDOFF_PARAM)]
            back = str(URL.build(path=request.path, query=query))
            login = URL(self.settings.login_url)
            if login.is_absolute() and request.host:
                # The hub lives on another host (one origin per user): come back to this one.
                back = f"{login.scheme}://{request.host}{back}"
            location = f"{self.settings.login_url}?{urlencode({'next': back})}"
            return web.Response(status=302, headers={"Location": location})
        return pages.error_response(
            request,
            401,
            "Login required",
            "This server needs you to log in to the hub first, or to send a valid token "
            "(Authorization: token <token>).",
        )

    # -- HTTP ----------------------------------------------------------------------

    async def _relay_http(
        self,
        request: web.BaseRequest,
        route: Route,
        url: URL,
        headers: CIMultiDict[str],
        set_cookies: list[str],
    ) -> web.StreamResponse:
        body = request.content if request.body_exists else None
        if body is None and request.method in LEAN_METHODS and url.scheme == "http":
            return await self._relay_lean(request, route, url, headers, set_cookies)
        if body is not None and headers.popall("Expect", [""])[0].lower() == "100-continue":
            # Answer the client's "may I send the body?" ourselves; the body is streamed upstream.
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            upstream = await self.session.request(
                request.method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
            )
        except (
            TimeoutError,
            aiohttp.ClientConnectorError,
            aiohttp.ServerTimeoutError,
            aiohttp.ServerDisconnectedError,
        ) as err:
            log.info("upstream %s for %s not answering: %r", route.target, route.path, err)
            return pages.not_running(request, route.path)
        response: web.StreamResponse | None = None
        try:
            out = CIMultiDict[str]()
            user_server = route.user is not None
            for name, value in upstream.headers.items():
                lower = name.lower()
                if lower in HOP_BY_HOP or (
                    user_server and lower == "set-cookie" and is_hub_cookie(set_cookie_name(value))
                ):
                    # A user's server may not set (or overwrite) the hub's cookies.
                    continue
                out.add(name, value)
            for cookie in set_cookies:
                out.add("Set-Cookie", cookie)
            if upstream.status < 300:
                route.touch(time.time(), self._resolution)
            size = upstream.content_length
            if size is not None and size <= SMALL_BODY and request.method != "HEAD":
                # Small answers (most API calls) go out in one write: bounded buffering,
                # fewer syscalls.
                return web.Response(
                    status=upstream.status,
                    reason=upstream.reason,
                    headers=out,
                    body=await upstream.read(),
                )
            response = web.StreamResponse(
                status=upstream.status, reason=upstream.reason, headers=out
            )
            await response.prepare(request)
            touch = route.touch
            resolution = self._resolution
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
                touch(time.time(), resolution)
            await response.write_eof()
            return response
        except ConnectionResetError:
            # The client went away mid-answer (closed tab, load tool stopping): nothing to tell it.
            log.debug("client left during a response from %s", route.target)
            return response or web.Response(status=499)
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as err:
            # The upstream died mid-body; headers are gone already, so cut the connection.
            log.warning("upstream %s broke off a response: %s", route.target, err)
            raise
        finally:
            upstream.release()

    async def _relay_lean(
        self,
        request: web.BaseRequest,
        route: Route,
        url: URL,
        headers: CIMultiDict[str],
        set_cookies: list[str],
    ) -> web.StreamResponse:
        """The common case without aiohttp's client: see ``upstream.py`` for why."""
        host, port = url.raw_host or "127.0.0.1", url.port or 80
        if "Host" not in headers:
            headers["Host"] = url.raw_authority
        head = request_head(request.method, url.raw_path_qs, headers.items())
        try:
            upstream = await self.pool.request(host, port, head)
        except (TimeoutError, OSError, UpstreamError) as err:
            log.info("upstream %s for %s not answering: %r", route.target, route.path, err)
            return pages.not_running(request, route.path)
        response: web.StreamResponse | None = None
        try:
            out = CIMultiDict[str]()
            size: int | None = None
            for name, value in upstream.headers:
                lower = name.lower()
                if lower in HOP_BY_HOP:
                    continue
                if lower == "content-length" and value.isdigit():
                    size = int(value)
                out.add(name, value)
            for cookie in set_cookies:
                out.add("Set-Cookie", cookie)
            if upstream.status < 300:
                route.touch(time.time(), self._resolution)
            if size is not None and size <= SMALL_BODY:
                return web.Response(status=upstream.status, reason=upstream.reason or None,
                                    headers=out, body=await upstream.read_all())
            response = web.StreamResponse(
                status=upstream.status, reason=upstream.reason or None, headers=out)
            await response.prepare(request)
            touch, resolution = route.touch, self._resolution
            while chunk := await upstream.read():
                await response.write(chunk)
                touch(time.time(), resolution)
            await response.write_eof()
            return response
        except ConnectionResetError:
            log.debug("client left during a response from %s", route.target)
            return response or web.Response(status=499)
        except UpstreamError as err:
            log.warning("upstream %s broke off a response: %s", route.target, err)
            raise
        finally:
            upstream.abandon()

    # -- WebSocket -----------------------------------------------------------------

    async def _relay_websocket(
        self,
        request: web.BaseRequest,
        route: Route,
        url: URL,
        headers: CIMultiDict[str],
        set_cookies: list[str],
    ) -> web.StreamResponse:
        protocols = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        _strip(headers, WS_HANDSHAKE)
        max_size = self.settings.max_ws_message
        try:
            upstream = await self.session.ws_connect(
                url,
                headers=headers,
                protocols=protocols,
                compress=0,
                max_msg_size=max_size,
                autoping=True,
            )
        except aiohttp.WSServerHandshakeError as err:
            return pages.error_response(
                request,
                err.status if 400 <= err.status < 600 else 502,
                "WebSocket refused",
                f"The server at {route.path} refused the WebSocket connection ({err.status}).",
            )
        except (
            TimeoutError,
            aiohttp.ClientConnectorError,
            aiohttp.ServerTimeoutError,
            aiohttp.ServerDisconnectedError,
        ):
            return pages.not_running(request, route.path)

        chosen = [upstream.protocol] if upstream.protocol else []
        client = web.WebSocketResponse(protocols=chosen, max_msg_size=max_size, autoping=True)
        for cookie in set_cookies:
            client.headers.add("Set-Cookie", cookie)
        try:
            await client.prepare(request)
        except Exception:
            await upstream.close()
            raise
        route.touch(time.time(), self._resolution)
        self.websockets.add(client)
        try:
            await self._pump_both(client, upstream, route)
        finally:
            self.websockets.discard(client)
        return client

    async def _pump_both(
        self, client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse, route: Route
    ) -> None:
        """Relay until either side closes, then close the other with the same code."""
        table, resolution = self.table, self._resolution

        async def pump(source: WebSocket, sink: WebSocket) -> None:
            async for message in source:
                # Look the route up again: if the hub re-added it, activity lands on the live entry.
                live = table.get(route.path) or route
                live.touch(time.time(), resolution)
                if message.type is WSMsgType.TEXT:
                    await sink.send_str(message.data)
                elif message.type is WSMsgType.BINARY:
                    await sink.send_bytes(message.data)
                elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.ERROR):
                    break

        to_upstream = asyncio.ensure_future(pump(client, upstream))
        to_client = asyncio.ensure_future(pump(upstream, client))
        try:
            done, pending = await asyncio.wait(
                {to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in done:
                if task.exception() is not None:
                    log.debug("websocket relay on %s ended: %r", route.path, task.exception())
        finally:
            to_upstream.cancel()
            to_client.cancel()
            code_from_upstream = upstream.close_code
            code_from_client = client.close_code
            if not upstream.closed:
                await upstream.close(code=code_from_client or aiohttp.WSCloseCode.OK)
            if not client.closed:
                await client.close(code=code_from_upstream or aiohttp.WSCloseCode.OK)
