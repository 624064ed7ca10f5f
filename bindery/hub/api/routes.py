"""Handlers of ``/hub/api``: users, servers, progress, tokens, activity, whoami, edge auth."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from bindery import __version__
from bindery.hub.api.access import (
    InvalidCredentials,
    can,
    can_on,
    get_principal,
    granted_to_user,
    json_body,
    principal_from_cookie,
    principal_from_token,
    require,
    user_target,
)
from bindery.hub.api.edge import handed_over_login, login_pass_cookie, login_principal
from bindery.hub.api.errors import ApiError
from bindery.hub.api.groups import group_routes
from bindery.hub.api.helpers import (
    int_param,
    load_user,
    page_window,
    paged,
    path_name,
    truthy_param,
)
from bindery.hub.api.hub_info import hub_info_routes, service_model_by_name
from bindery.hub.api.models import token_model, user_model
from bindery.hub.api.named_servers import remember_display_name, server_resource, start_request
from bindery.hub.api.shares import share_routes
from bindery.hub.context import hub_of
from bindery.hub.db.models import ApiToken, Group, Server, User, group_members, utcnow
from bindery.hub.names import InvalidName, check_name
from bindery.hub.scopes import (
    ScopeError,
    Target,
    check_scopes,
    expand_scopes,
    owner_scopes,
    scopes_beyond,
)
from bindery.hub.security import (
    SERVER_COOKIE,
    ServerPass,
    hub_cookie,
    server_pass_cookie_header,
)
from bindery.hub.server_state import ServerStatus, active, server_base_url, status_is
from bindery.hub.servers import NoSuchServer, NoSuchUser, NothingToFollow, StartRefused
from bindery.hub.spawn_events import SpawnEvent
from bindery.hub.spawners.errors import TooManyServers
from bindery.hub.tokens import (
    Principal,
    create_token,
    find_token_by_id,
    principal_for_token,
    token_fingerprint,
)
from bindery.hub.users import RenameRefused, rename_user
from bindery.proxy.protocol import PROXY_TOKEN_HEADER, TOKEN_HEADER

#: The JupyterHub REST API version this API follows (clients such as the idle culler check it).
API_VERSION = "5.2.1"


# -- helpers --------------------------------------------------------------------


_name = path_name
_load_user = load_user
_int_param = int_param


def _parse_time(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ApiError(400, f"'{field}' must be an ISO 8601 timestamp string.")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as err:
        raise ApiError(400, f"'{field}' is not an ISO 8601 timestamp: {value[:40]!r}.") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


# -- root, whoami ----------------------------------------------------------------


async def api_root(request: Request) -> Response:
    return JSONResponse({"version": API_VERSION, "bindery_version": __version__})


async def health(request: Request) -> Response:
    hub = hub_of(request)
    try:
        with hub.db() as s:
            s.execute(select(1))
    except Exception:  # noqa: BLE001 - health answers, it does not raise
        return JSONResponse(
            {"status": "error", "message": "The hub database cannot be reached."}, status_code=503
        )
    return JSONResponse({"status": "ok"})


async def whoami(request: Request) -> Response:
    """Who the credentials belong to, with their scopes expanded as JupyterHub lists them."""
    principal = get_principal(request)
    assert principal is not None
    scopes = sorted(expand_scopes(principal.scopes, principal.user_name, principal.owner_admin))
    token_id = str(principal.token_id) if principal.token_id is not None else None
    if principal.user_name is None:
        model = service_model_by_name(hub_of(request), principal.name)
    else:
        with hub_of(request).db() as s:
            model = user_model(_load_user(s, principal.user_name))
    model.update(scopes=scopes, token_id=token_id, session_id=None)
    return JSONResponse(model)


# -- users -------------------------------------------------------------------------


SORT_KEYS = {"id": User.id, "name": User.name, "last_activity": User.last_activity}


def _listable(principal: Principal) -> tuple[set[str], set[str]] | None:
    """``None`` when every user may be listed, else the names and groups the caller's
    filtered ``list:users`` scopes reach (JupyterHub lists just those)."""
    granted = expand_scopes(principal.scopes, principal.user_name, principal.owner_admin)
    if "list:users" in granted:
        return None
    names: set[str] = set()
    groups: set[str] = set()
    for scope in granted:
        if scope.startswith("list:users!"):
            kind, _, value = scope.partition("!")[2].partition("=")
            if kind == "user":
                names.add(value)
            elif kind == "group":
                groups.add(value)
    if not names and not groups:
        raise ApiError(403, "Your credentials lack the scope 'list:users'.")
    return names, groups


async def list_users(request: Request) -> Response:
    principal = get_principal(request)
    assert principal is not None
    reach = _listable(principal)
    hub = hub_of(request)
    state = request.query_params.get("state")
    if state not in (None, "", "ready", "active", "inactive"):
        raise ApiError(400, f"Unrecognized state filter: {state[:40]!r} "
                            "(use ready, active or inactive).")
    sort = request.query_params.get("sort") or "id"
    column = SORT_KEYS.get(sort.removeprefix("-"))
    if column is None:
        raise ApiError(400, f"Cannot sort users by {sort[:40]!r}: use id, name or "
                            "last_activity, with '-' in front for descending order.")
    name_filter = request.query_params.get("name_filter", "")
    offset, limit = page_window(request)
    activity = can(principal, "read:users:activity")
    servers = can(principal, "read:servers")
    stopped = truthy_param(request, "include_stopped_servers")
    with hub.db() as s:
        query = select(User)
        if reach is not None:
            names, groups = reach
            members = select(group_members.c.user_id).join(
                Group, Group.id == group_members.c.group_id).where(Group.name.in_(groups))
            query = query.where(or_(User.name.in_(names), User.id.in_(members)))
        active_q = select(Server.user_id).where(active())
        if state == "ready":
            query = query.where(
                User.id.in_(select(Server.user_id).where(status_is(ServerStatus.RUNNING)))
            )
        elif state == "active":
            query = query.where(User.id.in_(active_q))
        elif state == "inactive":
            query = query.where(User.id.not_in(active_q))
        if name_filter:
            # A substring match, as JupyterHub does; LIKE wildcards in the text are literal.
            escaped = name_filter.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(User.name.like(f"%{escaped}%", escape="\\"))
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        order = column.desc() if sort.startswith("-") else column.asc()
        users = s.scalars(query.order_by(order, User.id).offset(offset).limit(limit)).all()
        server_state = can(principal, "admin:server_state")
        items = [user_model(u, activity=activity, servers=servers, include_stopped=stopped,
                            state=server_state,
                            auth_state=can(principal, "admin:auth_state", u.name))
                 for u in users]
    return paged(request, items, offset, limit, total)


async def create_users(request: Request) -> Response:
    require(request, "admin:users")
    body = await json_body(request)
    names = body.get("usernames")
    if not isinstance(names, list) or not names:
        raise ApiError(400, 'Send {"usernames": ["name", ...]} with at least one name.')
    admin = body.get("admin", False)
    if not isinstance(admin, bool):
        raise ApiError(400, "'admin' must be true or false.")
    checked = [_name(n) if isinstance(n, str) else _name("") for n in names]
    with hub_of(request).db() as s:
        existing = set(s.scalars(select(User.name).where(User.name.in_(checked))))
        fresh = [n for n in dict.fromkeys(checked) if n not in existing]
        if not fresh:
            raise ApiError(409, f"All of these users exist already: {', '.join(sorted(existing))}.")
        users = [User(name=n, admin=admin, kind="user", created=utcnow()) for n in fresh]
        s.add_all(users)
        s.commit()
        return JSONResponse([user_model(u, auth_state=True) for u in users], status_code=201)


async def user_detail(request: Request) -> Response:
    name = _name(request.path_params["name"])
    hub = hub_of(request)
    if request.method == "GET":
        principal = get_principal(request)
        assert principal is not None
        target = user_target(request, name, None, principal)

        def may(scope: str) -> bool:
            return can_on(principal, scope, target)

        if not may("read:users") and may("read:users:name"):
            # Only the name may be read (JupyterHub's model for ``read:users:name``).
            with hub.db() as s:
                who = _load_user(s, name)
                return JSONResponse({"kind": "user", "name": who.name, "admin": who.admin,
                                     "user_info": None})
        require(request, "read:users", name, target=target)
        with hub.db() as s:
            return JSONResponse(
                user_model(
                    _load_user(s, name),
                    servers=may("read:servers"),
                    state=may("admin:server_state"),
                    include_stopped=truthy_param(request, "include_stopped_servers"),
                    auth_state=may("admin:auth_state"),
                )
            )
    require(request, "admin:users", name)
    if request.method == "POST":
        body = await json_body(request)
        admin = body.get("admin", False)
        if not isinstance(admin, bool):
            raise ApiError(400, "'admin' must be true or false.")
        kind = body.get("kind", "user")
        if kind not in ("user", "temporary"):
            raise ApiError(
                400,
                '\'kind\' must be "user" or "temporary" (temporary users are culled '
                "with their server).",
            )
        with hub.db() as s:
            if s.scalars(select(User).where(User.name == name)).first() is not None:
                raise ApiError(409, f"User {name!r} exists already.")
            user = User(name=name, admin=admin, kind=kind, created=utcnow())
            s.add(user)
            s.commit()
            return JSONResponse(user_model(user, auth_state=True), status_code=201)
    if request.method == "PATCH":
        body = await json_body(request)
        with hub.db() as s:
            user = _load_user(s, name)
            if "admin" in body:
                if not isinstance(body["admin"], bool):
                    raise ApiError(400, "'admin' must be true or false.")
                user.admin = body["admin"]
            if "name" in body:
                if not isinstance(body["name"], str):
                    raise ApiError(400, "'name' must be text.")
                try:
                    rename_user(s, user, _name(body["name"]))
                except RenameRefused as err:
                    raise ApiError(400, str(err)) from err
            s.commit()
            return JSONResponse(user_model(user, auth_state=True))
    # DELETE: stop the user's servers first, then forget the user.
    try:
        await hub.manager.delete_user(name)
    except NoSuchUser as err:
        raise ApiError(404, str(err)) from err
    return Response(status_code=204)


async def user_activity(request: Request) -> Response:
    name = _name(request.path_params["name"])
    require(request, "users:activity", name)
    body = await json_body(request)
    user_time = (
        _parse_time(body["last_activity"], "last_activity") if "last_activity" in body else None
    )
    servers = body.get("servers", {})
    if not isinstance(servers, dict):
        raise ApiError(400, "'servers' must be an object {server name: {\"last_activity\": ...}}.")
    now = utcnow()
    with hub_of(request).db() as s:
        user = _load_user(s, name)
        by_name = {srv.name: srv for srv in user.servers}
        for server_name, info in servers.items():
            if server_name not in by_name:
                raise ApiError(400, f"User {name!r} has no server named {server_name!r}.")
            if not isinstance(info, dict) or "last_activity" not in info:
                raise ApiError(
                    400, f'servers[{server_name!r}] must be {{"last_activity": <timestamp>}}.'
                )
            when = min(_parse_time(info["last_activity"], "last_activity"), now)
            srv = by_name[server_name]
            if srv.last_activity is None or when > srv.last_activity:
                srv.last_activity = when
            user_time = max(user_time or when, when)
        if user_time is not None:
            user_time = min(user_time, now)
            if user.last_activity is None or user_time > user.last_activity:
                user.last_activity = user_time
        s.commit()
    return Response(status_code=200)  # JupyterHub answers 200 with no body


# -- servers ---------------------------------------------------------------------------


def _server_key(request: Request) -> tuple[str, str]:
    name = _name(request.path_params["name"])
    server_name = request.path_params.get("server", "")
    if server_name:
        server_name = _name(server_name, "server name")
    return name, server_name


async def server_action(request: Request) -> Response:
    """Start (POST) or stop (DELETE) a server; 201/204 when done in time, else 202 (still going)."""
    name, server_name = _server_key(request)
    hub = hub_of(request)
    if request.method == "POST":
        require(request, "start:servers", name, server=server_name)
        options, display = start_request(await json_body(request))
        if options is None:
            options = _previous_options(request, name, server_name)
        try:
            spawn = await hub.manager.start(name, server_name, options)
        except NoSuchUser as err:
            raise ApiError(404, str(err)) from err
        except StartRefused as err:  # includes AlreadyRunning
            raise ApiError(400, str(err)) from err
        except TooManyServers as err:
            raise ApiError(429, str(err), {"Retry-After": str(err.retry_after)}) from err
        remember_display_name(request, name, server_name, display)
        if not await spawn.finished(hub.settings.slow_spawn_timeout):
            return Response(status_code=202)
        if spawn.failure:
            raise ApiError(503, f"The server could not be started: {spawn.failure}")
        return Response(status_code=201)
    # DELETE
    require(request, "delete:servers", name, server=server_name)
    body = await json_body(request)
    try:
        stopped = await hub.manager.stop(
            name,
            server_name,
            remove=bool(body.get("remove", False)),
            wait=hub.settings.slow_stop_timeout,
        )
    except (NoSuchUser, NoSuchServer) as err:
        raise ApiError(404, str(err)) from err
    return Response(status_code=204 if stopped else 202)


def _previous_options(request: Request, name: str, server_name: str) -> dict[str, Any]:
    """The options of the server's last start (JupyterHub 6: no options means "as before")."""
    with hub_of(request).db() as s:
        user = _load_user(s, name)
        row = next((srv for srv in user.servers if srv.name == server_name), None)
        return dict(row.user_options or {}) if row is not None else {}


