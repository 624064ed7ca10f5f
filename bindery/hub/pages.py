"""Server-rendered pages: login, logout, home (my servers), admin, spawn-pending, errors.

Forms post with a hidden ``_xsrf`` field; handlers check it against the ``_xsrf``
cookie before changing anything. Pages never need JavaScript except the progress
bar of spawn-pending (an EventSource on the progress API).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from bindery.hub import audit
from bindery.hub.api.access import can, get_principal, principal_from_cookie
from bindery.hub.api.errors import json_error
from bindery.hub.api.models import progress_url, user_model
from bindery.hub.auth.base import Authenticator, AuthResult, CompletedLogin
from bindery.hub.auth.routes import login_routes
from bindery.hub.context import hub_of
from bindery.hub.db.models import User
from bindery.hub.names import InvalidName, check_name
from bindery.hub.origins import user_in_path
from bindery.hub.redirects import safe_next
from bindery.hub.security import (
    SESSION_COOKIE,
    clear_session_cookie,
    hub_cookie,
    set_session_cookie,
    xsrf_ok,
    xsrf_token,
)
from bindery.hub.server_state import ServerStatus
from bindery.hub.servers import AlreadyRunning, NoSuchServer, NoSuchUser, StartRefused
from bindery.hub.sessions import end_session, session_hash
from bindery.hub.sharing import sharing_context
from bindery.hub.spawners.errors import TooManyServers
from bindery.hub.tokens import Principal
from bindery.proxy.protocol import HANDOFF_PARAM

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "web" / "templates")


def render(request: Request, name: str, status: int = 200, headers: Mapping[str, str] | None = None,
           **context: Any) -> Response:
    principal = context.pop("principal", None) or principal_from_cookie(request)
    return TEMPLATES.TemplateResponse(
        request, f"hub/{name}",
        {"user": principal, "xsrf": xsrf_token(request, hub_of(request).signer), **context},
        status_code=status, headers=headers,
    )


def error_page(request: Request, status: int, message: str,
               headers: Mapping[str, str] | None = None) -> Response:
    return render(request, "error.html", status=status, headers=headers, status_code=status,
                  message=message)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """An error for a person: JSON for the API and programs, the error page for browsers."""
    assert isinstance(exc, HTTPException)
    wants_page = "text/html" in request.headers.get("accept", "")
    if request.url.path.startswith("/hub/api") or not wants_page:
        return json_error(exc.status_code, str(exc.detail), exc.headers)
    return error_page(request, exc.status_code, str(exc.detail), exc.headers)


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/hub/login?{urlencode({'next': target})}", status_code=302)


def _user_or_redirect(request: Request) -> Principal | Response:
    principal = principal_from_cookie(request)
    return principal if principal is not None else _login_redirect(request)


async def _form(request: Request) -> dict[str, str]:
    try:
        form = await request.form()
    except Exception:  # noqa: BLE001 - a broken body is the client's problem, said plainly
        return {}
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _checked_form(request: Request) -> dict[str, str] | Response:
    form = await _form(request)
    if not xsrf_ok(request, hub_of(request).signer, form.get("_xsrf")):
        return error_page(request, 403, "The form had expired or came from another site "
                                        "(XSRF check failed). Reload the page and try again.")
    return form


# -- login / logout ----------------------------------------------------------------


async def finish_login(request: Request, result: AuthResult, next_url: str | None = None) -> Response:
    """Turn an identified person into a session: lists, user row, login cookie, redirect.

    The one place a login ends, whichever way it came: the login form, a visit
    (temporary users) or an external provider's callback (:func:`authenticator_routes`).
    """
    hub = hub_of(request)
    auth = hub.authenticator
    try:
        # Whatever the authenticator returned, in the hub's one spelling (NFKC, lowercase).
        result.name = check_name(result.name)
    except InvalidName as err:
        return render(request, "login.html", status=403, error=f"Your user name cannot be used here: {err}",
                      authenticator=auth, next=next_url or "")
    if not auth.check_allowed(result):
        return render(request, "login.html", status=403, error="This account is not allowed on this hub.",
                      authenticator=auth, next=next_url or "")
    admin = auth.is_admin(result) if (result.admin is not None or result.name in auth.admin_users) else None
    hub.get_or_create_user(result.name, admin=admin, kind="temporary" if result.temporary else "user")
    response = RedirectResponse(_next(request, next_url), status_code=302)
    set_session_cookie(response, hub.login_cookie(result.name), hub.signer.max_age,
                       hub.secure_cookies)
    audit.record("login", actor=result.name, user=result.name, ip=_client_ip(request),
                 authenticator=type(auth).__name__)
    return response


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _next(request: Request, next_url: str | None) -> str:
    """Where a login sends the browser: a hub path, or a user's server on its subdomain."""
    if next_url:
        server = hub_of(request).origins.server_next(next_url)
        if server is not None:
            return server
    return safe_next(next_url)


