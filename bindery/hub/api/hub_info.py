"""``/info``, ``/services``, ``/proxy``, ``/shutdown`` and the retired ``/authorizations``
endpoints of JupyterHub's REST API."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bindery import __version__
from bindery.hub.api.access import json_body, require
from bindery.hub.api.errors import ApiError
from bindery.hub.api.helpers import page_window, paged, path_name
from bindery.hub.api.models import iso, user_model
from bindery.hub.context import HubContext, hub_of
from bindery.hub.db.models import User
from bindery.hub.proxy.base import ProxyError
from bindery.hub.scopes import Target
from bindery.hub.service_registry import add_service_routes
from bindery.hub.services import service_model
from bindery.hub.tokens import find_token


def service_model_by_name(hub: HubContext, name: str) -> dict[str, Any]:
    configured = next((svc for svc in hub.settings.services if svc.name == name), None)
    return service_model(configured, name)


async def info(request: Request) -> Response:
    """What the hub runs (JupyterHub's ``/info``); needs ``read:hub``."""
    require(request, "read:hub", target=Target())
    hub = hub_of(request)
    return JSONResponse({
        "version": __version__,
        "python": sys.version,
        "sys_executable": sys.executable,
        "spawner": {"class": f"bindery.spawners:{hub.settings.spawner.kind}",
                    "version": __version__},
        "authenticator": {"class": f"bindery.authenticators:{hub.authenticator.name}",
                          "version": __version__},
    })


async def list_services(request: Request) -> Response:
    require(request, "list:services", target=Target())
    hub = hub_of(request)
    return JSONResponse({svc.name: service_model(svc, svc.name) for svc in hub.settings.services})


async def service_detail(request: Request) -> Response:
    name = path_name(request.path_params["name"], "service name")
    require(request, "read:services", target=Target(service=name))
    hub = hub_of(request)
    configured = next((svc for svc in hub.settings.services if svc.name == name), None)
    if configured is None:
        raise ApiError(404, f"No such service: {name}")
    return JSONResponse(service_model(configured, name))


def _route_json(route: dict[str, Any]) -> dict[str, Any]:
    out = dict(route)
    when = out.get("last_activity")
    if isinstance(when, dt.datetime):
        out["last_activity"] = iso(when)
    return out


async def proxy_routes(request: Request) -> Response:
    """GET lists the proxy's routes; POST re-adds what the proxy lost; PATCH (empty) too."""
    require(request, "proxy", target=Target())
    hub = hub_of(request)
    if request.method == "PATCH":
        body = await json_body(request)
        if body:
            raise ApiError(400, "The proxy's address and token are set in [hub.proxy] and "
                                "cannot be changed while the hub runs (send {} to resync).")
    if hub.proxy is None:
        if request.method == "GET":
            offset, limit = page_window(request)
            return paged(request, {}, offset, limit, 0)
        return Response(status_code=200)
    try:
        routes = await hub.proxy.get_all_routes()
        if request.method != "GET":
            await hub.manager.check_routes(routes)
            await add_service_routes(hub.proxy, hub.settings.services)
            return Response(status_code=200)
    except ProxyError as err:
        raise ApiError(502, f"The proxy did not answer: {err}") from err
    offset, limit = page_window(request)
    keys = sorted(routes)
    page = {k: _route_json(routes[k]) for k in keys[offset:offset + limit]}
    return paged(request, page, offset, limit, len(keys))


async def shutdown(request: Request) -> Response:
    """Stop the hub; ``servers``/``proxy`` say whether they stop too (default: the config)."""
    require(request, "shutdown", target=Target())
    body = await json_body(request)
    for key in ("servers", "proxy"):
        if key in body and not isinstance(body[key], bool):
            raise ApiError(400, f"'{key}' must be true or false.")
    stop: Callable[[bool | None, bool | None], None] | None = getattr(
        request.app.state, "request_shutdown", None)
    if stop is None:
        raise ApiError(400, "This hub runs inside another program (bindery serve or a test) "
                            "and cannot shut itself down; stop that program.")
    # Absent keys: what the configuration says ([hub] cleanup_servers), as in JupyterHub.
    asyncio.get_running_loop().call_later(0.2, stop, body.get("servers"), body.get("proxy"))
    return JSONResponse({"status": 202, "message": "Shutting down the hub."}, status_code=202)


async def token_authorization(request: Request) -> Response:
    """The owner of a token (JupyterHub's old ``/authorizations/token/{token}``)."""
    require(request, "read:users", target=Target())
    hub = hub_of(request)
    with hub.db() as s:
        row = find_token(s, request.path_params["token"])
        if row is None:
            raise ApiError(404, "No such token.")
        owner: User | None = row.user
        model = user_model(owner) if owner is not None else service_model_by_name(
            hub, row.service or "")
        s.commit()
    return JSONResponse(model)


async def retired(request: Request) -> Response:
    raise ApiError(404, "This endpoint was removed in JupyterHub 2.0: request tokens from "
                        "/hub/api/users/{name}/tokens instead.")


def hub_info_routes() -> list[BaseRoute]:
    return [
        Route("/hub/api/info", info, methods=["GET"]),
        Route("/hub/api/services", list_services, methods=["GET"]),
        Route("/hub/api/services/{name}", service_detail, methods=["GET"]),
        Route("/hub/api/proxy", proxy_routes, methods=["GET", "POST", "PATCH"]),
        Route("/hub/api/shutdown", shutdown, methods=["POST"]),
        Route("/hub/api/authorizations/token", retired, methods=["POST"]),
        Route("/hub/api/authorizations/token/{token}", token_authorization, methods=["GET"]),
        Route("/hub/api/authorizations/cookie/{cookie_name}/{cookie_value:path}", retired,
              methods=["GET"]),
    ]