async def server_progress(request: Request) -> Response:
    """The progress of the server's start as Server-Sent Events (JupyterHub's progress API)."""
    name, server_name = _server_key(request)
    require(request, "read:servers", name, server=server_name)
    with hub_of(request).db() as s:
        _load_user(s, name)
    try:
        progress = hub_of(request).manager.progress(name, server_name)
    except NothingToFollow as err:
        raise ApiError(400, str(err)) from err

    async def events() -> AsyncIterator[bytes]:
        async for event in progress:
            yield _sse(event)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event: SpawnEvent) -> bytes:
    return f"data: {json.dumps(event.as_json())}\n\n".encode()


# -- tokens ---------------------------------------------------------------------------


async def user_tokens(request: Request) -> Response:
    name = _name(request.path_params["name"])
    hub = hub_of(request)
    if request.method == "GET":
        require(request, "read:tokens", name)
        with hub.db() as s:
            user = _load_user(s, name)
            rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)).all()
            now = utcnow()
            return JSONResponse(
                {
                    "api_tokens": [
                        token_model(r) for r in rows if r.expires_at is None or r.expires_at > now
                    ]
                }
            )
    principal = require(request, "tokens", name)
    body = await json_body(request)
    note = body.get("note", "")
    expires_in = body.get("expires_in")
    if not isinstance(note, str) or len(note) > 1000:
        raise ApiError(400, "'note' must be text of at most 1000 characters.")
    if expires_in is not None and (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, (int, float))
        or not 0 < expires_in <= 10 * 365 * 86400
    ):
        raise ApiError(
            400, "'expires_in' must be a number of seconds greater than 0 (at most 10 years)."
        )
    try:
        scopes = check_scopes(body["scopes"]) if "scopes" in body else None
    except ScopeError as err:
        raise ApiError(400, str(err)) from err
    with hub.db() as s:
        user = _load_user(s, name)
        scopes = _grantable_scopes(request, s, principal, scopes, user)
        token, row = create_token(
            s,
            user=user,
            scopes=scopes,
            note=note or f"Requested via API by {principal.name}",
            expires_in=expires_in,
        )
        s.commit()
        model = token_model(row)
    model["token"] = token
    return JSONResponse(model, status_code=201)


