"""``/hub/user-redirect/<path>``: a link that opens ``<path>`` in whoever clicks it's server.

JupyterHub's way to share a link to "the same notebook in your own server"
(``/hub/user-redirect/lab/tree/intro.ipynb`` → ``/user/<me>/lab/tree/intro.ipynb``).
Not logged in: the login page first, then back here.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bindery.hub.api.access import principal_from_cookie
from bindery.hub.api.errors import ApiError
from bindery.hub.context import hub_of


async def user_redirect(request: Request) -> Response:
    tail = request.path_params.get("path", "")
    if any(segment in (".", "..") for segment in tail.split("/")):
        raise ApiError(400, "The address contains '.' or '..' segments; use the plain path.")
    query = f"?{request.url.query}" if request.url.query else ""
    principal = principal_from_cookie(request)
    if principal is None or principal.user_name is None:
        here = f"/hub/user-redirect/{quote(tail)}{query}"
        return RedirectResponse(f"/hub/login?next={quote(here, safe='')}", status_code=302)
    target = hub_of(request).origins.server_url(principal.user_name) + quote(tail.lstrip("/")) \
        + query
    return RedirectResponse(target, status_code=302)


def user_redirect_routes() -> list[BaseRoute]:
    return [
        Route("/hub/user-redirect", user_redirect, methods=["GET"]),
        Route("/hub/user-redirect/{path:path}", user_redirect, methods=["GET"]),
    ]