def _hand_over(request: Request, next_url: str) -> Response | None:
    """A logged-in browser sent here by the proxy on its way to a user's server: send it back
    with a one-time code the proxy turns into a pass for that server (hub/handoff.py)."""
    hub = hub_of(request)
    target = _next(request, next_url)
    path = target.split("://", 1)[1].partition("/")[2] if "://" in target else target.lstrip("/")
    owner = user_in_path("/" + path.partition("?")[0])
    cookie = hub.signer.loads(hub_cookie(request, SESSION_COOKIE))
    if owner is None or cookie is None:
        return None
    code = hub.handoffs.issue(session_hash(cookie.key), owner)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode({HANDOFF_PARAM: code})}",
                            status_code=302)


async def login(request: Request) -> Response:
    hub = hub_of(request)
    auth = hub.authenticator
    next_url = request.query_params.get("next", "")
    if request.method == "GET":
        if principal_from_cookie(request) is not None:
            handed = _hand_over(request, next_url) if next_url else None
            return handed or RedirectResponse(_next(request, next_url), status_code=302)
        if auth.login_on_visit:
            return await _login_on_visit(request, next_url)
        return render(request, "login.html", authenticator=auth, next=next_url,
                      login_link=auth.login_url(next_url))
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    username = form.get("username", "").strip().lower()[:256]
    ip = request.client.host if request.client else None
    wait = hub.login_limiter.check(ip, username)
    if wait is not None:
        return render(request, "login.html", status=429, headers={"Retry-After": str(wait)},
                      error=f"Too many failed logins. Try again in {wait} seconds.",
                      authenticator=auth, next=form.get("next", ""), username=username)
    result = await auth.authenticate(request, form)
    if result is None:
        hub.login_limiter.record_failure(ip, username)
        audit.record("login.failed", actor=username or "anonymous", user=username, ip=ip)
        return render(request, "login.html", status=403, error="Invalid user name or password.",
                      authenticator=auth, next=form.get("next", ""), username=username)
    hub.login_limiter.record_success(ip, username)
    return await finish_login(request, result, form.get("next"))


async def _login_on_visit(request: Request, next_url: str) -> Response:
    """Opening the page is the login (temporary users): a fresh name, retried if it is taken."""
    hub = hub_of(request)
    auth = hub.authenticator
    result: AuthResult | None = None
    for _ in range(5):
        result = await auth.authenticate(request, {})
        if result is None:
            break
        with hub.db() as s:
            if s.scalars(select(User).where(User.name == result.name)).first() is None:
                break
    if result is None:
        return render(request, "login.html", status=403,
                      error="This hub has no login of its own: start from the binder's page.",
                      authenticator=auth, next=next_url)
    return await finish_login(request, result, next_url)


async def logout(request: Request) -> Response:
    """GET shows a page with a logout button; only its POST (with XSRF) logs out.

    Like JupyterHub 4+: a logout over GET could be triggered by any page (an
    ``<img src=/hub/logout>``), and link prefetchers would log people out.
    """
    if request.method == "GET":
        return render(request, "logout.html")
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    hub = hub_of(request)
    cookie = hub.signer.loads(hub_cookie(request, SESSION_COOKIE))
    if cookie is not None:
        with hub.db() as s:
            end_session(s, cookie.key)  # the cookie is worthless from now on, wherever it is
            s.commit()
        audit.record("logout", actor=cookie.name, user=cookie.name)
    response = RedirectResponse("/hub/login", status_code=302)
    clear_session_cookie(response, hub.secure_cookies)
    return response


