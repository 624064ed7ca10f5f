"""Error answers written for people: a small HTML page for browsers, JSON for programs.

The proxy is the first thing a user sees when their server is down or belongs to
someone else, so the answer says what happened and what to do, never a traceback.
"""

from __future__ import annotations

import html
import json

from aiohttp import web

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}}
h1{{font-size:1.4em}} code{{background:#f3f3f3;padding:0 .2em}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p><a href="/hub/home">Go to your hub home page</a></p>
</body></html>
"""


def wants_html(request: web.BaseRequest) -> bool:
    """Browsers navigating (``Accept: text/html``) get pages and redirects; others get JSON."""
    return "text/html" in request.headers.get("Accept", "")


def error_response(
    request: web.BaseRequest,
    status: int,
    title: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """One error answer in the form the client understands."""
    if wants_html(request):
        body = _PAGE.format(title=html.escape(title), message=html.escape(message))
        return web.Response(status=status, text=body, content_type="text/html", headers=headers)
    payload = {"status": status, "error": title, "message": message}
    return web.Response(
        status=status, text=json.dumps(payload), content_type="application/json", headers=headers
    )


def not_running(request: web.BaseRequest, path: str) -> web.Response:
    return error_response(
        request,
        503,
        "The server is not running",
        f"The server at {path} is not running or not answering. "
        "Start it again from the hub home page, or wait a few seconds and reload.",
    )


def no_route(request: web.BaseRequest) -> web.Response:
    return error_response(
        request,
        404,
        "Nothing here",
        f"No server is mapped at {request.path}. "
        "Check the link, or start your server from the hub.",
    )


def belongs_to_another_user(request: web.BaseRequest, owner: str) -> web.Response:
    return error_response(
        request,
        403,
        "This server belongs to another user",
        f"You are logged in, but this server belongs to {owner}. "
        "Open your own server from the hub home page.",
    )
