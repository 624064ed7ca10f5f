"""Serving an authenticator's routes for the hub: the seam where a login becomes the hub's.

An authenticator's :class:`~bindery.hub.auth.base.LoginRoute` handlers answer with a
response (a redirect to the provider) or a :class:`~bindery.hub.auth.base.CompletedLogin`,
or raise :class:`~bindery.hub.auth.errors.LoginError`. :func:`login_routes` wraps them
into Starlette routes under ``/hub``: a completed login goes to the ``finish`` function
the hub passes in (user row, cookie, redirect), an error becomes a short page with
its status. So the authenticator never calls into the hub, and the hub never needs
to know how a provider works.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bindery.hub.auth.base import HUB_PREFIX, Authenticator, CompletedLogin, LoginStep
from bindery.hub.auth.errors import LoginError

#: The hub's part: turn a completed login into a session and a response.
FinishLogin = Callable[[Request, CompletedLogin], Awaitable[Response]]


def login_error_page(error: LoginError, retry_url: str) -> HTMLResponse:
    """What the person sees when a login cannot complete: what happened, and a way to start again."""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(error.title, quote=False)}</title></head><body>"
        f"<h1>{html.escape(error.title, quote=False)}</h1>"
        f"<p>{html.escape(error.message, quote=False)}</p>"
        f"<p><a href='{html.escape(retry_url)}'>Try logging in again</a></p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=error.status)


def login_routes(auth: Authenticator, finish: FinishLogin) -> list[Route]:
    """The authenticator's routes, mounted under ``/hub`` and wired to the hub's ``finish``."""
    return [
        Route(HUB_PREFIX + route.path, _serve(auth, route.endpoint, finish),
              methods=list(route.methods), name=route.name)
        for route in auth.routes()
    ]


def _serve(auth: Authenticator, endpoint: LoginStep, finish: FinishLogin) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            step = await endpoint(request)
        except LoginError as error:
            retry = auth.login_url(request.query_params.get("next", "")) or f"{HUB_PREFIX}/login"
            response: Response = login_error_page(error, retry)
        else:
            if not isinstance(step, CompletedLogin):
                return step
            response = await finish(request, step)
        auth.end_login(request, response)
        return response

    return handle