def _grantable_scopes(request: Request, s: Session, principal: Principal,
                      requested: list[str] | None, user: User) -> list[str]:
    """The new token's scopes: never more than its requester or its owner holds (JupyterHub).

    No ``scopes`` in the request means ``self`` (all the owner may do) when the requester
    holds that much, else the requester's own scopes narrowed to the owner
    (``tokens`` → ``tokens!user=<owner>``): a narrow token can copy itself, never widen.
    """

    def beyond(held: frozenset[str], holder: str | None, holder_admin: bool,
               scopes: list[str]) -> list[str]:
        return scopes_beyond(held, scopes, holder_user=holder, holder_admin=holder_admin,
                             owner=user.name, owner_admin=user.admin)

    def by_requester(scopes: list[str]) -> list[str]:
        return beyond(principal.scopes, principal.user_name, principal.owner_admin, scopes)

    if requested is None:
        requested = (
            ["self"]
            if not by_requester(["self"])
            else sorted(s if "!" in s else f"{s}!user={user.name}" for s in principal.scopes)
        )
    excess = by_requester(requested)
    if excess:
        raise ApiError(
            403,
            f"You may only create tokens with scopes you hold yourself: {principal.name!r} "
            f"does not hold {', '.join(excess)} for {user.name!r} (it holds "
            f"{', '.join(sorted(principal.scopes)) or 'nothing'}).",
        )
    held_by_owner = owner_scopes(user.admin,
                                 temporary_name=user.name if user.kind == "temporary" else None)
    held_by_owner = held_by_owner | granted_to_user(request, s, user)
    excess = beyond(held_by_owner, user.name, user.admin, requested)
    if excess:
        raise ApiError(
            400,
            f"A token cannot hold more than its owner: {user.name!r} does not hold "
            f"{', '.join(excess)}.",
        )
    return requested


