"""Who is calling, may they do this, and is their request body usable? (shared by all handlers)."""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from bindery.hub import audit
from bindery.hub.api.errors import ApiError
from bindery.hub.context import hub_of
from bindery.hub.db.models import Group, User
from bindery.hub.roles import role_scopes
from bindery.hub.scopes import Target, expand_scopes, has_scope, owner_scopes
from bindery.hub.security import (
    SAFE_METHODS,
    SESSION_COOKIE,
    XSRF_HEADER,
    cross_origin,
    hub_cookie,
    xsrf_ok,
)
from bindery.hub.sessions import session_user
from bindery.hub.sharing import share_scopes
from bindery.hub.tokens import Principal, find_token, principal_for_token

MAX_BODY = 1024 * 1024
#: JupyterHub answers missing and invalid credentials alike with 403 and this text.
INVALID_CREDENTIALS = "Missing or invalid credentials."


class InvalidCredentials(ApiError):
    """No usable token or login: 403, as JupyterHub answers (so ``HubAuth`` returns None)."""

    def __init__(self, detail: str = INVALID_CREDENTIALS) -> None:
        super().__init__(403, detail)


def token_from_request(request: Request) -> str | None:
    """The API token of ``Authorization: token X`` / ``Bearer X`` (or ``?token=`` on the API)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() not in ("token", "bearer") or not value.strip():
            raise InvalidCredentials("Missing or invalid credentials: the Authorization header "
                                     "must be 'token <api token>' or 'Bearer <api token>'.")
        return value.strip()
    query = request.query_params.get("token")
    if query is not None and request.url.path.startswith("/hub/api"):
        return query
    return None


def principal_from_token(request: Request, token: str) -> Principal:
    hub = hub_of(request)
    with hub.db() as s:
        row = find_token(s, token)
        if row is None:
            raise InvalidCredentials("Missing or invalid credentials: the API token is "
                                     "invalid, expired or revoked.")
        principal = principal_for_token(row)
        if row.user is not None and principal.scopes & {"self", "inherit"}:
            # A token that holds all its owner may do holds what the owner's roles and
            # the servers shared with them grant too.
            principal.scopes = principal.scopes | granted_to_user(request, s, row.user)
        elif row.user is None and row.service:
            principal.scopes = principal.scopes | role_scopes(hub.settings.roles,
                                                              service=row.service)
        s.commit()
    return principal


def granted_to_user(request: Request, s: Session, user: User) -> frozenset[str]:
    """What a user holds beyond ``self``: their configured roles (directly or through a
    group) and the servers shared with them. Binder visitors get neither."""
    if user.kind == "temporary":
        return frozenset()
    roles = role_scopes(hub_of(request).settings.roles, user=user.name,
                        groups=[g.name for g in user.groups])
    return roles | share_scopes(s, user)


def principal_from_cookie(request: Request) -> Principal | None:
    hub = hub_of(request)
    cookie = hub.signer.loads(hub_cookie(request, SESSION_COOKIE))
    if cookie is None:
        return None
    with hub.db() as s:
        # The login must still exist: logout, a password change or the user's deletion end it.
        user = session_user(s, cookie.name, cookie.key)
        if user is None:
            return None
        scopes = owner_scopes(user.admin,
                              temporary_name=user.name if user.kind == "temporary" else None)
        scopes = scopes | granted_to_user(request, s, user)
        return Principal(name=user.name, scopes=scopes, user_name=user.name,
                         owner_admin=user.admin, via="cookie")


def get_principal(request: Request, *, required: bool = True) -> Principal | None:
    """Token first, then the login cookie; cookie-authenticated changes must pass XSRF."""
    cached = request.scope.get("bindery.principal")
    if cached is not None:
        return cast(Principal, cached)
    token = token_from_request(request)
    principal = (
        principal_from_token(request, token)
        if token is not None
        else principal_from_cookie(request)
    )
    if principal is None:
        if required:
            raise InvalidCredentials(
                "Missing or invalid credentials: log in, or send "
                "'Authorization: token <api token>'."
            )
        return None
    if principal.via == "cookie" and request.method not in SAFE_METHODS:
        if cross_origin(request):
            raise ApiError(403, "Cross-origin request refused: a logged-in browser may change "
                                "things only from the hub's own pages (or use an API token).")
        if not xsrf_ok(request, hub_of(request).signer, request.headers.get(XSRF_HEADER)):
            raise ApiError(
                403,
                "XSRF check failed: send the XSRF token of your login (the '_xsrf' field of "
                f"any hub page) in the {XSRF_HEADER} header (or use an API token).",
            )
    request.scope["bindery.principal"] = principal
    audit.set_actor(principal.name)
    return principal


def can(principal: Principal, scope: str, target_user: str | None = None) -> bool:
    return has_scope(
        principal.scopes,
        scope,
        principal_user=principal.user_name,
        target_user=target_user,
        owner_admin=principal.owner_admin,
    )


def can_on(principal: Principal, scope: str, target: Target) -> bool:
    return has_scope(principal.scopes, scope, principal_user=principal.user_name,
                     target_user=target.user, owner_admin=principal.owner_admin, target=target)


def user_target(request: Request, user: str | None, server: str | None = None,
                principal: Principal | None = None) -> Target:
    """The target ``user`` (and ``user/server``), with the user's groups when the
    caller's scopes are narrowed to groups (only then are they looked up)."""
    groups: frozenset[str] = frozenset()
    if user is not None and principal is not None and any(
        "!group=" in scope for scope in principal.scopes
    ):
        with hub_of(request).db() as s:
            groups = frozenset(s.scalars(
                select(Group.name).join(Group.users).where(User.name == user)
            ))
    return Target(user=user, server=f"{user}/{server}" if server is not None else None,
                  groups=groups)


def require(request: Request, scope: str, target_user: str | None = None, *,
            server: str | None = None, target: Target | None = None) -> Principal:
    """The caller, if they hold ``scope`` on the target (a user, ``user/server``, or any
    resource given as ``target``); else 403 naming the missing scope."""
    principal = get_principal(request)
    assert principal is not None
    if target is None:
        target = user_target(request, target_user, server, principal)
    if not can_on(principal, scope, target):
        if holds_narrowed(principal, scope):
            # JupyterHub's answer when the scope is held, but for other resources only:
            # whether this one exists is not the caller's business.
            raise ApiError(404, "No access to resources or resources not found")
        whose = f" for user {target_user!r}" if target_user else ""
        raise ApiError(403, f"Your credentials lack the scope '{scope}'{whose}.")
    return principal


def holds_narrowed(principal: Principal, scope: str) -> bool:
    """Does the principal hold ``scope`` for some resources (a filtered form of it)?"""
    granted = expand_scopes(principal.scopes, principal.user_name, principal.owner_admin)
    return any(s.startswith(f"{scope}!") for s in granted)


async def json_body(request: Request, default: Any = None, kind: type = dict) -> Any:
    """The parsed body; empty means ``default``; malformed or wrong type → 400 with why."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"The request body is too large (limit {MAX_BODY} bytes).")
    if not raw.strip():
        return default if default is not None else kind()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, f"The request body is not valid JSON: {err}.") from err
    if not isinstance(data, kind):
        raise ApiError(
            400, f"The request body must be a JSON {'object' if kind is dict else 'array'}."
        )
    return data
