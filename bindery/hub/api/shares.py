"""JupyterHub 5's sharing API: ``/shares``, ``/share-codes``, ``/users/{n}/shared``,
``/groups/{n}/shared``. The rules live in ``bindery.hub.sharing``; this is the adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bindery.hub.api.access import can_on, get_principal, json_body, require
from bindery.hub.api.errors import ApiError
from bindery.hub.api.helpers import load_group, load_user, page_window, paged, path_name
from bindery.hub.api.models import iso
from bindery.hub.context import hub_of
from bindery.hub.db.models import Group, Share, ShareCode, User
from bindery.hub.scopes import Target
from bindery.hub.server_state import ServerStatus, server_base_url
from bindery.hub.sharing import (
    ACCEPT_PATH,
    SharingError,
    check_share_scopes,
    ensure_server,
    grant,
    new_code,
    revoke,
)
from bindery.hub.tokens import hash_token


def _server_summary(request: Request, owner: User, server_name: str) -> dict[str, Any]:
    row = next((srv for srv in owner.servers if srv.name == server_name), None)
    ready = ServerStatus.of(row) is ServerStatus.RUNNING
    url = server_base_url(owner.name, server_name)
    public = hub_of(request).settings.public_url
    return {
        "user": {"name": owner.name},
        "name": server_name,
        "url": url,
        "full_url": f"{public}{url}" if public else None,
        "ready": ready,
    }


def share_model(request: Request, share: Share) -> dict[str, Any]:
    return {
        "server": _server_summary(request, share.owner, share.server_name),
        "scopes": list(share.scopes),
        "user": {"name": share.user.name} if share.user else None,
        "group": {"name": share.group.name} if share.group else None,
        "kind": "user" if share.user else "group",
        "created_at": iso(share.created_at),
    }


def code_model(request: Request, row: ShareCode) -> dict[str, Any]:
    return {
        "server": _server_summary(request, row.owner, row.server_name),
        "scopes": list(row.scopes),
        "id": f"sc_{row.id}",
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
        "exchange_count": row.exchange_count,
        "last_exchanged_at": iso(row.last_exchanged_at),
    }


def _owner_server(request: Request) -> tuple[str, str | None]:
    owner = path_name(request.path_params["owner"])
    server = request.path_params.get("server")
    if server:
        server = path_name(server, "server name")
    elif request.url.path.endswith("/"):
        server = ""  # ``/shares/alice/`` is alice's default server
    return owner, server


def _sharing(err: SharingError) -> ApiError:
    return ApiError(err.status, str(err))


def _page(request: Request, s: Session, query: Select[Any], make: Any) -> Response:
    offset, limit = page_window(request)
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = s.scalars(query.offset(offset).limit(limit)).all()
    return paged(request, [make(request, r) for r in rows], offset, limit, total,
                 always_envelope=True)


# -- /shares/{owner}[/{server}] -------------------------------------------------------


def _list_owned(request: Request, table: type[Share] | type[ShareCode],
                to_json: Callable[[Request, Any], dict[str, Any]]) -> Response:
    """A page of the owner's shares or share codes, of one server when the path names one."""
    owner_name, server = _owner_server(request)
    require(request, "read:shares", owner_name, server=server)
    with hub_of(request).db() as s:
        owner = load_user(s, owner_name)
        query = select(table).where(table.owner_id == owner.id)
        if server is not None:
            try:
                ensure_server(s, owner, server)
            except SharingError as err:
                raise _sharing(err) from err
            query = query.where(table.server_name == server)
        return _page(request, s, query.order_by(table.id), to_json)


async def list_shares(request: Request) -> Response:
    return _list_owned(request, Share, share_model)


async def _grantee(request: Request, s: Session,
                   body: dict[str, Any]) -> tuple[User | None, Group | None]:
    user_name, group_name = body.get("user"), body.get("group")
    if (user_name is None) == (group_name is None):
        raise ApiError(400, 'Name exactly one of "user" or "group" to share with.')
    needed = "read:users:name" if user_name is not None else "read:groups:name"
    principal = get_principal(request)
    assert principal is not None
    if not can_on(principal, needed, Target()):
        kind = "users" if user_name is not None else "groups"
        raise ApiError(403, f"Need scope {needed!r} to share with {kind} by name.")
    try:
        if user_name is not None:
            if not isinstance(user_name, str):
                raise ApiError(400, "'user' must be a user name.")
            return load_user(s, path_name(user_name)), None
        if not isinstance(group_name, str):
            raise ApiError(400, "'group' must be a group name.")
        return None, load_group(s, path_name(group_name, "group name"))
    except ApiError as err:
        if err.status_code == 404:  # the grantee, not the resource, is missing: a bad request
            raise ApiError(400, err.detail) from err
        raise


async def change_share(request: Request) -> Response:
    """POST grants, PATCH takes scopes back, DELETE ends every share of the server."""
    owner_name, maybe_server = _owner_server(request)
    server = maybe_server or ""
    require(request, "shares", owner_name, server=server)
    with hub_of(request).db() as s:
        owner = load_user(s, owner_name)
        try:
            ensure_server(s, owner, server)
            if request.method == "DELETE":
                for row in s.scalars(select(Share).where(Share.owner_id == owner.id,
                                                         Share.server_name == server)):
                    s.delete(row)
                s.commit()
                return Response(status_code=204)
            body = await json_body(request)
            user, group = await _grantee(request, s, body)
            if request.method == "POST":
                scopes = check_share_scopes(body.get("scopes"), owner.name, server)
                share: Share | None = grant(s, owner, server, scopes, user=user, group=group)
            else:
                requested = body.get("scopes")
                if requested is not None and not isinstance(requested, list):
                    raise ApiError(400, "'scopes' must be a list of strings.")
                share = revoke(s, owner, server, requested, user=user, group=group)
        except SharingError as err:
            raise _sharing(err) from err
        s.commit()
        return JSONResponse(share_model(request, share) if share is not None else {})


