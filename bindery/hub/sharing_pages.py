"""Sharing from the home page (JupyterHub has no UI for it) and accepting an invitation.

* ``POST /hub/share``: share one of my servers with a user or a group (a form);
* ``POST /hub/unshare``: end one share;
* ``POST /hub/share-code``: make an invitation link, shown once on a page of its own;
* ``GET/POST /hub/accept-share?code=``: the invited person, logged in, accepts.

Forms carry the ``_xsrf`` field like every hub form; the rules are
``bindery.hub.sharing``'s, the permissions the same scopes as the API's.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bindery.hub.api.access import can_on, principal_from_cookie
from bindery.hub.context import hub_of
from bindery.hub.db.models import Group, Share, User
from bindery.hub.names import InvalidName, check_name
from bindery.hub.pages import error_page, render
from bindery.hub.scopes import Target
from bindery.hub.security import xsrf_ok
from bindery.hub.sharing import (
    ACCEPT_PATH,
    SharingError,
    accept_code,
    grant,
    new_code,
    server_scope,
)
from bindery.hub.tokens import Principal


async def _person(request: Request) -> tuple[Principal, dict[str, str]] | Response:
    principal = principal_from_cookie(request)
    if principal is None or principal.user_name is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/hub/login?next={quote(back)}", status_code=303)
    if request.method == "GET":
        return principal, dict(request.query_params)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not xsrf_ok(request, hub_of(request).signer, form.get("_xsrf")):
        return error_page(request, 403, "The form had expired or came from another site "
                                        "(XSRF check failed). Reload the page and try again.")
    return principal, form


def _home(note: str = "", error: str = "") -> Response:
    query = f"?error={quote(error)}" if error else (f"?note={quote(note)}" if note else "")
    return RedirectResponse(f"/hub/home{query}#sharing", status_code=303)


def _may_share(principal: Principal, owner: str, server: str) -> bool:
    return can_on(principal, "shares", Target(user=owner, server=f"{owner}/{server}"))


async def share(request: Request) -> Response:
    got = await _person(request)
    if isinstance(got, Response):
        return got
    principal, form = got
    owner_name = principal.user_name or ""
    server = form.get("server_name", "")
    who = form.get("with", "").strip()
    kind = form.get("kind", "user")
    if not _may_share(principal, owner_name, server):
        return _home(error="You may not share this server.")
    try:
        with hub_of(request).db() as s:
            owner = s.scalars(select(User).where(User.name == owner_name)).one()
            if kind == "group":
                group = s.scalars(select(Group).where(
                    Group.name == check_name(who, "group name"))).first()
                if group is None:
                    return _home(error=f"There is no group called {who!r}.")
                grant(s, owner, server, [server_scope(owner.name, server)], group=group)
            else:
                name = check_name(who)
                user = s.scalars(select(User).where(User.name == name)).first()
                if user is None:
                    return _home(error=f"There is no user called {name!r}.")
                grant(s, owner, server, [server_scope(owner.name, server)], user=user)
            s.commit()
    except (InvalidName, SharingError) as err:
        return _home(error=str(err))
    label = f"{owner_name}/{server}" if server else "your default server"
    return _home(note=f"Shared {label} with {kind} {who}.")


async def unshare(request: Request) -> Response:
    got = await _person(request)
    if isinstance(got, Response):
        return got
    principal, form = got
    share_id = form.get("share", "")
    with hub_of(request).db() as s:
        plain = share_id.isascii() and share_id.isdigit() and len(share_id) <= 18
        row = s.get(Share, int(share_id)) if plain else None
        if row is None or row.owner.name != principal.user_name or not _may_share(
                principal, row.owner.name, row.server_name):
            return _home(error="That share does not exist (any more).")
        s.delete(row)
        s.commit()
    return _home(note="The share has ended.")


async def make_code(request: Request) -> Response:
    got = await _person(request)
    if isinstance(got, Response):
        return got
    principal, form = got
    owner_name = principal.user_name or ""
    server = form.get("server_name", "")
    if not _may_share(principal, owner_name, server):
        return _home(error="You may not share this server.")
    try:
        with hub_of(request).db() as s:
            owner = s.scalars(select(User).where(User.name == owner_name)).one()
            code, row = new_code(s, owner, server, [server_scope(owner_name, server)], None)
            s.commit()
            expires = row.expires_at
    except SharingError as err:
        return _home(error=str(err))
    link = f"{hub_of(request).settings.effective_public_url}{ACCEPT_PATH}?code={quote(code)}"
    return render(request, "share_code.html", principal=principal, link=link,
                  server=server, expires=expires)


async def accept(request: Request) -> Response:
    got = await _person(request)
    if isinstance(got, Response):
        return got
    principal, form = got
    code = form.get("code", "")
    if request.method == "GET":
        return render(request, "accept_share.html", principal=principal, code=code)
    try:
        with hub_of(request).db() as s:
            user = s.scalars(select(User).where(User.name == principal.user_name)).one()
            share_row = accept_code(s, code, user)
            url = hub_of(request).origins.server_url(share_row.owner.name,
                                                     share_row.server_name)
            s.commit()
    except SharingError as err:
        return error_page(request, err.status, str(err))
    return RedirectResponse(url, status_code=303)


def sharing_page_routes() -> list[BaseRoute]:
    return [
        Route("/hub/share", share, methods=["POST"]),
        Route("/hub/unshare", unshare, methods=["POST"]),
        Route("/hub/share-code", make_code, methods=["POST"]),
        Route(ACCEPT_PATH, accept, methods=["GET", "POST"]),
    ]
