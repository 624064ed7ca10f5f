"""The route API: configurable-http-proxy's REST API, so the hub can drive either proxy.

``GET /api/routes[?inactive_since=ISO]``, ``GET|POST|DELETE /api/routes/<path>``,
authenticated with ``Authorization: token <CONFIGPROXY_AUTH_TOKEN>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bindery.proxy.routes import RouteTable
from bindery.request_id import HEADER, accepted, current, request_id_var

log = logging.getLogger("bindery.proxy.api")

PREFIX = "/api/routes"
_TOKEN = re.compile(r"token\s+(\S+)", re.IGNORECASE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": status, "message": message}, status=status)


def parse_iso8601(value: str) -> datetime:
    """Parse an ISO 8601 timestamp; a naive one is taken as UTC (as JavaScript's Date.parse)."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_api_app(table: RouteTable, auth_token: str) -> web.Application:
    """The API application for ``table``; every request needs ``auth_token`` (if set)."""
    expected = auth_token.encode()
    if not auth_token:
        log.warning("route API has no token: anyone reaching it can reroute traffic")

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected:
            match = _TOKEN.match(request.headers.get("Authorization", ""))
            given = match.group(1).encode() if match else b""
            if not hmac.compare_digest(given, expected):
                return _error(
                    403,
                    "A valid 'Authorization: token <CONFIGPROXY_AUTH_TOKEN>' header is required.",
                )
        return await handler(request)

    def route_path(request: web.Request) -> str:
        return request.path[len(PREFIX) :] or "/"

    async def get_routes(request: web.Request) -> web.Response:
        path = route_path(request)
        if path != "/":
            route = table.get(path)
            if route is None:
                return _error(404, f"No route for {path}.")
            return web.json_response(route.as_json())
        since = request.query.get("inactive_since") or request.query.get("inactiveSince")
        if since:
            try:
                moment = parse_iso8601(since).timestamp()
            except ValueError:
                return _error(
                    400,
                    f"Invalid datestamp {since!r}: inactive_since must be ISO 8601, "
                    "e.g. 2024-05-01T12:00:00Z.",
                )
            routes = table.inactive_since(moment)
        else:
            routes = table.all()
        return web.json_response({p: r.as_json() for p, r in routes.items()})

    async def post_route(request: web.Request) -> web.Response:
        path = route_path(request)
        raw = await request.read()
        try:
            data: Any = json.loads(raw or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            return _error(400, f"Body is not valid JSON: {err}")
        if not isinstance(data, dict):
            return _error(
                400, 'Body must be a JSON object like {"target": "http://127.0.0.1:8888"}.'
            )
        target = data.pop("target", None)
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            return _error(400, "Must specify 'target' as an http:// or https:// URL string.")
        for key in ("user", "server_token"):
            # Edge auth must fail closed: a malformed owner would otherwise mean "no check at all".
            if key in data and (not isinstance(data[key], str) or not data[key]):
                return _error(400, f"'{key}' must be a non-empty string when given.")
        data.pop("last_activity", None)
        table.add(path, target, data)
        log.info("route added %s -> %s (request %s)", path, target, current())
        return web.Response(status=201)

    async def delete_route(request: web.Request) -> web.Response:
        path = route_path(request)
        if not table.remove(path):
            return _error(404, f"No route for {path}.")
        log.info("route removed %s (request %s)", path, current())
        return web.Response(status=204)

    @web.middleware
    async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
        # The hub's request id (binder → hub → proxy), so route changes can be traced.
        token = request_id_var.set(accepted(request.headers.get(HEADER)))
        try:
            return await handler(request)
        finally:
            request_id_var.reset(token)

    app = web.Application(middlewares=[request_id, require_token])
    for pattern in (PREFIX, PREFIX + "/{tail:.*}"):
        app.router.add_get(pattern, get_routes, allow_head=False)
        app.router.add_post(pattern, post_route)
        app.router.add_delete(pattern, delete_route)
    return app