# -- home ----------------------------------------------------------------------------


async def home(request: Request) -> Response:
    principal = _user_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    hub = hub_of(request)
    with hub.db() as s:
        user = s.scalars(select(User).where(User.name == principal.user_name)).one()
        model = user_model(user)
        named = sorted((srv for srv in user.servers if srv.name), key=lambda srv: srv.name)
        statuses = [(srv.name, ServerStatus.of(srv), srv.last_error) for srv in named]
        default_row = next((srv for srv in user.servers if srv.name == ""), None)
        last_error = default_row.last_error if default_row is not None else None
        sharing = (sharing_context(s, user, hub_of(request).origins.server_url)
                   if user.kind != "temporary" else None)
    named_models = [{"name": name, "active": status.active, "ready": status is ServerStatus.RUNNING,
                     "pending": status.pending,
                     "url": hub_of(request).origins.server_url(user.name, name),
                     "last_error": error}
                    for name, status, error in statuses]
    default = model["servers"].get("")
    return render(request, "home.html", principal=principal, model=model, default=default,
                  named=named_models, allow_named=hub.settings.allow_named_servers,
                  last_error=last_error,
                  error=request.query_params.get("error", "")[:300],
                  note=request.query_params.get("note", "")[:300], sharing=sharing)


async def spawn(request: Request) -> Response:
    principal = _user_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    hub = hub_of(request)
    target = form.get("user") or principal.user_name or ""
    server_name = form.get("server_name", "").strip()
    try:
        target = check_name(target)
        if server_name:
            check_name(server_name, "server name")
    except InvalidName as err:
        return error_page(request, 400, str(err))
    if target != principal.user_name and not principal.is_admin:
        return error_page(request, 403, "You may only start your own servers.")
    if not can(principal, "servers", target):
        return error_page(request, 403, "Temporary users cannot start servers here: "
                                        "start one from the binder's page.")
    try:
        await hub.manager.start(target, server_name, {})
    except AlreadyRunning:
        return RedirectResponse(hub_of(request).origins.server_url(target, server_name),
                                status_code=302)
    except StartRefused as err:
        return error_page(request, 400, str(err))
    except NoSuchUser as err:
        return error_page(request, 404, str(err))
    except TooManyServers as err:
        return error_page(request, 429, str(err), {"Retry-After": str(err.retry_after)})
    tail = f"/{quote(server_name)}" if server_name else ""
    return RedirectResponse(f"/hub/spawn-pending/{quote(target)}{tail}", status_code=302)


async def stop(request: Request) -> Response:
    principal = _user_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    hub = hub_of(request)
    target = form.get("user") or principal.user_name or ""
    server_name = form.get("server_name", "")
    if target != principal.user_name and not principal.is_admin:
        return error_page(request, 403, "You may only stop your own servers.")
    try:
        target = check_name(target)
        if server_name:
            check_name(server_name, "server name")
    except InvalidName as err:
        return error_page(request, 400, str(err))
    try:
        await hub.manager.stop(target, server_name, remove=bool(form.get("remove")),
                               wait=hub.settings.slow_stop_timeout)
    except (NoSuchUser, NoSuchServer):
        pass  # nothing of that name runs: the page shows what there is
    return RedirectResponse(_next(request, form.get("next")), status_code=302)


async def spawn_pending(request: Request) -> Response:
    principal = _user_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    target = request.path_params["name"]
    server_name = request.path_params.get("server", "")
    if target != principal.user_name and not principal.is_admin:
        return error_page(request, 403, "You may only watch your own servers start.")
    state = hub_of(request).manager.state(target, server_name)
    if state.status is ServerStatus.RUNNING:
        return RedirectResponse(hub_of(request).origins.server_url(target, server_name),
                                status_code=302)
    if state.status is not ServerStatus.STARTING and state.failure is None:
        return RedirectResponse("/hub/home", status_code=302)
    return render(request, "spawn_pending.html", principal=principal, target=target,
                  server_name=server_name, progress_url=progress_url(target, server_name),
                  failure=state.failure)


# -- admin ------------------------------------------------------------------------------


def _admin_or_error(request: Request) -> Principal | Response:
    principal = _user_or_redirect(request)
    if isinstance(principal, Response):
        return principal
    if not principal.is_admin:
        return error_page(request, 403, "Only admins may see the admin page.")
    return principal