# -- /share-codes/{owner}[/{server}] ----------------------------------------------------


async def list_codes(request: Request) -> Response:
    return _list_owned(request, ShareCode, code_model)


async def change_codes(request: Request) -> Response:
    """POST makes a code (shown once); DELETE revokes one (``?code=`` or ``?id=``) or all."""
    owner_name, maybe_server = _owner_server(request)
    server = maybe_server or ""
    require(request, "shares", owner_name, server=server)
    with hub_of(request).db() as s:
        owner = load_user(s, owner_name)
        try:
            if request.method == "POST":
                body = await json_body(request)
                scopes = check_share_scopes(body.get("scopes"), owner.name, server)
                expires_in = body.get("expires_in")
                if expires_in is not None and (isinstance(expires_in, bool)
                                               or not isinstance(expires_in, (int, float))):
                    raise ApiError(400, "'expires_in' must be a number of seconds.")
                code, row = new_code(s, owner, server, scopes, expires_in)
                s.commit()
                model = code_model(request, row)
                accept = f"{ACCEPT_PATH}?code={code}"
                public = hub_of(request).settings.public_url
                model.update(code=code, accept_url=accept,
                             full_accept_url=f"{public}{accept}" if public else None)
                return JSONResponse(model)
            ensure_server(s, owner, server)
        except SharingError as err:
            raise _sharing(err) from err
        query = select(ShareCode).where(ShareCode.owner_id == owner.id,
                                        ShareCode.server_name == server)
        code_id = request.query_params.get("id")
        given_code = request.query_params.get("code")
        if code_id is not None:
            number = code_id.removeprefix("sc_")
            plain = number.isascii() and number.isdigit() and len(number) <= 18
            query = query.where(ShareCode.id == (int(number) if plain else -1))
        if given_code is not None:
            query = query.where(ShareCode.hashed == hash_token(given_code))
        rows = s.scalars(query).all()
        if not rows and (code_id is not None or given_code is not None):
            which = f"id={code_id}" if code_id is not None else "that code"
            raise ApiError(404, f"No code found matching {which[:60]}")
        for row in rows:
            s.delete(row)
        s.commit()
    return Response(status_code=204)


# -- what was shared with a user or group -------------------------------------------------


async def shared_with_user(request: Request) -> Response:
    name = path_name(request.path_params["name"])
    owner_name, server = _owner_server(request) if "owner" in request.path_params else (None, None)
    scope = "read:users:shares" if request.method == "GET" else "users:shares"
    require(request, scope, name)
    with hub_of(request).db() as s:
        user = load_user(s, name)
        query = select(Share).where(Share.user_id == user.id)
        return _shared(request, s, query, owner_name, server or "", f"user {name}")


async def shared_with_group(request: Request) -> Response:
    name = path_name(request.path_params["name"], "group name")
    owner_name, server = _owner_server(request) if "owner" in request.path_params else (None, None)
    scope = "read:groups:shares" if request.method == "GET" else "groups:shares"
    require(request, scope, target=Target(group=name, groups=frozenset({name})))
    with hub_of(request).db() as s:
        group = load_group(s, name)
        query = select(Share).where(Share.group_id == group.id)
        return _shared(request, s, query, owner_name, server or "", f"group {name}")


def _shared(request: Request, s: Session, query: Select[Any], owner_name: str | None,
            server: str, who: str) -> Response:
    if owner_name is None:
        return _page(request, s, query.order_by(Share.id), share_model)
    owner = load_user(s, owner_name)
    share = s.scalars(query.where(Share.owner_id == owner.id, Share.server_name == server)).first()
    if share is None:
        raise ApiError(404, f"No such share for {who} on {owner.name}/{server}")
    if request.method == "GET":
        return JSONResponse(share_model(request, share))
    s.delete(share)
    s.commit()
    return Response(status_code=204)


def share_routes() -> list[BaseRoute]:
    return [
        Route("/hub/api/shares/{owner}", list_shares, methods=["GET"]),
        Route("/hub/api/shares/{owner}/", list_shares, methods=["GET"]),
        Route("/hub/api/shares/{owner}/", change_share, methods=["POST", "PATCH", "DELETE"]),
        Route("/hub/api/shares/{owner}/{server}", list_shares, methods=["GET"]),
        Route("/hub/api/shares/{owner}/{server}", change_share,
              methods=["POST", "PATCH", "DELETE"]),
        Route("/hub/api/share-codes/{owner}", list_codes, methods=["GET"]),
        Route("/hub/api/share-codes/{owner}/", list_codes, methods=["GET"]),
        Route("/hub/api/share-codes/{owner}/", change_codes, methods=["POST", "DELETE"]),
        Route("/hub/api/share-codes/{owner}/{server}", list_codes, methods=["GET"]),
        Route("/hub/api/share-codes/{owner}/{server}", change_codes, methods=["POST", "DELETE"]),
        Route("/hub/api/users/{name}/shared", shared_with_user, methods=["GET"]),
        Route("/hub/api/users/{name}/shared/{owner}/", shared_with_user,
              methods=["GET", "DELETE"]),
        Route("/hub/api/users/{name}/shared/{owner}/{server}", shared_with_user,
              methods=["GET", "DELETE"]),
        Route("/hub/api/groups/{name}/shared", shared_with_group, methods=["GET"]),
        Route("/hub/api/groups/{name}/shared/{owner}/", shared_with_group,
              methods=["GET", "DELETE"]),
        Route("/hub/api/groups/{name}/shared/{owner}/{server}", shared_with_group,
              methods=["GET", "DELETE"]),
    ]
