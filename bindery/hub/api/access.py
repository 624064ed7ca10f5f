"""Who is calling, may they do this, and is their request body usable? (shared by all handlers)."""

from __future__ import annotations

import json
from typing import Any, cast

from starlette.requests import Request

from bindery.hub import audit
from bindery.hub.api.errors import ApiError
from bindery.hub.context import hub_of
from bindery.hub.scopes import has_scope, owner_scopes
from bindery.hub.security import (
    SAFE_METHODS,
    SESSION_COOKIE,
    XSRF_HEADER,
    cross_origin,
    hub_cookie,
    xsrf_ok,
)
from bindery.hub.sessions import session_user
from bindery.hub.tokens import Principal, find_token, principal_for_token

MAX_BODY = 1024 * 1024


def token_from_request(request: Request) -> str | None:
    """The API token of ``Authorization: token X`` / ``Bearer X`` (or ``?token=`` on the API)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() not in ("token", "bearer") or not value.strip():
            raise ApiError(401, "The Authorization header must be 'token <api token>' or "
                                "'Bearer <api token>'.")
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
            raise ApiError(401, "Invalid, expired or revoked API token.")
        principal = principal_for_token(row)
        s.commit()
    return principal


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
            raise ApiError(
                401, "You are not logged in: log in, or send 'Authorization: token <api token>'."
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


def require(request: Request, scope: str, target_user: str | None = None) -> Principal:
    principal = get_principal(request)
    assert principal is not None
    if not can(principal, scope, target_user):
        whose = f" for user {target_user!r}" if target_user else ""
        raise ApiError(403, f"Your credentials lack the scope '{scope}'{whose}.")
    return principal


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
