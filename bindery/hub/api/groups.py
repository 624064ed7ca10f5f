"""``/hub/api/groups``: JupyterHub's groups — create, list, read, delete, members, properties."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bindery.hub.api.access import json_body, require
from bindery.hub.api.errors import ApiError
from bindery.hub.api.helpers import load_group, page_window, paged, path_name
from bindery.hub.context import hub_of
from bindery.hub.db.models import Group, User
from bindery.hub.scopes import Target


def group_model(group: Group) -> dict[str, Any]:
    return {
        "kind": "group",
        "name": group.name,
        "users": sorted(u.name for u in group.users),
        "properties": group.properties or {},
        "roles": [],
    }


def _group_name(value: object) -> str:
    if not isinstance(value, str):
        raise ApiError(400, "A group name must be text.")
    return path_name(value, "group name")


def _members(s: Session, body: dict[str, Any]) -> list[User]:
    """The users named in ``body["users"]``; 400 naming any that do not exist."""
    names = body.get("users", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, "'users' must be a list of user names.")
    wanted = [path_name(n) for n in names]
    found = {u.name: u for u in s.scalars(select(User).where(User.name.in_(wanted)))}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise ApiError(400, f"No such users: {', '.join(missing)}.")
    return [found[n] for n in dict.fromkeys(wanted)]


def _target(name: str) -> Target:
    return Target(group=name, groups=frozenset({name}))


async def list_groups(request: Request) -> Response:
    require(request, "list:groups", target=Target())
    offset, limit = page_window(request)
    with hub_of(request).db() as s:
        total = s.scalar(select(func.count()).select_from(Group)) or 0
        rows = s.scalars(select(Group).order_by(Group.id).offset(offset).limit(limit)).all()
        items = [group_model(g) for g in rows]
    return paged(request, items, offset, limit, total)


async def create_groups(request: Request) -> Response:
    require(request, "admin:groups", target=Target())
    body = await json_body(request)
    names = body.get("groups")
    if not isinstance(names, list) or not names:
        raise ApiError(400, 'Send {"groups": ["name", ...]} with at least one group name.')
    wanted = list(dict.fromkeys(_group_name(n) for n in names))
    with hub_of(request).db() as s:
        existing = set(s.scalars(select(Group.name).where(Group.name.in_(wanted))))
        if existing:
            raise ApiError(409, f"Groups exist already: {', '.join(sorted(existing))}.")
        members = _members(s, body)
        groups = [Group(name=n, properties={}, users=list(members)) for n in wanted]
        s.add_all(groups)
        s.commit()
        return JSONResponse([group_model(g) for g in groups], status_code=201)


async def group_detail(request: Request) -> Response:
    name = _group_name(request.path_params["name"])
    hub = hub_of(request)
    if request.method == "GET":
        require(request, "read:groups", target=_target(name))
        with hub.db() as s:
            return JSONResponse(group_model(load_group(s, name)))
    if request.method == "POST":
        require(request, "admin:groups", target=_target(name))
        body = await json_body(request)
        with hub.db() as s:
            if s.scalars(select(Group).where(Group.name == name)).first() is not None:
                raise ApiError(409, f"Group {name!r} exists already.")
            group = Group(name=name, properties={}, users=_members(s, body))
            s.add(group)
            s.commit()
            return JSONResponse(group_model(group), status_code=201)
    require(request, "delete:groups", target=_target(name))
    with hub.db() as s:
        s.delete(load_group(s, name))
        s.commit()
    return Response(status_code=204)


async def group_users(request: Request) -> Response:
    """POST adds the listed users to the group, DELETE removes them."""
    name = _group_name(request.path_params["name"])
    require(request, "groups", target=_target(name))
    body = await json_body(request)
    if "users" not in body:
        raise ApiError(400, 'Send {"users": ["name", ...]}.')
    with hub_of(request).db() as s:
        group = load_group(s, name)
        users = _members(s, body)
        if request.method == "POST":
            group.users.extend(u for u in users if u not in group.users)
        else:
            group.users = [u for u in group.users if u not in users]
        s.commit()
        return JSONResponse(group_model(group))


async def group_properties(request: Request) -> Response:
    """PUT replaces the group's properties with the JSON object sent."""
    name = _group_name(request.path_params["name"])
    require(request, "groups", target=_target(name))
    body = await json_body(request)
    with hub_of(request).db() as s:
        group = load_group(s, name)
        group.properties = body
        s.commit()
        return JSONResponse(group_model(group))


def group_routes() -> list[BaseRoute]:
    return [
        Route("/hub/api/groups", list_groups, methods=["GET"]),
        Route("/hub/api/groups", create_groups, methods=["POST"]),
        Route("/hub/api/groups/{name}", group_detail, methods=["GET", "POST", "DELETE"]),
        Route("/hub/api/groups/{name}/users", group_users, methods=["POST", "DELETE"]),
        Route("/hub/api/groups/{name}/properties", group_properties, methods=["PUT"]),
    ]