async def admin(request: Request) -> Response:
    principal = _admin_or_error(request)
    if isinstance(principal, Response):
        return principal
    with hub_of(request).db() as s:
        users = [user_model(u) for u in s.scalars(select(User).order_by(User.name).limit(1000))]
    return render(request, "admin.html", principal=principal, users=users)


async def admin_delete_user(request: Request) -> Response:
    principal = _admin_or_error(request)
    if isinstance(principal, Response):
        return principal
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    try:
        await hub_of(request).manager.delete_user(form.get("user", ""))
    except NoSuchUser as err:
        return error_page(request, 404, str(err))
    return RedirectResponse("/hub/admin", status_code=302)


async def admin_add_user(request: Request) -> Response:
    principal = _admin_or_error(request)
    if isinstance(principal, Response):
        return principal
    form = await _checked_form(request)
    if isinstance(form, Response):
        return form
    try:
        name = check_name(form.get("user", "").strip().lower())
    except InvalidName as err:
        return error_page(request, 400, str(err))
    hub_of(request).get_or_create_user(name, admin=bool(form.get("admin")))
    return RedirectResponse("/hub/admin", status_code=302)


# -- fallbacks ------------------------------------------------------------------------------


async def hub_root(request: Request) -> Response:
    return RedirectResponse("/hub/home", status_code=302)


async def user_fallback(request: Request) -> Response:
    """A request for ``/user/<name>/…`` reached the hub: that server has no route (not running)."""
    name = request.path_params["name"]
    if "text/html" not in request.headers.get("accept", ""):
        # Programs (API clients, kernels' websockets) get a plain answer, not a login page.
        return json_error(503, f"No server of {name!r} is running at this address; "
                               "start it from the hub (POST /hub/api/users/<name>/server).")
    principal = principal_from_cookie(request)
    if principal is None:
        return _login_redirect(request)
    return render(request, "not_running.html", status=424 if name == principal.user_name else 404,
                  principal=principal, target=name)


def page_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = [
        Route("/", hub_root, methods=["GET"]),
        Route("/hub", hub_root, methods=["GET"]),
        Route("/hub/", hub_root, methods=["GET"]),
        Route("/hub/login", login, methods=["GET", "POST"]),
        Route("/hub/logout", logout, methods=["GET", "POST"]),
        Route("/hub/home", home, methods=["GET"]),
        Route("/hub/spawn", spawn, methods=["POST"]),
        Route("/hub/stop", stop, methods=["POST"]),
        Route("/hub/spawn-pending/{name}", spawn_pending, methods=["GET"]),
        Route("/hub/spawn-pending/{name}/{server}", spawn_pending, methods=["GET"]),
        Route("/hub/admin", admin, methods=["GET"]),
        Route("/hub/admin/delete-user", admin_delete_user, methods=["POST"]),
        Route("/hub/admin/add-user", admin_add_user, methods=["POST"]),
        Route("/hub/metrics", metrics, methods=["GET"]),
        Route("/user/{name}", user_fallback),
        Route("/user/{name}/{path:path}", user_fallback),
    ]
    return routes


async def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    hub = hub_of(request)
    if hub.settings.authenticate_prometheus:
        principal = get_principal(request, required=False)
        if principal is None:
            return json_error(401, "The metrics need a token with the 'read:metrics' scope "
                                   "(Authorization: token <api token>), or an admin's login.")
        if not can(principal, "read:metrics"):
            return json_error(403, "Your credentials lack the scope 'read:metrics'.")
    hub.manager.refresh_gauges()
    return Response(generate_latest(hub.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def authenticator_routes(auth: Authenticator) -> list[Route]:
    """The authenticator's own routes under ``/hub`` (OAuth start and callback, ...).

    A login they complete comes back here as a :class:`CompletedLogin` and ends
    like every other: in :func:`finish_login`.
    """

    async def finish(request: Request, done: CompletedLogin) -> Response:
        return await finish_login(request, done.result, done.next_url)

    return login_routes(auth, finish)


__all__ = [
    "authenticator_routes", "error_page", "finish_login", "http_exception_handler", "page_routes",
    "render",
]
