"""JupyterHub 6's named-server resource: read (GET), create without starting (PUT), and
rename for people (PATCH ``display_name``), plus the start request body it introduced."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bindery.hub.api.access import can, json_body, require
from bindery.hub.api.errors import ApiError
from bindery.hub.api.helpers import load_user, path_name
from bindery.hub.api.models import server_model
from bindery.hub.context import hub_of
from bindery.hub.db.models import Server, utcnow

MAX_DISPLAY_NAME = 255


def server_key(request: Request) -> tuple[str, str]:
    name = path_name(request.path_params["name"])
    server_name = request.path_params.get("server", "")
    if server_name:
        server_name = path_name(server_name, "server name")
    return name, server_name


def start_request(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """``(user_options, display_name)`` of a start or create request.

    JupyterHub 6: ``{"user_options": {...}, "display_name": "..."}``; a body with
    neither key is the user options themselves (the older form); ``user_options``
    missing or null means "as at the last start" (``None``).
    """
    if "user_options" not in body and "display_name" not in body:
        return (body or None), None
    options = body.get("user_options")
    if options is not None and not isinstance(options, dict):
        raise ApiError(400, "'user_options' must be a JSON object (or null).")
    display = body.get("display_name")
    if display is not None and (not isinstance(display, str) or len(display) > MAX_DISPLAY_NAME):
        raise ApiError(400, f"'display_name' must be text of at most {MAX_DISPLAY_NAME} "
                            "characters.")
    return options, display


async def server_resource(request: Request) -> Response:
    name, server_name = server_key(request)
    hub = hub_of(request)
    if request.method == "GET":
        principal = require(request, "read:servers", name, server=server_name)
        with hub.db() as s:
            user = load_user(s, name)
            row = next((srv for srv in user.servers if srv.name == server_name), None)
            if row is None:
                raise ApiError(404, f"User {name!r} has no server named {server_name!r}.")
            return JSONResponse(server_model(
                row, name, include_state=can(principal, "admin:server_state", name),
                public_url=hub.settings.public_url))
    if request.method == "PUT":
        principal = require(request, "start:servers", name, server=server_name)
        if not server_name:
            raise ApiError(400, "Only named servers are created with PUT; the default server "
                                "always exists.")
        if not hub.settings.allow_named_servers:
            raise ApiError(400, "Named servers are not enabled on this hub.")
        options, display = start_request(await json_body(request))
        with hub.db() as s:
            user = load_user(s, name)
            if any(srv.name == server_name for srv in user.servers):
                raise ApiError(409, f"User {name!r} already has a server named {server_name!r}.")
            limit = hub.settings.named_server_limit_per_user
            if limit and len([srv for srv in user.servers if srv.name]) >= limit:
                raise ApiError(400, f"User {name!r} already has the maximum of {limit} named "
                                    "servers.")
            row = Server(user=user, name=server_name, user_options=options or {},
                         display_name=display or "", state={})
            s.add(row)
            s.commit()
            return JSONResponse(server_model(
                row, name, include_state=can(principal, "admin:server_state", name),
                public_url=hub.settings.public_url), status_code=201)
    # PATCH: what people see of the server (its display name) and its saved options.
    principal = require(request, "servers", name, server=server_name)
    body = await json_body(request)
    options, display = start_request(body) if body else (None, None)
    with hub.db() as s:
        user = load_user(s, name)
        row = next((srv for srv in user.servers if srv.name == server_name), None)
        if row is None:
            if server_name:
                raise ApiError(404, f"User {name!r} has no server named {server_name!r}.")
            row = Server(user=user, name="", user_options={}, state={})
            s.add(row)
        if display is not None:
            row.display_name = display
        if "user_options" in body and options is not None:
            row.user_options = options
        s.commit()
        return JSONResponse(server_model(
            row, name, include_state=can(principal, "admin:server_state", name),
            public_url=hub.settings.public_url))


def remember_display_name(request: Request, user_name: str, server_name: str,
                          display: str | None) -> None:
    """Store the display name a start request gave (once the server row exists)."""
    if display is None:
        return
    with hub_of(request).db() as s:
        row = s.scalars(select(Server).join(Server.user).where(
            Server.name == server_name, Server.user.has(name=user_name))).first()
        if row is not None:
            row.display_name = display
            row.last_activity = row.last_activity or utcnow()
            s.commit()