async def user_token(request: Request) -> Response:
    name = _name(request.path_params["name"])
    token_id = request.path_params["token_id"]
    hub = hub_of(request)
    require(request, "read:tokens" if request.method == "GET" else "tokens", name)
    if not (token_id.isascii() and token_id.isdigit()) or len(token_id) > 18:
        raise ApiError(404, f"No such token: {token_id[:40]!r}.")
    with hub.db() as s:
        user = _load_user(s, name)
        row = s.scalars(
            select(ApiToken).where(ApiToken.id == int(token_id), ApiToken.user_id == user.id)
        ).first()
        if row is None:
            raise ApiError(404, f"User {name!r} has no token {token_id}.")
        if request.method == "GET":
            return JSONResponse(token_model(row))
        s.delete(row)
        s.commit()
    return Response(status_code=204)


# -- edge auth for the proxy --------------------------------------------------------------


async def proxy_authorize(request: Request) -> Response:
    """Is the client behind these credentials allowed into ``user``'s server? (asked by the proxy)

    Only the proxy may ask: it must present the shared route-API secret in
    ``X-Bindery-Proxy-Token`` (a header, so the secret never sits in a URL or a log).
    """
    hub = hub_of(request)
    secret = hub.settings.proxy.auth_token
    presented = request.headers.get(PROXY_TOKEN_HEADER, "")
    if not secret or not hmac.compare_digest(presented.encode(), secret.encode()):
        raise ApiError(
            403, "Only the proxy may use this endpoint (X-Bindery-Proxy-Token is missing or wrong)."
        )
    try:
        target = check_name(request.query_params.get("user", ""))
    except InvalidName as err:
        raise ApiError(400, str(err)) from err
    query_token = request.headers.get(TOKEN_HEADER)
    principal: Principal | None = None
    from_link = False
    try:
        if request.headers.get("authorization"):
            principal = get_principal(request, required=False)
        elif query_token:
            principal = principal_from_token(request, query_token)
            from_link = True
    except InvalidCredentials:
        principal = None
    handed = handed_over_login(request, target)
    candidates = [p for p in (principal, handed) if p is not None]
    candidates += [p for p in (principal_from_cookie(request), _server_pass(request, target))
                   if p is not None]
    if not candidates:
        raise ApiError(401, "Not logged in.")
    server = Target(user=target, server=f"{target}/{_server_of_path(request, target)}")
    allowed = next((p for p in candidates if can_on(p, "access:servers", server)), None)
    shared = (allowed is not None and allowed.user_name != target
              and f"access:servers!server={server.server}" in allowed.scopes)
    if allowed is None:
        raise ApiError(403, f"{candidates[0].name!r} may not use the server of {target!r}.")
    headers = {}
    via_link = from_link and allowed is principal
    if via_link or allowed.via == "server-pass" or shared:
        # Answers that rest on a shared link's token or on a share are checked afresh on
        # every request (the proxy must not cache them), so revoking ends the access at once.
        headers["Cache-Control"] = "no-store"
    if via_link and allowed.token_id is not None:
        # A ?token= link never logs the browser in to the hub (that would turn a narrow
        # token into its owner's whole session). It leaves a pass for this user's servers
        # only, naming the token, so the token's scopes and life still decide every request.
        headers["Set-Cookie"] = _server_pass_cookie(request, allowed.token_id, target)
    elif allowed is handed and handed is not None:
        headers["Set-Cookie"] = login_pass_cookie(request, handed, target)
    return JSONResponse({"name": allowed.name, "admin": allowed.is_admin}, headers=headers)


def _server_of_path(request: Request, user: str) -> str:
    """Which of ``user``'s servers the proxied ``path`` is in ("" = the default one)."""
    path = request.query_params.get("path", "")
    with hub_of(request).db() as s:
        row = s.scalars(select(User).where(User.name == user)).first()
        names = [srv.name for srv in row.servers if srv.name] if row is not None else []
    return next((n for n in names if path.startswith(server_base_url(user, n))), "")


def _server_pass(request: Request, target: str) -> Principal | None:
    """The principal of a ``bindery-server`` cookie for ``target``'s servers, if still valid."""
    hub = hub_of(request)
    grant = hub.signer.server_passes.loads(hub_cookie(request, SERVER_COOKIE))
    path = request.query_params.get("path", "")
    if grant is None or grant.user != target or not path.startswith(server_base_url(target)):
        return None
    if grant.session:
        return login_principal(request, grant.session)
    with hub.db() as s:
        row = find_token_by_id(s, grant.token_id, grant.fingerprint)
        if row is None:
            return None
        principal = principal_for_token(row)
        s.commit()
    principal.via = "server-pass"
    return principal


def _server_pass_cookie(request: Request, token_id: int, target: str) -> str:
    hub = hub_of(request)
    with hub.db() as s:
        row = s.get(ApiToken, token_id)
        assert row is not None, "the token was found a moment ago"
        grant = ServerPass(token_id=token_id, fingerprint=token_fingerprint(row), user=target)
    return server_pass_cookie_header(
        hub.signer.server_passes, grant, server_base_url(target), hub.secure_cookies
    )


def api_routes() -> list[BaseRoute]:
    return [
        Route("/hub/api", api_root, methods=["GET"]),
        Route("/hub/api/", api_root, methods=["GET"]),
        Route("/hub/health", health, methods=["GET"]),
        Route("/hub/api/health", health, methods=["GET"]),
        Route("/hub/api/user", whoami, methods=["GET"]),
        Route("/hub/api/users", list_users, methods=["GET"]),
        Route("/hub/api/users", create_users, methods=["POST"]),
        Route("/hub/api/users/{name}", user_detail, methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/hub/api/users/{name}/activity", user_activity, methods=["POST"]),
        Route("/hub/api/users/{name}/server", server_action, methods=["POST", "DELETE"]),
        Route("/hub/api/users/{name}/server/progress", server_progress, methods=["GET"]),
        Route("/hub/api/users/{name}/servers/{server}", server_action, methods=["POST", "DELETE"]),
        Route("/hub/api/users/{name}/servers/{server}", server_resource,
              methods=["GET", "PUT", "PATCH"]),
        Route("/hub/api/users/{name}/servers/{server}/progress", server_progress, methods=["GET"]),
        Route("/hub/api/users/{name}/tokens", user_tokens, methods=["GET", "POST"]),
        Route("/hub/api/users/{name}/tokens/{token_id}", user_token, methods=["GET", "DELETE"]),
        Route("/hub/api/proxy/authorize", proxy_authorize, methods=["GET"]),
        *group_routes(),
        *share_routes(),
        *hub_info_routes(),
    ]
